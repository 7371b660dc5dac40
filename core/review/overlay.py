"""Heatmap compositing: colour scaled CAM maps and blend them onto a view.

The CAM engine gives raw maps at the hooked layer's resolution; :mod:`core.cam.mapping`
scales a set of them (per view or shared) and places one in original image coordinates.
Everything here is pure array work on those maps, so moving an opacity slider, switching
the colour scale or enlarging a view never touches a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Mapping

import cv2
import numpy as np

from core.cam.mapping import Scale, scale_maps, to_original
from core.case import Case, PreprocessRecord
from core.models.result import CaseResult, ViewCam
from core.review.drawing import to_rgb

__all__ = [
    "SCALE_CAPTIONS",
    "HeatmapSettings",
    "fit",
    "letterbox",
    "colourise",
    "composite",
    "overlay_view",
    "case_overlays",
    "colour_bar",
    "OverlayLayers",
    "display_base",
    "overlay_layers",
    "case_bases",
    "case_layers",
    "blend",
    "encode_jpeg",
]

SCALE_CAPTIONS: dict[Scale, str] = {
    "shared": "Shared scale: every view is divided by the largest CAM value of the case, so "
    "a hotter colour means stronger evidence on any view and a weak view looks weak.",
    "per_view": "Per-view scale: each map is normalised to its own maximum, so every view "
    "shows its own hottest spot in red and colours cannot be compared across views.",
}
_COLORMAP = cv2.COLORMAP_TURBO


@dataclass(frozen=True)
class HeatmapSettings:
    """What the reader chose on the page; the export and the report record the same."""

    target: str
    method: str
    opacity: float
    scale: Scale


def fit(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink so that the longer side is at most ``max_side`` (never enlarges; None: as is)."""
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def letterbox(image: np.ndarray, width: int, height: int, fill: int = 14) -> np.ndarray:
    """Fit inside ``width`` x ``height`` and pad with a dark border, so that a grid of views
    of different aspect ratios lines up (RGB ``uint8`` out)."""
    h, w = image.shape[:2]
    s = min(width / w, height / h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    # Resized before the grey -> RGB step: channels resize independently, so the picture
    # is the same, from a third of the pixels (a 1000² view: ~2 ms instead of ~6).
    small = to_rgb(cv2.resize(image, size, interpolation=interp))
    out = np.full((height, width, 3), fill, np.uint8)
    y0, x0 = (height - size[1]) // 2, (width - size[0]) // 2
    out[y0 : y0 + size[1], x0 : x0 + size[0]] = small
    return out


def colourise(map01: np.ndarray) -> np.ndarray:
    """A ``[0, 1]`` map -> HxWx3 RGB ``uint8`` in the turbo colour map."""
    u8 = np.round(np.clip(map01, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, _COLORMAP), cv2.COLOR_BGR2RGB)


def composite(image: np.ndarray, map01: np.ndarray, opacity: float) -> np.ndarray:
    """Blend a ``[0, 1]`` map onto a grey or RGB image of the same size.

    The blend weight is ``opacity * map``, so where the map is cold the angiogram shows
    through untouched; a flat colour wash would hide the vessels the map is about.
    """
    if map01.shape != image.shape[:2]:
        raise ValueError(f"map {map01.shape} does not match image {image.shape[:2]}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    base = to_rgb(image).astype(np.float32)
    alpha = (opacity * np.clip(map01, 0.0, 1.0)).astype(np.float32)[..., None]
    out = base * (1.0 - alpha) + colourise(map01).astype(np.float32) * alpha
    return np.round(out).astype(np.uint8)


def overlay_view(
    original: np.ndarray,
    scaled_map: np.ndarray,
    record: PreprocessRecord,
    opacity: float,
    max_side: int | None = None,
) -> np.ndarray:
    """One view's overlay: a scaled layer-resolution map placed on the original image.

    The map is placed at full resolution (0 outside the crop, which the model never saw)
    and both are shrunk together to ``max_side`` for display.
    """
    heat = to_original(scaled_map, record)
    if heat.shape != original.shape[:2]:
        raise ValueError(
            f"preprocessing record size {record.original_size} does not match the image "
            f"{original.shape[1]}x{original.shape[0]}"
        )
    return composite(fit(original, max_side), fit(heat, max_side), opacity)


def case_overlays(
    case: Case,
    result: CaseResult,
    cams: Mapping[str, ViewCam],
    settings: HeatmapSettings,
    max_side: int | None,
    views: Collection[str] | None = None,
) -> dict[str, np.ndarray]:
    """Overlays for the case's views (or only ``views``); a view without a map for the
    target shows the plain image.

    Maps are always scaled as the whole set, so an enlarged view keeps the colours it has
    in the grid under the shared scale.
    """
    names = [v for v in cams if v in result.views]
    scaled = dict(zip(names, scale_maps([cams[v].raw for v in names], settings.scale)))
    out = {}
    for view, r in result.views.items():
        if views is not None and view not in views:
            continue
        pixels = case.views[view].pixels
        if view in scaled:
            out[view] = overlay_view(pixels, scaled[view], r.record, settings.opacity, max_side)
        else:
            out[view] = fit(pixels, max_side)
    return out


@dataclass(frozen=True)
class OverlayLayers:
    """One view's overlay on a display canvas, split so that an opacity change is one blend.

    ``base`` is the letterboxed view (RGB, :func:`display_base`), ``colour`` the
    colourised map on the same canvas and ``weight`` the map itself as ``uint8`` (0 = no
    evidence, and 0 outside the crop); both None when the view has no map. The arrays are
    read-only: the page caches them and shares them across reruns.
    """

    base: np.ndarray
    colour: np.ndarray | None
    weight: np.ndarray | None


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def display_base(original: np.ndarray, width: int, height: int) -> np.ndarray:
    """:func:`letterbox` as a read-only array: a view's base for every map shown on it."""
    return _frozen(letterbox(original, width, height))


def overlay_layers(
    base: np.ndarray, scaled_map: np.ndarray | None, record: PreprocessRecord
) -> OverlayLayers:
    """The layers of ``letterbox(composite(original, map))`` on ``base``'s canvas.

    ``base`` is :func:`display_base` of the original that ``record`` describes. The
    layer-resolution map is resized straight into the crop's box on that canvas, instead
    of to the full original first and then down again: the same picture (bilinear either
    way) for a fraction of the pixels, so a new colour scale or target costs milliseconds
    per view. With ``base`` at the original's own size it is the full-resolution overlay.
    ``scaled_map`` None: the view has no map for the target.
    """
    if scaled_map is None:
        return OverlayLayers(base, None, None)
    height, width = base.shape[:2]
    w, h = record.original_size
    s = min(width / w, height / h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    ox, oy = (width - size[0]) // 2, (height - size[1]) // 2
    sx, sy = size[0] / w, size[1] / h
    x0, y0, x1, y1 = record.crop
    bx0, by0 = ox + round(x0 * sx), oy + round(y0 * sy)
    bx1, by1 = max(bx0 + 1, ox + round(x1 * sx)), max(by0 + 1, oy + round(y1 * sy))
    box = cv2.resize(
        np.clip(scaled_map, 0.0, 1.0).astype(np.float32),
        (bx1 - bx0, by1 - by0),
        interpolation=cv2.INTER_LINEAR,
    )
    weight = np.zeros((height, width), np.uint8)
    weight[by0:by1, bx0:bx1] = np.round(box * 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(weight, _COLORMAP), cv2.COLOR_BGR2RGB)
    return OverlayLayers(base, _frozen(colour), _frozen(weight))


def _check_size(original: np.ndarray, record: PreprocessRecord) -> None:
    h, w = original.shape[:2]
    if record.original_size != (w, h):
        raise ValueError(
            f"preprocessing record size {record.original_size} does not match the image {w}x{h}"
        )


def case_layers(
    result: CaseResult,
    cams: Mapping[str, ViewCam],
    scale: Scale,
    bases: Mapping[str, np.ndarray],
) -> dict[str, OverlayLayers]:
    """:func:`overlay_layers` for each view of ``bases`` (from :func:`case_bases`), the maps
    scaled as the whole set (as :func:`case_overlays` does, so an enlarged view keeps the
    colours it has in the grid)."""
    names = [v for v in cams if v in result.views]
    scaled = dict(zip(names, scale_maps([cams[v].raw for v in names], scale)))
    return {
        view: overlay_layers(base, scaled.get(view), result.views[view].record)
        for view, base in bases.items()
    }


def case_bases(
    case: Case,
    result: CaseResult,
    width: int | None,
    height: int | None,
    views: Collection[str] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`display_base` of the result's views (or only ``views``) at ``width`` x
    ``height``; None: each at its own full size."""
    out = {}
    for view, r in result.views.items():
        if views is not None and view not in views:
            continue
        pixels = case.views[view].pixels
        _check_size(pixels, r.record)
        h, w = pixels.shape[:2]
        out[view] = display_base(pixels, width or w, height or h)
    return out


def blend(layers: OverlayLayers, opacity: float) -> np.ndarray:
    """The overlay at ``opacity``: :func:`composite`'s blend (weight ``opacity * map``) of
    the cached layers, one OpenCV pass."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    if layers.weight is None or layers.colour is None or opacity == 0.0:
        return layers.base.copy()
    alpha = layers.weight.astype(np.float32) * np.float32(opacity / 255.0)
    return cv2.blendLinear(layers.base, layers.colour, 1.0 - alpha, alpha)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """RGB ``uint8`` -> JPEG bytes for display: a few ms for a grid cell where Streamlit's
    default PNG of a full-resolution overlay takes tens, and a fraction of the bytes."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])  # fmt: skip
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {rgb.shape}")
    return buf.tobytes()


def colour_bar(width: int = 256, height: int = 10) -> np.ndarray:
    """A horizontal legend strip of the colour map, cold on the left."""
    ramp = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    return colourise(ramp)
