"""Limits checked before decoding, so that a hostile file cannot exhaust memory.

Every decoder reads its image's :class:`Geometry` from the header (DICOM tags, the PNG or
JPEG header through PIL, the inflated header of a deflated DICOM) and calls
:func:`check_geometry` before a pixel is decoded. It checks, in this order: a non-empty
size, the longest side, the pixels of one frame, the study's per-view cap when a study is
given, and the memory budget ``rows x columns x frames x samples x bytes per sample``.

Limits are read from :mod:`core.limits` at call time (not copied at import), so that one
setting governs intake, the zip reader and the upload widget, and tests can lower them.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import limits
from core.intake.errors import BadFile, TooLarge

__all__ = [
    "Geometry",
    "check_bytes",
    "check_dimensions",
    "check_geometry",
    "check_study_pixels",
]

_MIB = 2**20


@dataclass(frozen=True)
class Geometry:
    """What a header declares: enough to know the decode's memory before it happens.

    ``bits`` is bits allocated per sample; 1-bit data is unpacked to one byte per sample
    by every decoder used here, so a sample never counts less than a byte.
    """

    width: int
    height: int
    frames: int = 1
    samples: int = 1
    bits: int = 8

    @property
    def pixels(self) -> int:
        """Pixels of one frame."""
        return self.width * self.height

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded samples: rows x columns x frames x samples x bytes each."""
        return self.pixels * self.frames * self.samples * max(1, -(-self.bits // 8))


def check_bytes(name: str, size: int) -> None:
    """Refuse an empty file or one over ``MAX_FILE_BYTES``."""
    if size == 0:
        raise BadFile(name, "the file is empty")
    if size > limits.MAX_FILE_BYTES:
        raise TooLarge(
            name,
            f"the file is {size / _MIB:.1f} MiB; at most "
            f"{limits.MAX_FILE_BYTES / _MIB:.0f} MiB per file is accepted",
        )


def check_study_pixels(name: str, width: int, height: int, study: str) -> None:
    """Refuse one view larger than ``study``'s cap (:data:`core.limits.STUDY_MAX_PIXELS`).

    Called from the header, before decoding and so before preprocessing; the chest layout
    can call it with ``study="chest"`` on the size it reads from a header.
    """
    cap = limits.study_max_pixels(study)
    if width * height > cap:
        raise TooLarge(
            name,
            f"the image is {width}x{height} = {width * height / 1e6:.1f} MP; the {study} "
            f"study takes at most {cap / 1e6:.1f} MP ({cap:,} pixels) per view. "
            "It was not decoded.",
        )


def check_geometry(name: str, geo: Geometry, study: str | None = None) -> None:
    """Raise :class:`TooLarge` or :class:`BadFile` for a declared geometry we will not decode."""
    width, height, frames = geo.width, geo.height, geo.frames
    if width <= 0 or height <= 0:
        raise BadFile(name, f"the image declares an empty size ({width}x{height})")
    if frames < 1 or geo.samples < 1 or geo.bits < 1:
        raise BadFile(
            name,
            f"the image declares {frames} frames of {geo.samples} samples of {geo.bits} bits",
        )
    if max(width, height) > limits.MAX_SIDE:
        raise TooLarge(
            name,
            f"the image declares {width}x{height} pixels; the longest side allowed is "
            f"{limits.MAX_SIDE}. It was not decoded.",
        )
    if geo.pixels > limits.MAX_PIXELS:
        raise TooLarge(
            name,
            f"the image declares {width}x{height} = {geo.pixels:,} pixels; at most "
            f"{limits.MAX_PIXELS:,} are allowed. It was not decoded.",
        )
    if study is not None:
        check_study_pixels(name, width, height, study)
    if geo.nbytes > limits.MAX_DECODE_BYTES:
        run = f"{frames} frames of {width}x{height}" if frames > 1 else f"{width}x{height}"
        raise TooLarge(
            name,
            f"the image declares {run}, {geo.samples} sample(s) of {geo.bits} bits per "
            f"pixel: {geo.nbytes / _MIB:,.0f} MiB to decode; at most "
            f"{limits.MAX_DECODE_BYTES / _MIB:.0f} MiB are allowed. It was not decoded.",
        )


def check_dimensions(name: str, width: int, height: int, frames: int = 1) -> None:
    """:func:`check_geometry` for a grey 8-bit image (a header that gives only a size)."""
    check_geometry(name, Geometry(width, height, frames))
