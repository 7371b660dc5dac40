"""Opening a film on the chest film-review page from elsewhere (the cohort page's error
galleries, a sample): one session-state entry, written by the sender and taken once by
the film-review page, so a later rerun never reopens it over the reader's own upload.

Thresholds travel separately, through the sidebar's hand-over key
(``session_key("chest", OPEN_CASE_THRESHOLDS)`` in :mod:`ui.bundle`), exactly as the
aneurysm cohort page hands its what-if thresholds to the case page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import streamlit as st

__all__ = ["FILM_PAGE", "OPEN_FILM", "FilmHandover", "send_film", "take_film"]

#: The film-review page's script, as declared by the chest study.
FILM_PAGE = "pages/chest_case.py"
#: Session-state key of a pending hand-over.
OPEN_FILM = "chest_open_film"


@dataclass(frozen=True)
class FilmHandover:
    """Which film to open: its file (inside the data roots), its image id, the labelled
    folder it came from (so readers' boxes and the fused truth can be shown), and a box to
    focus on (``(x0, y0, x1, y1)`` original pixels, or None)."""

    path: str
    image_id: str
    cohort_dir: str | None = None
    focus: tuple[float, float, float, float] | None = None


def send_film(film: FilmHandover, *, switch: bool = True) -> None:
    """Queue ``film`` for the film-review page and, with ``switch``, go there."""
    st.session_state[OPEN_FILM] = asdict(film)
    if switch:
        st.switch_page(FILM_PAGE)


def take_film() -> FilmHandover | None:
    """The queued film, removed from the queue (None when nothing was sent)."""
    raw = st.session_state.pop(OPEN_FILM, None)
    if not isinstance(raw, dict):
        return None
    focus = raw.get("focus")
    return FilmHandover(
        path=str(raw["path"]),
        image_id=str(raw["image_id"]),
        cohort_dir=None if raw.get("cohort_dir") is None else str(raw["cohort_dir"]),
        focus=None if focus is None else tuple(float(v) for v in focus),  # type: ignore[arg-type]
    )
