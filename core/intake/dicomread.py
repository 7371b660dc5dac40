"""Part-10 DICOM bytes -> a pydicom ``Dataset``, with the memory budget checked from the
header before any pixel is decoded.

The header's geometry (rows, columns, frames, samples per pixel, bits allocated) goes
through :func:`~core.intake.guards.check_geometry`; for compressed syntaxes (JPEG,
JPEG-LS, JPEG 2000) each frame's codestream must declare that same size
(:mod:`core.intake.codestream`), since the decoder allocates what the codestream says.

*Deflated Explicit VR Little Endian* (1.2.840.10008.1.2.1.99) is never handed to pydicom
whole: pydicom inflates it with one ``zlib.decompress``, so under 1 MiB became about
1 GiB before any check. Here the file meta is read as it is stored (group 0002 is never
deflated), then the dataset is inflated through :class:`~core.intake.inflate.Inflater` in
growing steps until pydicom's own element walk reaches the pixel data; the geometry is
checked from that header, and the rest is inflated only up to what the header declares
(plus 64 KiB for trailing elements). A bomb is refused after a few KiB of output; a file
labelled Deflated whose data is not deflate gets a reason, not an exception.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import read_dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from core import limits
from core.intake.codestream import check_codestreams
from core.intake.errors import BadFile
from core.intake.guards import Geometry, check_geometry
from core.intake.inflate import Inflater

__all__ = ["DICOM_ERRORS", "header_geometry", "read_dicom", "read_dicom_header"]

#: What pydicom, its plugins and zlib raise on malformed input. All are specific: our own
#: code raises :class:`~core.intake.errors.IntakeError`, which callers re-raise first.
#: ``ArithmeticError`` covers an ``IS`` of ``1e400`` (``OverflowError`` in ``int``).
DICOM_ERRORS: tuple[type[Exception], ...] = (
    InvalidDicomError, BytesLengthException, OSError, EOFError, ValueError, LookupError,
    AttributeError, TypeError, ArithmeticError, NotImplementedError, RuntimeError,
    struct.error, zlib.error,
)  # fmt: skip
_REQUIRED = ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation")
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # float, double, PixelData
_PIXEL_HEAD = 12  # tag, VR, reserved and 32-bit length of an OB/OW element
#: First inflated prefix searched for the pixel data; it grows fourfold up to the cap.
_HEADER_START, _HEADER_CAP = 16 * 1024, 4 * 1024 * 1024
#: Inflated bytes allowed after the pixel data (overlays, padding, signatures are small).
_TRAILER = 64 * 1024


def header_geometry(name: str, ds: Dataset) -> Geometry:
    """The decode's geometry from the header; :class:`BadFile` when a needed tag is missing.

    ``PALETTE COLOR`` counts four samples: the stored index and the RGB it expands to.
    """
    missing = [k for k in _REQUIRED if ds.get(k) in (None, "")]
    if missing:
        raise BadFile(name, f"the DICOM lacks {', '.join(missing)}, needed to read its pixels")
    samples = int(ds.get("SamplesPerPixel") or 1)
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        samples = 4
    frames = int(ds.get("NumberOfFrames") or 1)
    return Geometry(int(ds.Columns), int(ds.Rows), frames, samples, int(ds.BitsAllocated))


def _meta(data: bytes) -> tuple[FileMetaDataset, int]:
    """The file meta group (always explicit VR little endian) and where the dataset starts."""
    fp = io.BytesIO(data)
    fp.seek(132)  # preamble and "DICM", checked by the caller
    group = read_dataset(fp, False, True, stop_when=lambda tag, vr, length: tag >> 16 != 2)
    return FileMetaDataset(group), fp.tell()


def _pixel_start(prefix: bytes) -> tuple[Dataset, int] | None:
    """The elements before the pixel data and its offset, once ``prefix`` reaches it."""
    fp = io.BytesIO(prefix)
    with warnings.catch_warnings():  # a cut element is expected here: the prefix grows
        warnings.simplefilter("ignore")
        head = read_dataset(fp, False, True, stop_when=lambda tag, vr, n: tag in _PIXEL_TAGS)
    at = fp.tell()
    if len(prefix) - at < 4:
        return None
    group, element = struct.unpack_from("<HH", prefix, at)
    return (head, at) if (group << 16 | element) in _PIXEL_TAGS else None


def _inflate(name: str, data: bytes, start: int, study: str | None, whole: bool) -> bytes:
    """The inflated dataset (``whole``) or only its part before the pixel data."""
    hint = "; the file is labelled Deflated Explicit VR Little Endian, but is not deflated"
    inflater = Inflater(memoryview(data)[start:], name, "its deflated data", hint)
    body, want, found = b"", _HEADER_START, None
    while found is None and not inflater.exhausted and len(body) < _HEADER_CAP:
        body += inflater.take(min(want, _HEADER_CAP) - len(body))
        found = _pixel_start(body)
        want *= 4
    if found is None:
        if not inflater.exhausted:
            raise BadFile(name, f"no pixel data in the first {_HEADER_CAP:,} bytes of the "
                                "inflated DICOM; refused unread")  # fmt: skip
        return body
    head, at = found
    if not whole:
        return body[:at]
    geo = header_geometry(name, head)
    check_geometry(name, geo, study)
    declared = at + _PIXEL_HEAD + geo.nbytes + 1 + _TRAILER
    if declared > limits.MAX_FILE_BYTES:
        return body + inflater.rest(limits.MAX_FILE_BYTES, "the per-file limit")
    return body + inflater.rest(declared, "what its header declares")


def _dataset(name: str, data: bytes, study: str | None, whole: bool) -> tuple[Dataset, list[str]]:
    meta, start = _meta(data)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=not whole), []
    body = io.BytesIO(_inflate(name, data, start, study, whole))
    ds = FileDataset(body, read_dataset(body, False, True), data[:128], meta, False, True)
    return ds, ["inflated from Deflated Explicit VR Little Endian"]


def read_dicom(
    name: str, data: bytes, study: str | None = None
) -> tuple[Dataset, Geometry, list[str]]:
    """The dataset, its checked geometry and notes; raises :class:`BadFile` / :class:`TooLarge`
    for an image we will not decode, or one of :data:`DICOM_ERRORS` for a malformed file.

    ``study`` adds that study's per-view pixel cap to the checks.
    """
    ds, notes = _dataset(name, data, study, whole=True)
    if "PixelData" not in ds:
        raise BadFile(
            name, "the DICOM holds no pixel data (not an image, or the file is cut short)"
        )
    geo = header_geometry(name, ds)
    check_geometry(name, geo, study)
    check_codestreams(name, ds, geo.frames)
    return ds, geo, notes


def read_dicom_header(name: str, data: bytes) -> Dataset:
    """The elements before the pixel data, decoding nothing, inflating only that far.

    For header reads outside the decoder (the chest layout reads ``Rows``/``Columns``):
    ``dcmread(..., stop_before_pixels=True)`` still inflates a deflated file whole.
    """
    return _dataset(name, data, None, whole=False)[0]
