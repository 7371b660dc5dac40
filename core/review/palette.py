"""The decision states a location can be in, and the one colour each gets everywhere.

The bar chart, the schematic, the table and the HTML report all read from here, so a
flagged location is the same red on every surface.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Status", "STATUSES", "STATUS_COLOURS", "STATUS_LABELS", "THRESHOLD_COLOUR"]

#: ``flagged``: at or above its threshold. ``clear``: below it. ``gated``: decided 0
#: because the patient score was below the stage-1 threshold. ``unseen``: no view that
#: shows the location was supplied (a partial case).
Status = Literal["flagged", "clear", "gated", "unseen"]
STATUSES: tuple[Status, ...] = ("flagged", "clear", "gated", "unseen")
STATUS_COLOURS: dict[Status, str] = {
    "flagged": "#ff5a5f",
    "clear": "#4fa3ff",
    "gated": "#7c8594",
    "unseen": "#3a404c",
}
STATUS_LABELS: dict[Status, str] = {
    "flagged": "above threshold",
    "clear": "below threshold",
    "gated": "gated by stage 1",
    "unseen": "no view supplied",
}
THRESHOLD_COLOUR = "#f5f5f5"
