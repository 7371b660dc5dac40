"""A DSA run stored as single-frame images -> the one multi-frame file a scanner could write.

Many angiography systems store a run as one single-frame instance per frame in one series.
The intake reduces a multi-frame image with the frame rule (:mod:`core.intake.frames`); to
give such a run exactly that treatment, rather than a second path, its images are stacked
into one multi-frame Part-10 file: their stored values in frame order (the caller's order:
InstanceNumber, then acquisition time, then position), under the first image's header, so
its Modality and VOI LUTs apply to every frame as they do in a multi-frame run. The intake
then reads that file like any other, with every guard.

Each image is read by the intake's guarded reader (:func:`core.intake.dicomread.read_dicom`),
and the run as a whole is checked against the decode budget before any pixel is decoded.
Images that store their pixels differently (size, bits, signedness, photometric
interpretation, rescale) are not one run and are refused with that reason.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array

from core.intake.dicomread import DICOM_ERRORS, header_geometry, read_dicom
from core.intake.errors import BadFile, IntakeError
from core.intake.guards import check_geometry

__all__ = ["SAME_IN_A_RUN", "stack_run"]

#: What every image of a run must share to be frames of one image.
SAME_IN_A_RUN = (
    "Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated",
    "BitsStored", "PixelRepresentation", "RescaleSlope", "RescaleIntercept",
)  # fmt: skip


def _read(name: str, parts: Sequence[bytes], study: str | None) -> list[Dataset]:
    datasets = []
    for n, data in enumerate(parts, start=1):
        ds, geo, _ = read_dicom(f"{name} image {n}", data, study)
        if geo.frames != 1:
            raise BadFile(name, f"image {n} of the run has {geo.frames} frames, not one")
        datasets.append(ds)
    for key in SAME_IN_A_RUN:
        if len({str(ds.get(key)) for ds in datasets}) > 1:
            raise BadFile(
                name, f"the run's {len(datasets)} images differ in {key}; they are not one run"
            )
    return datasets


def stack_run(name: str, parts: Sequence[bytes], study: str | None = None) -> bytes:
    """One multi-frame Part-10 file from a run's single-frame files, in the order given.

    Raises :class:`~core.intake.errors.BadFile` or ``TooLarge`` with a reason for the
    reader, as the intake does for one file.
    """
    try:
        datasets = _read(name, parts, study)
        first = datasets[0]
        check_geometry(name, replace(header_geometry(name, first), frames=len(datasets)), study)
        frames = np.stack([pixel_array(ds) for ds in datasets])
    except IntakeError:
        raise
    except DICOM_ERRORS as err:
        raise BadFile(
            name, f"an image of the run could not be read ({type(err).__name__}); it may be corrupt"
        ) from err
    photometric = str(first.PhotometricInterpretation)
    if photometric.startswith("YBR") and frames.ndim == 4:  # pydicom hands YBR back as RGB
        photometric = "RGB"
    first.set_pixel_data(frames, photometric, int(first.get("BitsStored") or first.BitsAllocated))
    out = io.BytesIO()
    first.save_as(out, enforce_file_format=True)
    return out.getvalue()
