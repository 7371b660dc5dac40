"""The film as a plotly figure: zoom and pan, boxes coloured by class with their scores,
readers' and fused truth boxes when shown, a drawn box, and box-select to draw a new one.

Axes are the film's original pixels (y down), whatever the size of the picture sent to
the browser: a large film is shrunk to :data:`DISPLAY_SIDE` for the picture only, so
every coordinate the reader sees, selects or types is an original pixel.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import plotly.graph_objects as go

from core.studies.chest.review.palette import DRAWN_COLOUR, TRUTH_COLOUR, class_colour

__all__ = ["DISPLAY_SIDE", "DrawnBox", "box_from_selection", "drawn_box", "film_figure"]

#: Longest side of the picture sent to the browser.
DISPLAY_SIDE = 1024
_GRID = 24  # invisible points per side that box-select can catch

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class DrawnBox:
    """A box on the figure: corners (original pixels), class, caption, and style."""

    box: Box
    label: str
    text: str
    dash: str = "solid"  # plotly line dash: solid (model), dash (reader), dot (truth)
    colour: str | None = None


def _png_uri(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _shrunk(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    f = DISPLAY_SIDE / max(h, w)
    if f >= 1:
        return rgb
    return cv2.resize(
        rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
    )


def focus_view(box: Box, original_size: tuple[int, int]) -> tuple[list[float], list[float]]:
    """The x and y ranges that show ``box`` in its surroundings: three times its size on
    each axis, at least a quarter of the film, centred on it and kept inside the film (a
    reader judges a box against what is around it, not its own pixels alone)."""
    ranges = []
    for lo, hi, full in ((box[0], box[2], original_size[0]), (box[1], box[3], original_size[1])):
        side = min(max(3.0 * (hi - lo), 0.25 * full), float(full))
        start = min(max((lo + hi) / 2 - side / 2, 0.0), full - side)
        ranges.append([start, start + side])
    (x0, x1), (y0, y1) = ranges
    return [x0, x1], [y1, y0]  # y runs down the film


def film_figure(
    rgb: np.ndarray,
    original_size: tuple[int, int],
    boxes: Sequence[DrawnBox] = (),
    *,
    focus: Box | None = None,
    height: int = 720,
) -> go.Figure:
    """The figure of one film (``rgb`` HxWx3 ``uint8``, already windowed and overlaid),
    in original pixels ``original_size = (width, height)``, boxes on top."""
    ow, oh = original_size
    pic = _shrunk(rgb)
    fig = go.Figure()
    fig.add_layout_image(
        source=_png_uri(pic), xref="x", yref="y", x=0, y=0, sizex=ow, sizey=oh,
        sizing="stretch", layer="below",
    )  # fmt: skip
    gx, gy = np.meshgrid(np.linspace(0, ow, _GRID), np.linspace(0, oh, _GRID))
    fig.add_trace(go.Scatter(
        x=gx.ravel(), y=gy.ravel(), mode="markers", marker={"opacity": 0, "size": 4},
        hoverinfo="skip", showlegend=False, name="film",
    ))  # fmt: skip
    for b in boxes:
        colour = b.colour or (TRUTH_COLOUR if b.dash == "dot" else class_colour(b.label))
        x0, y0, x1, y1 = b.box
        fig.add_shape(type="rect", x0=x0, y0=y0, x1=x1, y1=y1,
                      line={"color": colour, "width": 2, "dash": b.dash})  # fmt: skip
        fig.add_annotation(
            x=x0, y=y0, text=b.text, showarrow=False, xanchor="left", yanchor="bottom",
            font={"color": "#000", "size": 11}, bgcolor=colour, opacity=0.9,
        )  # fmt: skip
    xr, yr = focus_view(focus, original_size) if focus else ([0, ow], [oh, 0])
    fig.update_xaxes(range=xr, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=yr, showgrid=False, zeroline=False, scaleanchor="x")
    fig.update_layout(
        height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0}, dragmode="zoom",
        plot_bgcolor="#000", showlegend=False,
    )  # fmt: skip
    return fig


def drawn_box(box: Box, label: str) -> DrawnBox:
    """The reviewer's drawn box, for the figure."""
    return DrawnBox(box, label, f"drawn: {label}", "dash", DRAWN_COLOUR)


def box_from_selection(selection: Mapping | None, size: tuple[int, int]) -> Box | None:
    """The box of a plotly box-select (Streamlit's ``selection["box"]``), clipped to the
    film and ordered ``x0 < x1, y0 < y1``; None when there is no usable box."""
    if not selection:
        return None
    found = selection.get("box") or []
    if not found:
        return None
    last = found[-1]
    try:
        xs = [float(v) for v in last["x"]]
        ys = [float(v) for v in last["y"]]
    except (KeyError, TypeError, ValueError):
        return None
    w, h = size
    x0, x1 = (min(max(v, 0.0), w) for v in sorted(xs[:2]))
    y0, y1 = (min(max(v, 0.0), h) for v in sorted(ys[:2]))
    return (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)) if x1 > x0 and y1 > y0 else None
