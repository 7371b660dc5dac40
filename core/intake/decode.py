"""One entry point from file bytes to a grey ``uint8`` image, shared by both studies.

The format comes from the content, never the name: JPEG and PNG by their signatures,
DICOM by the Part-10 ``DICM`` marker after its 128-byte preamble. DICOM without the
preamble is refused rather than parsed by force, because forcing pydicom onto arbitrary
bytes is a guess. The byte size is checked before anything else.
"""

from __future__ import annotations

import numpy as np

from core.case import SourceInfo
from core.intake.dicom import decode_dicom
from core.intake.errors import BadFile
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.intake.guards import check_bytes
from core.intake.raster import decode_raster

__all__ = ["sniff_format", "decode_image"]

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


def sniff_format(data: bytes) -> str | None:
    """``'jpeg'``, ``'png'``, ``'dicom'`` or None, from the first bytes."""
    if data.startswith(_JPEG):
        return "jpeg"
    if data.startswith(_PNG):
        return "png"
    if data[128:132] == b"DICM":
        return "dicom"
    return None


def decode_image(
    name: str, data: bytes, frame_rule: FrameRule = DEFAULT_FRAME_RULE
) -> tuple[np.ndarray, SourceInfo]:
    """Decode one image file to ``uint8`` HxW grey (low values dark) and where it came from.

    ``name`` is used only in messages and ``SourceInfo.name``; pass a base name. Raises
    :class:`~core.intake.errors.BadFile` or :class:`~core.intake.errors.TooLarge` with a
    user-facing message.
    """
    check_bytes(name, len(data))
    fmt = sniff_format(data)
    if fmt == "dicom":
        return decode_dicom(name, data, frame_rule)
    if fmt in ("jpeg", "png"):
        return decode_raster(name, data, fmt)  # type: ignore[arg-type]
    raise BadFile(name, "not a JPEG, PNG or DICOM image (the content matches none of them)")
