"""Named circulation groupings a bundle can be trained with.

``original``: the original pipeline (PCOM with the posterior circulation).
``view-shows``: each base location in the circulation whose views show it, read off
:data:`core.schema.VIEW_SHOWS` (PCOM with the anterior views). A training label is only
learnable from views that show the aneurysm, so on data drawn after ``VIEW_SHOWS`` (the
synthetic cohorts) the original grouping asks the posterior model to find PCOM aneurysms
on vertebral views where none is drawn.
"""

from __future__ import annotations

from core.schema import BASE_LOCATIONS, ORIGINAL_GROUPS, VIEW_SHOWS, CirculationGroups, view_info

__all__ = ["groups_from_view_shows", "GROUPINGS"]


def groups_from_view_shows() -> CirculationGroups:
    """Anterior = bases shown by an I view, posterior = by a V view (in BASE_LOCATIONS order).

    Raises ``SchemaError`` (from :class:`CirculationGroups`) if a base were shown by both.
    """
    shown: dict[str, set[str]] = {"anterior": set(), "posterior": set()}
    for view, bases in VIEW_SHOWS.items():
        shown[view_info(view).circulation].update(bases)
    return CirculationGroups(
        anterior=tuple(b for b in BASE_LOCATIONS if b in shown["anterior"]),
        posterior=tuple(b for b in BASE_LOCATIONS if b in shown["posterior"]),
    )


GROUPINGS: dict[str, CirculationGroups] = {
    "original": ORIGINAL_GROUPS,
    "view-shows": groups_from_view_shows(),
}
