"""Tiny image, DICOM and zip files written in memory for the intake tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    XRayAngiographicImageStorage,
    generate_uid,
)

from core.schema import VIEWS

#: Identifiers that must never leave the DICOM loader.
PATIENT_NAME = "Doe^Janeway"
PATIENT_ID = "PID-7731-SECRET"


def ramp(h: int = 24, w: int = 32, hi: int = 255, dtype: type = np.uint8) -> np.ndarray:
    """A left-to-right ramp from 0 to ``hi``: distinct values, easy to reason about."""
    row = np.linspace(0, hi, w).round().astype(dtype)
    return np.repeat(row[np.newaxis], h, axis=0)


def jpeg(arr: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(arr: np.ndarray, mode: str | None = None) -> bytes:
    """PNG of ``arr``; uint16 2-D arrays become 16-bit grey PNGs."""
    buf = io.BytesIO()
    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr, mode)
    img.save(buf, "PNG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width x height`` over a few bytes of pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes(width + 1))  # one row, far short of the declared image
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 header is patched to declare ``width x height``."""
    data = bytearray(jpeg(ramp(8, 8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def dicom(
    arr: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    syntax: str = ExplicitVRLittleEndian,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    identifiers: bool = True,
) -> bytes:
    """A Part-10 XA DICOM of ``arr`` (HxW or FxHxW), optionally compressed by pydicom."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = XRayAngiographicImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = XRayAngiographicImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "XA"
    if identifiers:
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = "19700101"
        ds.StudyDate = "20240102"
    bits = bits_stored or arr.dtype.itemsize * 8
    ds.set_pixel_data(arr, photometric, bits)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if syntax == RLELossless:
        ds.compress(RLELossless)
    elif syntax == JPEG2000Lossless:
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    elif syntax == JPEGBaseline8Bit:  # no pydicom encoder: PIL encodes, pydicom encapsulates
        frames = arr if arr.ndim == 3 else arr[np.newaxis]
        ds.PixelData = encapsulate([jpeg(f, quality=98) for f in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def dicom_claiming(rows: int, cols: int, frames: int = 1) -> bytes:
    """A DICOM whose header declares ``rows x cols x frames`` over a tiny pixel buffer."""
    ds = dcmread(io.BytesIO(dicom(ramp(4, 4))))
    ds.Rows, ds.Columns = rows, cols
    if frames > 1:
        ds.NumberOfFrames = frames
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def view_files(prefix: str = "1428", arr: np.ndarray | None = None) -> list[tuple[str, bytes]]:
    """Eight JPEG views named ``{prefix}{View}.jpg``; each view a different brightness."""
    base = ramp() if arr is None else arr
    return [(f"{prefix}{v}.jpg", jpeg(np.clip(base // 2 + 10 * i, 0, 255).astype(np.uint8)))
            for i, v in enumerate(VIEWS)]  # fmt: skip


def zip_of(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()
