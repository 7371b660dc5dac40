"""Input limits, checked before any decoding so that a hostile file cannot exhaust memory.

One place so that intake, the zip reader and the Streamlit upload setting agree.
"""

from __future__ import annotations

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_SIDE",
    "MAX_PIXELS",
    "MAX_TOTAL_PIXELS",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_UNCOMPRESSED",
    "MAX_ZIP_RATIO",
    "InputTooLarge",
]

#: One uploaded file. A 30-frame 1024x1024 16-bit DSA run is about 60 MiB.
MAX_FILE_BYTES = 128 * 1024 * 1024
#: Longest side of one decoded frame. Real DSA is at most ~2k; CR chest films ~4k.
MAX_SIDE = 8192
#: Pixels in one decoded frame.
MAX_PIXELS = 50_000_000
#: Pixels across all frames of a multi-frame file, before reduction to one frame.
MAX_TOTAL_PIXELS = 400_000_000
#: Members of an uploaded zip: eight views plus a little slack for sidecar files.
MAX_ZIP_MEMBERS = 64
#: Uncompressed bytes across a zip's members.
MAX_ZIP_UNCOMPRESSED = 512 * 1024 * 1024
#: Largest compression ratio for one member; images do not compress 200-fold, bombs do.
MAX_ZIP_RATIO = 200


class InputTooLarge(ValueError):
    """A file, image or archive exceeds one of the limits above."""
