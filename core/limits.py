"""Input limits, checked before any decoding so that a hostile file cannot exhaust memory.

One place so that intake, the zip reader and the Streamlit upload setting agree. Every
limit is read at call time (``limits.NAME``), never copied at import, so tests can lower
one with ``monkeypatch``.
"""

from __future__ import annotations

__all__ = [
    "MAX_DECODE_BYTES",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "MAX_ZIP_UNCOMPRESSED",
    "STUDY_MAX_PIXELS",
    "InputTooLarge",
    "study_max_pixels",
]

#: One uploaded file. A 30-frame 1024x1024 16-bit DSA run is about 60 MiB. Also the most a
#: deflated DICOM may inflate to.
MAX_FILE_BYTES = 128 * 1024 * 1024
#: Longest side of one decoded frame. Real DSA is at most ~2k; CR chest films ~4k.
MAX_SIDE = 8192
#: Pixels in one decoded frame, whatever the study (the per-study caps below are tighter).
MAX_PIXELS = 50_000_000
#: Memory budget of one decode: rows x columns x frames x samples per pixel x bytes per
#: sample, from the header, before any pixel is decoded. 256 MiB holds a 128-frame
#: 1024x1024 16-bit DSA run (real runs are 10-20 s at 3-7.5 frames/s, so at most ~150
#: frames of 1024x1024, mostly fewer), a 9 MP 16-bit chest film 14 times over, and a
#: 4 MP RGB JPEG 20 times over. It counts what the decoder allocates (a multi-frame
#: DICOM's whole stack; one frame of a PNG or JPEG, the only one read); the conversion to
#: 8-bit grey then adds a few float32 frames, so one decode stays well under 512 MiB and a
#: few concurrent uploads fit a 4 GiB server. Bigger declared sizes are refused unread.
MAX_DECODE_BYTES = 256 * 1024 * 1024
#: Pixels in one view (one frame), per study, checked from the header before decoding and
#: so before preprocessing, whose cost grows with the pixel count (a 49 MP PNG took 5 s
#: and ~1 GB). Real images are about half the cap:
#:
#: - ``aneurysm``: a DSA view is 1-2 MP (1024x1024 to ~1240x1240; K-Ium JPEGs are under
#:   1.2 MP). Cap 2048x2048 = 4,194,304 pixels (4.2 MP).
#: - ``chest``: a CR/DX chest film is about 9 MP (VinBigData: ~2.5k-3k a side, 0.1-0.15 mm
#:   pixels over a 35x43 cm detector). Cap 4096x4096 = 16,777,216 pixels (16.8 MP).
STUDY_MAX_PIXELS: dict[str, int] = {"aneurysm": 2048 * 2048, "chest": 4096 * 4096}
#: Members of an uploaded zip: eight views plus a little slack for sidecar files. Read
#: from the zip's end-of-central-directory record, before its index is parsed.
MAX_ZIP_MEMBERS = 64
#: Uncompressed bytes across a zip's members.
MAX_ZIP_UNCOMPRESSED = 512 * 1024 * 1024
#: Largest compression ratio for one member; images do not compress 200-fold, bombs do.
MAX_ZIP_RATIO = 200


class InputTooLarge(ValueError):
    """A file, image or archive exceeds one of the limits above."""


def study_max_pixels(study: str) -> int:
    """The per-view pixel cap of ``study`` (a key of :data:`STUDY_MAX_PIXELS`).

    Raises ``KeyError`` naming the known studies: a study without a stated cap is a
    programming error, not an input error.
    """
    try:
        return STUDY_MAX_PIXELS[study]
    except KeyError:
        raise KeyError(
            f"no pixel cap for study {study!r}; known: {sorted(STUDY_MAX_PIXELS)}"
        ) from None
