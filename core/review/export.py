"""All numbers of a reviewed case as JSON and as one long CSV.

The JSON is the result's own ``to_dict`` plus what the reader saw around it: the bundle's
identity, the threshold set in use, the heatmap settings, the intake problems and the
notice, so a download can be audited without the app. It serves every study. The CSV is
long format (``section, item, field, value``) so that one file holds the patient score,
every view, every location and the timings (aneurysm cases). The PDF is the HTML report
on paper (:mod:`core.review.pdf`).

Exports leave the app, so they name files by digest and cut long case ids
(:mod:`core.review.redact`): a file name chosen by a person often carries a patient's name
or ID. The CSV holds numbers and the schema's names only.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import Any

import pandas as pd

from core.case import Case
from core.review.pdf import PageSize, html_to_pdf
from core.review.redact import case_file_names, file_token, scrub, short_id
from core.review.report import html_report
from core.review.reviewed import ReviewedCase, case_result
from core.review.table import location_table, timing_table, view_table

__all__ = ["export_dict", "export_json", "export_csv", "pdf_report"]


def _case_part(case: Case) -> dict[str, Any]:
    names = case_file_names(case)
    return {
        "case_id": short_id(case.case_id),
        "content_hash": case.content_hash(),
        "views_present": sorted(case.views),
        "missing_views": case.missing_views,
        "problems": [
            {
                "file": file_token(p.file) if p.file else "",
                "kind": p.kind,
                "message": scrub(p.message, names),
            }
            for p in case.problems
        ],
        "sources": {
            v: {
                "name": file_token(im.source.name),
                "format": im.source.format,
                "frames": im.source.frames,
                "frame_rule": im.source.frame_rule,
                "notes": list(im.source.notes),
            }
            for v, im in sorted(case.views.items())
        },
    }


def export_dict(reviewed: ReviewedCase) -> dict[str, Any]:
    """The JSON-ready record of one reviewed case (``heatmaps``: the settings on screen)."""
    result, ctx = reviewed.result, reviewed.context
    return {
        "notice": ctx.notice,
        "case": _case_part(reviewed.case),
        "bundle": {
            "name": result.bundle,
            "bundle_sha256": result.bundle_sha256,
            "training_data": ctx.training_data,
            "threshold_set": ctx.threshold_set,
        },
        "heatmaps": None if reviewed.settings is None else asdict(reviewed.settings),
        "result": _result_part(reviewed),
    }


def _result_part(reviewed: ReviewedCase) -> dict[str, Any]:
    """The result's own record, with its case id and notes (intake messages) as exported."""
    out = reviewed.result.to_dict()
    names = case_file_names(reviewed.case)
    if "case_id" in out:
        out["case_id"] = short_id(str(out["case_id"]))
    if "notes" in out:
        out["notes"] = [scrub(str(n), names) for n in out["notes"]]
    return out


def export_json(reviewed: ReviewedCase) -> str:
    """:func:`export_dict` as indented JSON; NaN is refused rather than written."""
    return json.dumps(export_dict(reviewed), indent=2, allow_nan=False, default=str)


def _long(frame: pd.DataFrame, section: str, item: str) -> pd.DataFrame:
    long = frame.melt(id_vars=[item], var_name="field", value_name="value")
    long = long.rename(columns={item: "item"}).dropna(subset=["value"])
    long.insert(0, "section", section)
    return long


def export_csv(reviewed: ReviewedCase) -> str:
    """Every number of the result in ``section, item, field, value`` rows, the extra
    heatmaps' time included (``TypeError`` for a study without this export)."""
    result = case_result(reviewed, "the CSV export")
    g = result.gate
    patient = pd.DataFrame(
        [
            ("patient", "Aneurysm", "probability", g.patient_score),
            ("patient", "Aneurysm", "threshold", g.threshold),
            ("patient", "Aneurysm", "decision", int(g.positive)),
            ("patient", "anterior", "mean", g.anterior_mean),
            ("patient", "posterior", "mean", g.posterior_mean),
        ],
        columns=["section", "item", "field", "value"],
    ).dropna(subset=["value"])
    locations = location_table(result).drop(columns=["label", "side", "base"])
    views = view_table(result).drop(columns=["present"])
    timings = timing_table(result, reviewed.cam_ms).drop(columns=["device"])
    parts = [
        patient,
        _long(locations, "location", "location"),
        _long(views, "view", "view"),
        _long(timings, "timing_ms", "step"),
    ]
    buf = io.StringIO()
    pd.concat(parts, ignore_index=True).to_csv(buf, index=False)
    return buf.getvalue()


def pdf_report(reviewed: ReviewedCase, page: PageSize | None = None) -> bytes:
    """The HTML report (:func:`~core.review.report.html_report`) as a PDF
    (``PdfUnavailable`` where the renderer cannot run here)."""
    return html_to_pdf(html_report(reviewed), page)
