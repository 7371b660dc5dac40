"""JPEG and PNG to one ``uint8`` grey image, with the size checked before any decoding.

``PIL.Image.open`` reads only the header, so the declared geometry (width, height, the
mode's samples and bytes per sample) is checked against :mod:`core.limits`, including the
memory budget and the study's per-view cap, before ``load()``. PIL's own
decompression-bomb guard (which fires in ``open`` for images far beyond its limit) is
caught and reported the same way; PIL's global limit is left alone because it is
process-wide and our limits are stricter anyway.

Only the first frame is read. An animated PNG (APNG) or a multi-picture JPEG (MPO) says
so: ``SourceInfo.frames`` is the declared count, ``frame_rule`` and a note say that the
others were not read, so nothing is dropped without a word.

Modes: ``L`` as stored; 16-bit grey (``I;16``/``I``) stretched by its actual range (see
:mod:`core.intake.pixels`); everything else goes through RGB, or RGBA when the file has
transparency, then BT.601 luma.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.case import SourceInfo
from core.intake.errors import BadFile, TooLarge
from core.intake.guards import Geometry, check_geometry
from core.intake.pixels import composite_over_white, luminance, to_uint8, value_range

__all__ = ["decode_raster", "raster_geometry"]

RasterFormat = Literal["jpeg", "png"]
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG"}
_ANIMATED = {"jpeg": "multi-picture JPEG", "png": "animated PNG"}
#: What PIL raises on malformed headers and data besides ``OSError`` (which includes
#: ``UnidentifiedImageError``): its PNG chunk checks raise ``SyntaxError``, struct and zlib
#: errors escape some plugins, ``EOFError`` a cut stream.
_PIL_ERRORS = (SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)
#: Bits per sample of PIL modes that are not 8-bit.
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}


def _open(name: str, data: bytes, fmt: RasterFormat) -> Image.Image:
    label = fmt.upper()
    try:
        return Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[fmt]])
    except Image.DecompressionBombError as err:
        raise TooLarge(
            name, f"the {label} declares far too many pixels; it was not decoded"
        ) from err
    except UnidentifiedImageError as err:  # its text is only the stream's repr
        raise BadFile(name, f"the {label} header is damaged or cut short") from err
    except (OSError, *_PIL_ERRORS) as err:
        raise BadFile(name, f"the {label} header is damaged or cut short ({err})") from err


def _load(name: str, img: Image.Image, fmt: RasterFormat) -> None:
    label = fmt.upper()
    try:
        img.load()
    except OSError as err:
        if "truncated" in str(err).lower():
            raise BadFile(name, f"the {label} is truncated (file ends early)") from err
        raise BadFile(name, f"the {label} data is corrupt ({err})") from err
    except _PIL_ERRORS as err:  # PIL's PNG chunk checks raise SyntaxError
        raise BadFile(name, f"the {label} data is corrupt ({err})") from err


def _to_grey(img: Image.Image) -> tuple[np.ndarray, int, tuple[str, ...]]:
    """Pixels as uint8 grey, the source bit depth, and notes on what was converted."""
    mode = img.mode
    if mode == "L":
        return np.asarray(img, dtype=np.uint8), 8, ()
    if mode.startswith("I"):  # 16-bit (or 32-bit integer) grey
        arr = np.asarray(img)
        lo, hi = value_range(arr)
        return (
            to_uint8(arr, lo, hi),
            16,
            (f"16-bit grey scaled by its actual range {lo:g}..{hi:g}",),
        )
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
    rgb = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    notes = [f"{mode} converted to grey by BT.601 luminance"]
    if has_alpha:
        if rgb[..., 3].min() < 255:
            notes.append("transparent pixels composited over white")
        grey = luminance(composite_over_white(rgb))
    else:
        grey = luminance(rgb)
    return to_uint8(grey, 0.0, 255.0), (1 if mode == "1" else 8), tuple(notes)


def raster_geometry(img: Image.Image) -> Geometry:
    """What decoding the first frame allocates: size, the mode's bands and bits per band.

    Only one frame is decoded, so other frames of an APNG or MPO do not count.
    """
    width, height = img.size
    samples = 4 if img.mode in ("P", "PA") else len(img.getbands())  # index, then RGB(A)
    return Geometry(width, height, 1, samples, _MODE_BITS.get(img.mode, 8))


def _frames(img: Image.Image, fmt: RasterFormat) -> tuple[int, str | None, tuple[str, ...]]:
    """Declared frames, the frame rule and a note; the note says what was not read."""
    count = int(getattr(img, "n_frames", 1) or 1)
    if count <= 1:
        return 1, None, ()
    others = f"{count - 1} frames" if count > 2 else "frame"
    rule = f"first frame only; the other {others} of the {_ANIMATED[fmt]} were not read"
    return count, rule, (f"{_ANIMATED[fmt]} with {count} frames: only the first was read",)


def decode_raster(
    name: str, data: bytes, fmt: RasterFormat, *, study: str | None = None
) -> tuple[np.ndarray, SourceInfo]:
    """Decode a JPEG or PNG held in memory; raises :class:`BadFile` / :class:`TooLarge`.

    ``study`` adds that study's per-view pixel cap (:data:`core.limits.STUDY_MAX_PIXELS`).
    """
    with _open(name, data, fmt) as img:
        check_geometry(name, raster_geometry(img), study)
        try:
            frames, rule, frame_notes = _frames(img, fmt)
        except (OSError, *_PIL_ERRORS) as err:  # MPO counts its pictures from the header
            raise BadFile(name, f"the {fmt.upper()} header is damaged ({err})") from err
        _load(name, img, fmt)
        pixels, bits, notes = _to_grey(img)
        info = SourceInfo(name=name, format=fmt, bit_depth=bits, photometric=img.mode,
                          frames=frames, frame_rule=rule, notes=frame_notes + notes)  # fmt: skip
    return pixels, info
