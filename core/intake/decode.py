"""One entry point from file bytes to a grey ``uint8`` image, shared by both studies.

The format comes from the content, never the name: JPEG and PNG by their signatures,
DICOM by the Part-10 ``DICM`` marker after its 128-byte preamble. DICOM without the
preamble is refused rather than parsed by force, because forcing pydicom onto arbitrary
bytes is a guess. Other formats we recognise (GIF, TIFF, a zip...) are refused by name,
so the reason says what the file is. The byte size is checked before anything else; the
decoders check the declared geometry (and ``study``'s per-view cap) before decoding.
"""

from __future__ import annotations

import numpy as np

from core.case import SourceInfo
from core.intake.dicom import decode_dicom
from core.intake.errors import BadFile
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.intake.guards import check_bytes
from core.intake.raster import decode_raster

__all__ = ["decode_image", "sniff_format"]

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
#: Signatures of formats we do not read, so that the reason can name them.
_OTHER = {
    b"GIF87a": "a GIF image", b"GIF89a": "a GIF image", b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image", b"BM": "a BMP image", b"PK\x03\x04": "a zip archive",
    b"\x00\x00\x00\x0cjP  ": "a JPEG 2000 file (outside DICOM)",
    b"\xff\x4f\xff\x51": "a JPEG 2000 codestream (outside DICOM)",
}  # fmt: skip


def sniff_format(data: bytes) -> str | None:
    """``'jpeg'``, ``'png'``, ``'dicom'`` or None, from the first bytes."""
    if data.startswith(_JPEG):
        return "jpeg"
    if data.startswith(_PNG):
        return "png"
    if data[128:132] == b"DICM":
        return "dicom"
    return None


def _what(data: bytes) -> str:
    """What a file we do not read is, for the message."""
    if data[8:12] == b"WEBP" and data.startswith(b"RIFF"):
        return "a WebP image"
    return next((what for sig, what in _OTHER.items() if data.startswith(sig)), "")


def decode_image(
    name: str,
    data: bytes,
    frame_rule: FrameRule = DEFAULT_FRAME_RULE,
    *,
    study: str | None = None,
) -> tuple[np.ndarray, SourceInfo]:
    """Decode one image file to ``uint8`` HxW grey (low values dark) and where it came from.

    ``name`` is used only in messages and ``SourceInfo.name``; pass a base name. ``study``
    (a key of :data:`core.limits.STUDY_MAX_PIXELS`) adds that study's per-view pixel cap.
    Raises :class:`~core.intake.errors.BadFile` or :class:`~core.intake.errors.TooLarge`
    with a user-facing message, and nothing else for any content.
    """
    check_bytes(name, len(data))
    fmt = sniff_format(data)
    if fmt == "dicom":
        return decode_dicom(name, data, frame_rule, study=study)
    if fmt in ("jpeg", "png"):
        return decode_raster(name, data, fmt, study=study)  # type: ignore[arg-type]
    if what := _what(data):
        raise BadFile(name, f"{what}; only JPEG, PNG and DICOM files are read")
    raise BadFile(name, "not a JPEG, PNG or DICOM image (the content matches none of them)")
