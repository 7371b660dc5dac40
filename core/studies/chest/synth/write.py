"""Files of one synthetic film: its VinBigData-like id, the DICOM, and the 512-px PNG.

The DICOM carries what the intake must cope with in real VinBigData files (DX or CR,
MONOCHROME1/2, 12-16 stored bits, signed or unsigned, rescale, a VOI window for some,
Pixel Spacing for some) and *no real identifier*: the patient is ``SYNTHETIC^CHEST`` with
an id made from the image id, there are no dates, and every UID is derived from the image
id under pydicom's UID root, so the same seed writes byte-identical files.

The PNG is what the popular public 512-px copies are: the film as displayed (VOI window,
MONOCHROME1 inverted), 8 bits, resized to 512 x 512 without keeping the aspect ratio, with
the original size kept in ``sizes.csv`` to map boxes back. It is made by decoding the
DICOM with the project's own reader (:func:`core.intake.dicom.decode_dicom`), so PNG and
DICOM intake show a film identically.
"""

from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

from core.intake.dicom import decode_dicom
from core.studies.chest.synth.film import Film

__all__ = ["PNG_SIZE", "dicom_bytes", "display_pixels", "image_id", "png_bytes"]

PNG_SIZE = 512


def image_id(seed: int, index: int) -> str:
    """A 32-hex-digit id like VinBigData's, fixed by (seed, index)."""
    return hashlib.md5(f"chest-synth/{seed}/{index}".encode()).hexdigest()


def _uid(image: str, part: str) -> str:
    return generate_uid(entropy_srcs=["chest-synth", image, part])


def _dataset(stored: np.ndarray, film: Film, window: tuple[float, float] | None,
             image: str) -> Dataset:  # fmt: skip
    sop_class = (DigitalXRayImageStorageForPresentation if film.modality == "DX"
                 else ComputedRadiographyImageStorage)  # fmt: skip
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid(image, "instance")
    ds.StudyInstanceUID = _uid(image, "study")
    ds.SeriesInstanceUID = _uid(image, "series")
    ds.PatientName = "SYNTHETIC^CHEST"
    ds.PatientID = f"SYN-{image[:12]}"
    ds.Modality = film.modality
    ds.Manufacturer = "SYNTHETIC"
    ds.SeriesDescription = "Synthetic chest PA - not a patient"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]  # columns run to the patient's left, rows to the feet
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.set_pixel_data(stored, film.photometric, film.bits_stored, generate_instance_uid=False)
    if film.modality == "DX":
        ds.PresentationLUTShape = "INVERSE" if film.photometric == "MONOCHROME1" else "IDENTITY"
    ds.RescaleSlope, ds.RescaleIntercept = (f"{v:g}" for v in film.rescale)
    ds.RescaleType = "US"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = (f"{v:g}" for v in window)
        ds.VOILUTFunction = film.voi_function
    if film.pixel_spacing is not None:
        ds.PixelSpacing = [f"{film.pixel_spacing:g}"] * 2
        if film.modality == "DX":
            ds.ImagerPixelSpacing = [f"{film.pixel_spacing:g}"] * 2
    return ds


def dicom_bytes(
    stored: np.ndarray, film: Film, window: tuple[float, float] | None, image: str
) -> bytes:
    """A Part-10 file (Explicit VR Little Endian) of the stored pixels."""
    buf = io.BytesIO()
    _dataset(stored, film, window, image).save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def display_pixels(data: bytes, name: str = "film.dicom") -> np.ndarray:
    """The film as the app shows it: ``uint8``, low values dark, through the intake reader."""
    pixels, _ = decode_dicom(name, data)
    return pixels


def png_bytes(display: np.ndarray) -> bytes:
    """The 512 x 512 8-bit PNG copy of a displayed film."""
    small = cv2.resize(display, (PNG_SIZE, PNG_SIZE), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", small)
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()
