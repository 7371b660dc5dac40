"""Downloads on the film page: JSON, CSV, the HTML report and its PDF, and the reviewed
boxes as COCO.

Each is a deferred callable: built when its button is clicked, from the one film-review
record (thresholds, window and heatmap as shown). The COCO file reads this film's latest
stored verdicts of this bundle at click time.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from core.review.pdf import pdf_unavailable
from core.studies.chest.review.export import film_coco_json, film_csv, film_json, film_pdf
from core.studies.chest.review.report import film_report
from core.studies.chest.review.reviewed import FilmReview
from core.verdicts import VerdictStoreError
from ui.cohort.reviewer import verdict_store

__all__ = ["export_panel", "review_verdicts"]


def review_verdicts(review: FilmReview) -> list:
    """This film's latest stored verdicts made against this bundle ([] when unavailable)."""
    case, result = review.reviewed.case, review.result
    try:
        stored = verdict_store().latest(case.content_hash())
    except VerdictStoreError:
        return []
    mine = [v for v in stored if v.bundle_hash == result.bundle_sha256]
    return sorted(mine, key=lambda v: (v.created_at, v.id))


def export_panel(review: FilmReview) -> None:
    """Five download buttons; file names are a digest of the film, never its name."""
    stem = "film_" + hashlib.sha256(review.reviewed.case.content_hash().encode()).hexdigest()[:12]
    st.caption(
        "Numbers as JSON or CSV, a report as HTML or PDF (film with boxes, findings, summary, "
        "heatmap as shown, bundle and threshold set), and the reviewed boxes as COCO JSON "
        "with each box's verdict."
    )
    c1, c2, c3, c4, c5 = st.columns(5)
    common = {"on_click": "ignore", "icon": ":material/download:"}
    c1.download_button(
        "Numbers (JSON)",
        lambda: film_json(review),
        f"{stem}.json",
        "application/json",
        key="chest_dl_json",
        **common,
    )
    c2.download_button(
        "Numbers (CSV)",
        lambda: film_csv(review),
        f"{stem}.csv",
        "text/csv",
        key="chest_dl_csv",
        **common,
    )
    c3.download_button(
        "Report (HTML)",
        lambda: film_report(review),
        f"{stem}.html",
        "text/html",
        key="chest_dl_html",
        **common,
    )
    if (no_pdf := pdf_unavailable()) is not None:
        c4.caption(no_pdf)
    else:
        c4.download_button(
            "Report (PDF)",
            lambda: film_pdf(review),
            f"{stem}.pdf",
            "application/pdf",
            key="chest_dl_pdf",
            **common,
        )
    c5.download_button(
        "Reviewed boxes (COCO)",
        lambda: film_coco_json(review, review_verdicts(review)),
        f"{stem}_coco.json",
        "application/json",
        key="chest_dl_coco",
        **common,
    )
