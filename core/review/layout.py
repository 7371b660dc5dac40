"""Where each of the eight views sits on screen, and which of them a case has.

The grid is injection (rows: I then V) by side and projection (columns: L-A, L-B, R-A,
R-B), so the two circulations read as two rows and a missing view leaves a visible hole
in the place a radiologist expects it, rather than shifting the others along.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.case import Case
from core.schema import view_info

__all__ = ["GRID_ROWS", "GRID_COLUMNS", "GridCell", "view_grid", "grid_cells", "column_label"]

#: Row keys: injection letter and what it shows.
GRID_ROWS: tuple[tuple[str, str], ...] = (
    ("I", "ICA injection (anterior)"),
    ("V", "vertebral injection (posterior)"),
)
#: Column keys: (side, projection).
GRID_COLUMNS: tuple[tuple[str, str], ...] = (("L", "A"), ("L", "B"), ("R", "A"), ("R", "B"))


def column_label(side: str, projection: str) -> str:
    """Header text of a grid column, e.g. ``Left · frontal``."""
    side_name = "Left" if side == "L" else "Right"
    return f"{side_name} · {'frontal' if projection == 'A' else 'lateral'}"


def view_grid() -> tuple[tuple[str, ...], ...]:
    """View names by row (injection) and column (side, projection)."""
    return tuple(
        tuple(f"{side}{inj}-{proj}" for side, proj in GRID_COLUMNS) for inj, _ in GRID_ROWS
    )


@dataclass(frozen=True)
class GridCell:
    """One view's place in the grid and what intake made of it."""

    view: str
    present: bool
    file: str | None  # source file name when present
    label: str  # long name, e.g. "left ICA injection, frontal"


def grid_cells(case: Case) -> list[list[GridCell]]:
    """The grid filled from a case: present views carry their file name."""
    return [
        [
            GridCell(
                view=v,
                present=v in case.views,
                file=case.views[v].source.name if v in case.views else None,
                label=view_info(v).label,
            )
            for v in row
        ]
        for row in view_grid()
    ]
