"""Error galleries of the chest cohort page, and opening a film on the film-review page.

Per class and kind (false positives by score, false negatives by readers' agreement), a
page of crops with the box drawn (:func:`core.studies.chest.cohort.galleries.box_crop`,
memoised per film file, box and kind). "Open" hands the film, its folder and the box to
the film-review page (:mod:`ui.chest.handover`) and the current what-if thresholds to the
sidebar (``session_key("chest", OPEN_CASE_THRESHOLDS)``), as the aneurysm cohort page does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.cohort import OPEN_CASE_THRESHOLDS
from core.models.thresholds import Thresholds
from core.studies.chest.classes import ALL_LABELS, BOX_COLUMNS
from core.studies.chest.cohort.galleries import box_crop, error_list, page_of
from core.studies.chest.cohort.scoring import ScoredCohort
from core.studies.chest.cohort.whatif import ChestWhatIf
from core.studies.chest.layout import image_path
from ui.bundle import session_key
from ui.chest.handover import FILM_PAGE, FilmHandover, send_film

__all__ = ["PER_PAGE", "galleries"]

#: Crops per gallery page.
PER_PAGE = 8
_ROOT = Path(__file__).resolve().parent.parent.parent
_KINDS = {"FP": "False positives (by score)", "FN": "False negatives (by readers' agreement)"}


@st.cache_data(max_entries=512, show_spinner=False)
def _crop(
    path: str, mtime_ns: int, size: tuple[int, int], box: tuple[float, ...], kind: str
) -> np.ndarray:
    """One crop; ``mtime_ns`` makes a rewritten film a new entry."""
    return box_crop(Path(path), size, box, kind)  # type: ignore[arg-type]


def _open(cohort_dir: Path, image_id: str, box: tuple[float, ...], thresholds: Thresholds) -> None:
    """Hand the film and the thresholds over, then go to the film-review page (or stay, with
    a note, while that page does not exist yet)."""
    st.session_state[session_key("chest", OPEN_CASE_THRESHOLDS)] = thresholds.to_dict()
    film = FilmHandover(str(image_path(cohort_dir, image_id)), image_id, str(cohort_dir),
                        tuple(float(v) for v in box))  # type: ignore[arg-type]  # fmt: skip
    ready = (_ROOT / FILM_PAGE).is_file()
    send_film(film, switch=ready)
    if not ready:
        st.info("The film-review page is not installed; the film is queued for it.")


def galleries(
    scored: ScoredCohort, result: ChestWhatIf, cohort_dir: Path, thresholds: Thresholds
) -> None:
    """A class and kind picker, then a page of crops, each with an Open button."""
    counts = {c: (int(result.per_class.iloc[c]["fp"]), int(result.per_class.iloc[c]["fn"]))
              for c in range(len(ALL_LABELS))}  # fmt: skip
    left, mid, right = st.columns([3, 3, 1])
    c = left.selectbox("Class", range(len(ALL_LABELS)), key="cc_gal_class",
                       format_func=lambda i: f"{ALL_LABELS[i]} ({counts[i][0]} FP, {counts[i][1]} FN)")  # fmt: skip
    kind = mid.radio("Errors", list(_KINDS), key="cc_gal_kind", horizontal=True,
                     format_func=_KINDS.get)  # fmt: skip
    errors = error_list(scored, int(c), int(result.kept[c]), str(kind))
    pages = max((len(errors) - 1) // PER_PAGE + 1, 1)
    if int(st.session_state.get("cc_gal_page", 1)) > pages:
        st.session_state["cc_gal_page"] = pages  # fewer errors at new thresholds
    page = int(right.number_input("Page", 1, pages, 1, key="cc_gal_page")) - 1
    if errors.empty:
        st.caption("None at these thresholds.")
        return
    sizes = scored.films.sizes
    st.caption(f"{len(errors)} {kind}, page {page + 1} of {pages}. Open: the film on the "
               "film-review page, this box in focus, these thresholds.")  # fmt: skip
    cols = st.columns(4)
    for n, (i, row) in enumerate(page_of(errors, page, PER_PAGE).iterrows()):
        image_id = str(row["image_id"])
        box = tuple(float(row[b]) for b in BOX_COLUMNS)
        path = image_path(cohort_dir, image_id)
        size = (int(sizes.loc[image_id, "width"]), int(sizes.loc[image_id, "height"]))
        with cols[n % 4]:
            st.image(_crop(str(path), path.stat().st_mtime_ns, size, box, str(kind)),
                     caption=f"{image_id[:10]}… · {row['score']:.2f}")  # fmt: skip
            if st.button("Open", key=f"cc_open_{kind}_{c}_{i}", width="stretch"):
                _open(cohort_dir, image_id, box, thresholds)
