"""The size a compressed DICOM frame declares in its own codestream, checked before decoding.

The memory budget is checked from the DICOM header, but a JPEG, JPEG-LS or JPEG 2000
decoder allocates what the *codestream* declares: a few KiB of JPEG 2000 can declare
30000x30000 under a header that says 64x64. So the first fragment of every frame is read
for its size (the JPEG ``SOFn`` segment, the JPEG 2000 ``SIZ`` marker, inside a JP2 box if
there is one) and must match the header's columns, rows and samples per pixel; a frame
whose size cannot be read is refused too, since its decoder would find one. Syntaxes whose
decoder sizes its output from the header (RLE, native) need no check.
"""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset
from pydicom.encaps import generate_fragmented_frames
from pydicom.uid import JPEG2000TransferSyntaxes, JPEGLSTransferSyntaxes, JPEGTransferSyntaxes

from core.intake.errors import BadFile

__all__ = ["check_codestreams", "declared_size"]

#: JPEG start-of-frame markers (SOF0-SOF15 without DHT, JPG, DAC) and JPEG-LS SOF55.
_SOF = frozenset({*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xF7})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field
_JP2 = b"\x00\x00\x00\x0cjP  "
#: Syntaxes whose decoder allocates what the codestream declares.
_CHECKED = frozenset((*JPEGTransferSyntaxes, *JPEGLSTransferSyntaxes, *JPEG2000TransferSyntaxes))


def _jpeg(src: bytes) -> tuple[int, int, int] | None:
    at = 2  # after SOI
    while at + 4 <= len(src):
        if src[at] != 0xFF:
            return None
        marker = src[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker in _SOF:
            if at + 10 > len(src):
                return None
            height, width, comps = struct.unpack_from(">HHB", src, at + 5)
            return width, height, comps
        at += 2 + struct.unpack_from(">H", src, at + 2)[0]
    return None


def _j2k(src: bytes) -> tuple[int, int, int] | None:
    at = 0
    if src.startswith(_JP2):  # boxes until the contiguous codestream box "jp2c"
        at = 12
        while at + 8 <= len(src) and src[at + 4 : at + 8] != b"jp2c":
            length = struct.unpack_from(">I", src, at)[0]
            if length < 8:
                return None
            at += length
        at += 8
    if src[at : at + 4] != b"\xff\x4f\xff\x51" or at + 42 > len(src):
        return None
    xsiz, ysiz, xo, yo = struct.unpack_from(">4I", src, at + 8)
    comps = struct.unpack_from(">H", src, at + 40)[0]
    return xsiz - xo, ysiz - yo, comps


def declared_size(frame: bytes) -> tuple[int, int, int] | None:
    """``(width, height, components)`` a JPEG/JPEG-LS/JPEG 2000 codestream declares, or None
    when ``frame`` is none of them (or too short to say)."""
    if frame.startswith(b"\xff\xd8"):
        return _jpeg(frame)
    return _j2k(frame)


def check_codestreams(name: str, ds: Dataset, frames: int) -> None:
    """Refuse a compressed frame whose codestream declares another size than the header."""
    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("TransferSyntaxUID") not in _CHECKED:
        return
    header = (int(ds.Columns), int(ds.Rows), int(ds.get("SamplesPerPixel") or 1))
    parts = generate_fragmented_frames(ds.PixelData, number_of_frames=frames)
    for i, fragments in enumerate(parts, start=1):
        size = declared_size(fragments[0]) if fragments else None
        if size is None:
            raise BadFile(name, f"frame {i}'s compressed image does not say its size; "
                                "refused before decoding")  # fmt: skip
        if size != header:
            raise BadFile(
                name,
                f"frame {i}'s compressed image declares {size[0]}x{size[1]} with {size[2]} "
                f"components, the DICOM header {header[0]}x{header[1]} with {header[2]}; "
                "refused before decoding",
            )
