"""A reviewed film's numbers as JSON and CSV, its report as PDF, and its reviewed boxes
as COCO JSON.

The JSON is the common record (:func:`core.review.export.export_dict`: notice, case with
file names as digests, bundle identity, threshold set, the result's ``to_dict``) plus the
window and the heatmap shown. The CSV is long (``section, item, field, value``): the
summary, then every finding with its box and size in mm. Nothing here reads a DICOM tag:
the film's pixels and technical tags are all a chest export holds, never an identifier.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.review.export import export_dict
from core.review.pdf import PageSize, html_to_pdf
from core.review.redact import file_token, short_id
from core.studies.chest.review.coco_review import VerdictLike, reviewed_coco
from core.studies.chest.review.heatmaps import METHOD_LIMITS
from core.studies.chest.review.report import film_report
from core.studies.chest.review.result import no_finding_score
from core.studies.chest.review.reviewed import FilmReview
from core.studies.chest.review.table import findings_table

__all__ = ["film_dict", "film_json", "film_csv", "film_pdf", "film_coco_json", "summary_rows"]


def _heat(review: FilmReview) -> dict[str, Any] | None:
    req = review.heat_request
    if req is None or review.heat is None:
        return None
    return {"method": req.method, "role": req.role, "label": req.label,
            "box": None if req.box is None else list(req.box), "opacity": review.opacity,
            "limits": METHOD_LIMITS.get(req.method, "")}  # fmt: skip


def film_dict(review: FilmReview) -> dict[str, Any]:
    """The JSON-ready record of one reviewed film."""
    w = review.window
    return export_dict(review.reviewed) | {
        "heatmaps": _heat(review),
        "window": {"centre": w.centre, "width": w.width},
        "pixel_spacing_mm": None if review.film.pixel_spacing is None
        else list(review.film.pixel_spacing),
    }  # fmt: skip


def film_json(review: FilmReview) -> str:
    """:func:`film_dict` as indented JSON; NaN refused."""
    return json.dumps(film_dict(review), indent=2, allow_nan=False, default=str)


def summary_rows(review: FilmReview) -> list[tuple[str, str, str, object]]:
    """The summary as ``(section, item, field, value)`` rows."""
    out = review.result.output
    rows: list[tuple[str, str, str, object]] = [
        ("summary", "film", "p_abnormal", out.p_abnormal),
        ("summary", "film", "no_finding", no_finding_score(out)),
        ("summary", "film", "rule_action", out.action),
        ("summary", "film", "boxes_final", len(out.final[1])),
    ]
    return [r for r in rows if r[3] is not None]


def film_csv(review: FilmReview) -> str:
    """Every number of the film in ``section, item, field, value`` rows."""
    table = findings_table(review.result.findings, review.film.pixel_spacing)
    long = table.melt(id_vars=["finding"], var_name="field", value_name="value")
    long = long.rename(columns={"finding": "item"}).dropna(subset=["value"])
    long.insert(0, "section", "finding")
    head = pd.DataFrame(summary_rows(review), columns=["section", "item", "field", "value"])
    buf = io.StringIO()
    pd.concat([head, long], ignore_index=True).to_csv(buf, index=False)
    return buf.getvalue()


def film_pdf(review: FilmReview, page: PageSize | None = None) -> bytes:
    """The HTML report (:func:`~core.studies.chest.review.report.film_report`) as a PDF
    (``PdfUnavailable`` where the renderer cannot run here)."""
    return html_to_pdf(film_report(review), page)


def film_coco_json(review: FilmReview, verdicts: Sequence[VerdictLike]) -> str:
    """The reviewed boxes as COCO JSON; the file is named by digest, never by its name."""
    case = review.reviewed.case
    names = [im.source.name for im in case.views.values()]
    file_name = file_token(names[0]) if names else short_id(case.case_id)
    data = reviewed_coco(review.result.findings, verdicts, file_name, review.result.output.size)
    return json.dumps(data, indent=2, allow_nan=False)
