"""JPEG and PNG to one ``uint8`` grey image, with the size checked before any decoding.

``PIL.Image.open`` reads only the header, so the declared size is checked against
:mod:`core.limits` before ``load()``. PIL's own decompression-bomb guard (which fires in
``open`` for images far beyond its limit) is caught and reported the same way; PIL's global
limit is left alone because it is process-wide and our limits are stricter anyway.

Modes: ``L`` as stored; 16-bit grey (``I;16``/``I``) stretched by its actual range (see
:mod:`core.intake.pixels`); everything else goes through RGB, or RGBA when the file has
transparency, then BT.601 luma.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.case import SourceInfo
from core.intake.errors import BadFile, TooLarge
from core.intake.guards import check_dimensions
from core.intake.pixels import composite_over_white, luminance, to_uint8, value_range

__all__ = ["decode_raster"]

RasterFormat = Literal["jpeg", "png"]
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG"}


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
    except OSError as err:
        raise BadFile(name, f"the {label} header is damaged or cut short ({err})") from err


def _load(name: str, img: Image.Image, fmt: RasterFormat) -> None:
    label = fmt.upper()
    try:
        img.load()
    except OSError as err:
        if "truncated" in str(err).lower():
            raise BadFile(name, f"the {label} is truncated (file ends early)") from err
        raise BadFile(name, f"the {label} data is corrupt ({err})") from err
    except (SyntaxError, ValueError) as err:  # PIL's PNG chunk checks raise these
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


def decode_raster(name: str, data: bytes, fmt: RasterFormat) -> tuple[np.ndarray, SourceInfo]:
    """Decode a JPEG or PNG held in memory; raises :class:`BadFile` / :class:`TooLarge`."""
    with _open(name, data, fmt) as img:
        width, height = img.size
        check_dimensions(name, width, height)
        _load(name, img, fmt)
        pixels, bits, notes = _to_grey(img)
        info = SourceInfo(name=name, format=fmt, bit_depth=bits, photometric=img.mode, notes=notes)
    return pixels, info
