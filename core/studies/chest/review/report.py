"""A one-page, self-contained HTML report of a reviewed film.

As the aneurysm report (:mod:`core.review.report`): images inlined as PNG, inline CSS,
every text from a user or a file HTML-escaped, file names as digests, long ids cut.

Burned-in text: a chest film has no preprocessing record, so the report runs the
preprocessing text detector (:func:`core.preprocess.text.detect_text`) over the whole
film and fills what it finds opaquely (:func:`core.review.redact.redact_pixels`, no
margin). The detector was tuned on angiograms and may miss text on a film; the report
says so. No DICOM tag other than pixel spacing and window presets is ever read, so no
DICOM identifier can reach the report.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

import cv2
import numpy as np

from core.case import PreprocessRecord
from core.preprocess.text import detect_text
from core.review.overlay import composite, fit
from core.review.redact import case_file_names, redact_pixels, scrub, short_id
from core.review.report import png_data_uri
from core.studies.chest.review.heatmaps import METHOD_LIMITS
from core.studies.chest.review.palette import class_colour, rgb
from core.studies.chest.review.result import no_finding_score, rule_changes
from core.studies.chest.review.reviewed import FilmReview
from core.studies.chest.review.table import findings_table

__all__ = ["REPORT_SIDE", "REDACTION_NOTE", "redact_film", "boxed_film", "film_report"]

REPORT_SIDE = 900
REDACTION_NOTE = (
    "Burned-in text found by the text detector is filled in these images; the detector was "
    "tuned on angiograms and may miss text on a chest film. No DICOM identifier is read "
    "or written."
)
_CSS = (
    "body{font-family:system-ui,sans-serif;color:#1b1f27;margin:24px;max-width:1100px}"
    "h1{font-size:20px}h2{font-size:15px;border-bottom:1px solid #ccd}.meta{color:#556;"
    "font-size:12px}.notice{background:#fff4e5;border:1px solid #f0a020;padding:6px 10px;"
    "font-weight:600}table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;"
    "border-bottom:1px solid #e4e6eb;text-align:left}img{max-width:100%}"
)


def _e(value: object) -> str:
    return html.escape(str(value))


def redact_film(pixels: np.ndarray) -> tuple[np.ndarray, int]:
    """The film with every detected text line filled, and how many lines were filled."""
    h, w = pixels.shape[:2]
    lines = detect_text(pixels).lines
    record = PreprocessRecord("clean", (0, 0, w, h), tuple(line.box for line in lines), (w, h))
    return redact_pixels(pixels, record), len(lines)


def boxed_film(review: FilmReview, pixels: np.ndarray) -> np.ndarray:
    """RGB film (display size) with the flagged boxes drawn in their class colours."""
    out = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    sx, sy = (1 / v for v in review.film.scale)
    thick = max(1, round(max(out.shape[:2]) / 400))
    for f in review.result.box_findings:
        if not f.decision:
            continue
        x0, y0, x1, y1 = (
            int(round(v)) for v in (f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy)
        )  # type: ignore[index]
        colour = rgb(class_colour(f.label))
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick)
        cv2.putText(out, f"{f.label} {f.score:.2f}", (x0, max(10, y0 - 3)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, colour, 1, cv2.LINE_AA)  # fmt: skip
    return out


def _summary(review: FilmReview) -> str:
    out = review.result.output
    p = "n/a (no classifier)" if out.p_abnormal is None else f"{out.p_abnormal:.3f}"
    changes = "".join(
        f"<li>{_e(c.label)}: {c.before:.3f} → {c.after:.3f}</li>" for c in rule_changes(out)
    )
    return (
        f"<p>P(abnormal) <b>{p}</b> · No finding {no_finding_score(out):.3f}<br>"
        f"Classifier rule: {_e(out.action)}</p>" + (f"<ul>{changes}</ul>" if changes else "")
    )


def _cell(value: object) -> str:
    """One table cell: blank for missing; box corners (float32 pixels, ``326.20001220703125``)
    to one decimal, scores and thresholds to 4 significant digits."""
    if value is None or value != value:
        return ""
    if isinstance(value, float):
        return _e(f"{value:.1f}" if abs(value) >= 10 else f"{value:.4g}")
    return _e(value)


def _table(review: FilmReview) -> str:
    t = findings_table(review.result.findings, review.film.pixel_spacing).drop(columns="finding")
    head = "".join(f"<th>{_e(c)}</th>" for c in t.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>"
        for r in t.itertuples(index=False)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def film_report(review: FilmReview, max_side: int = REPORT_SIDE) -> str:
    """The report as one HTML string."""
    rc, result = review.reviewed, review.result
    case, ctx = rc.case, rc.context
    clean, n_text = redact_film(review.display)
    film_img = fit(boxed_film(review, clean), max_side)
    heat = ""
    if review.heat is not None and review.heat_request is not None:
        over = fit(composite(clean, review.heat, review.opacity), max_side)
        req = review.heat_request
        heat = (f'<h2>Heatmap — {_e(req.describe())}</h2><img src="{png_data_uri(over)}">'
                f"<p><small>{_e(METHOD_LIMITS.get(req.method, ''))}</small></p>")  # fmt: skip
    notice = f'<div class="notice">{_e(ctx.notice)}</div>' if ctx.notice else ""
    names = case_file_names(case)
    problems = "".join(f"<li>{_e(scrub(p.message, names))}</li>" for p in case.problems)
    w = review.window
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = f"""
<h1>Chest film review — {_e(short_id(case.case_id))}</h1>
<div class="meta">Generated {created} · film hash {_e(case.content_hash()[:16])} ·
bundle <b>{_e(result.bundle)}</b> ({_e(result.bundle_sha256[:12])}) ·
training data: {_e(ctx.training_data)} · thresholds: {_e(ctx.threshold_set)}
({_e(result.thresholds.rule)}) · window {w.centre:g}/{w.width:g} ·
pixel spacing {_e(review.film.spacing_text)}</div>
{notice}
<h2>Summary</h2>{_summary(review)}
{f"<h2>Intake</h2><ul>{problems}</ul>" if problems else ""}
<h2>Findings</h2>{_table(review)}
<h2>Film with flagged boxes</h2><img src="{png_data_uri(film_img)}">
{heat}
<p><small>{_e(REDACTION_NOTE)} Text lines filled: {n_text}.</small></p>
{notice}
"""
    head = (
        f"<meta charset=utf-8><title>Film {_e(short_id(case.case_id))}</title><style>{_CSS}</style>"
    )
    return f"<!doctype html><html lang=en><head>{head}</head><body>{body}</body></html>"
