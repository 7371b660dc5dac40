"""Which film of a PACS study a one-film study (the chest study) reads, with the reason.

Every CR/DX image is a candidate for the study's one view; a frontal film (``ViewPosition``
PA or AP) comes first, then series order. :func:`core.pacs.mapping.map_views` gives the
view to the first and names it as taken for every other, so the reader sees which film
was used and can pick another. Registered as the chest study's view rule
(``PacsHooks.views``) by :mod:`core.studies.chest`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from core.pacs.inventory import Instance

__all__ = ["FRONTAL", "film_views"]

#: View positions of a frontal chest film, preferred over a lateral one.
FRONTAL = ("PA", "AP")


def film_views(
    films: Sequence[Instance], view: str = "image"
) -> Iterator[tuple[Instance, str | None, str]]:
    """The films, frontal first, each for ``view`` with its modality and position."""
    ordered = sorted(films, key=lambda i: (i.view_position not in FRONTAL, i.series_number or 0))
    for inst in ordered:
        position = f", {inst.view_position}" if inst.view_position else ""
        yield inst, view, f"{inst.modality} film{position}"
