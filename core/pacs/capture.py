"""Secondary Capture images of the heatmap overlays, stamped "NOT FOR DIAGNOSTIC USE".

Each capture is an RGB Secondary Capture (highdicom ``SCImage.from_ref_dataset``) made
from its source image's header, so it carries the source study's patient and study
modules and files into the same study, and names its source image in the Source Image
Sequence. The warning is burned into the pixels (a black band across the top, white
text), not only into a tag, so it survives any viewer, screenshot or print;
``BurnedInAnnotation`` is ``YES``. ``PatientOrientation`` is copied from the source when it
has one and left empty otherwise: an overlay of a lateral view must not claim a frontal
orientation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from core.pacs.sr import MANUFACTURER, SR_SERIES_NUMBER

__all__ = ["WARNING", "build_captures", "stamp"]

#: Burned into every capture.
WARNING = "NOT FOR DIAGNOSTIC USE"
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_ORIENTATIONS = set("LRAPHF")


def stamp(rgb: np.ndarray, text: str = WARNING) -> np.ndarray:
    """``rgb`` with a black band on top holding ``text`` in white, sized to the width."""
    out = np.ascontiguousarray(rgb.copy())
    h, w = out.shape[:2]
    (tw, th), base = cv2.getTextSize(text, _FONT, 1.0, 2)
    scale = max(0.3, 0.8 * w / tw)
    thick = max(1, round(2 * scale))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    band = min(h, th + base + 2 * max(4, round(0.02 * h)))
    out[:band] = 0
    cv2.putText(out, text, ((w - tw) // 2, (band + th) // 2), _FONT, scale,
                (255, 255, 255), thick, cv2.LINE_AA)  # fmt: skip
    return out


def _orientation(src: Dataset) -> tuple[str, str] | None:
    value = list(src.get("PatientOrientation") or [])
    if len(value) == 2 and all(v and set(str(v)) <= _ORIENTATIONS for v in value):
        return str(value[0]), str(value[1])
    return None


def _reference(image: Dataset) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    return ref


def build_captures(
    pictures: Mapping[str, np.ndarray],
    sources: Mapping[str, Dataset],
    how: str,
    runs: Mapping[str, Sequence[Dataset]] | None = None,
) -> list[Dataset]:
    """One stamped SC image per view of ``pictures`` (RGB ``uint8``), from ``sources[view]``;
    its Source Image Sequence names every image of the view (``runs[view]``: a run stored
    as single-frame images), else ``sources[view]`` alone."""
    series_uid = generate_uid()
    out = []
    for n, (view, rgb) in enumerate(pictures.items(), start=1):
        src = sources[view]
        orientation = _orientation(src)
        sc = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=src, pixel_array=stamp(rgb), photometric_interpretation="RGB",
            bits_allocated=8, coordinate_system="PATIENT", series_instance_uid=series_uid,
            series_number=SR_SERIES_NUMBER + 1, sop_instance_uid=generate_uid(),
            instance_number=n, manufacturer=MANUFACTURER,
            patient_orientation=orientation or ("L", "F"),
        )  # fmt: skip
        if orientation is None:
            sc.PatientOrientation = None  # type 2: present and empty means unknown
        sc.BurnedInAnnotation = "YES"
        sc.SeriesDescription = f"AI heatmaps - {WARNING}"
        sc.ImageComments = WARNING
        sc.DerivationDescription = f"heatmap overlay, {how}"[:1024]
        sc.SourceImageSequence = [_reference(image) for image in (runs or {}).get(view, [src])]
        out.append(sc)
    return out
