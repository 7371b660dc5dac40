"""Limits checked before decoding, so that a hostile file cannot exhaust memory.

Limits are read from :mod:`core.limits` at call time (not copied at import), so that one
setting governs intake, the zip reader and the upload widget, and tests can lower them.
"""

from __future__ import annotations

from core import limits
from core.intake.errors import BadFile, TooLarge

__all__ = ["check_bytes", "check_dimensions"]


def check_bytes(name: str, size: int) -> None:
    """Refuse an empty file or one over ``MAX_FILE_BYTES``."""
    if size == 0:
        raise BadFile(name, "the file is empty")
    if size > limits.MAX_FILE_BYTES:
        raise TooLarge(
            name,
            f"the file is {size / 2**20:.1f} MiB; at most "
            f"{limits.MAX_FILE_BYTES / 2**20:.0f} MiB per file is accepted",
        )


def check_dimensions(name: str, width: int, height: int, frames: int = 1) -> None:
    """Raise :class:`TooLarge` or :class:`BadFile` for declared sizes we will not decode."""
    if width <= 0 or height <= 0:
        raise BadFile(name, f"the image declares an empty size ({width}x{height})")
    if max(width, height) > limits.MAX_SIDE:
        raise TooLarge(
            name,
            f"the image declares {width}x{height} pixels; the longest side allowed is "
            f"{limits.MAX_SIDE}. It was not decoded.",
        )
    if width * height > limits.MAX_PIXELS:
        raise TooLarge(
            name,
            f"the image declares {width}x{height} = {width * height:,} pixels; at most "
            f"{limits.MAX_PIXELS:,} are allowed. It was not decoded.",
        )
    if width * height * frames > limits.MAX_TOTAL_PIXELS:
        raise TooLarge(
            name,
            f"the run declares {frames} frames of {width}x{height}; at most "
            f"{limits.MAX_TOTAL_PIXELS:,} pixels in all are allowed. It was not decoded.",
        )
