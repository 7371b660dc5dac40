"""One fixed colour per chest class, for the viewer and the report.

Okabe-Ito's colour-blind-safe set (black left out: invisible on a film) and Paul Tol's
muted set fill the 14 classes; no palette of 14 is safe for every kind of colour
blindness, so every box also carries its class name and score as text.
"""

from __future__ import annotations

from core.studies.chest.classes import CLASSES

__all__ = ["CLASS_COLOURS", "DRAWN_COLOUR", "TRUTH_COLOUR", "class_colour", "rgb"]

_COLOURS = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    "#88CCEE", "#44AA99", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
)  # fmt: skip
#: class name -> hex colour.
CLASS_COLOURS: dict[str, str] = dict(zip(CLASSES, _COLOURS, strict=True))
#: Colour of a reader's box drawn as truth, and of a box the reviewer drew.
TRUTH_COLOUR, DRAWN_COLOUR = "#FFFFFF", "#FF00FF"


def class_colour(label: str) -> str:
    """The class's colour (white for anything else)."""
    return CLASS_COLOURS.get(label, TRUTH_COLOUR)


def rgb(colour: str) -> tuple[int, int, int]:
    """``#RRGGBB`` as an RGB tuple."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
