"""A one-page, self-contained HTML report of a reviewed case.

Images are inlined as base64 PNG and the styling is inline CSS, so the file opens
anywhere, offline, and can be archived or printed as it is. Every text that came from a
user or a file (case id, file names, messages) is HTML-escaped.

The report leaves the app, so it carries no identifier (:mod:`core.review.redact`): every
image is drawn from the redacted pixels (burned-in text and the unsearched margin filled,
not tinted), file names in messages are digests, and a long case id is cut.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from typing import Mapping

import cv2
import numpy as np
import pandas as pd

from core.review.drawing import draw_preprocessing
from core.review.layout import GRID_COLUMNS, GRID_ROWS, column_label, view_grid
from core.review.overlay import HeatmapSettings, case_overlays, fit
from core.review.palette import STATUS_COLOURS, STATUS_LABELS, Status
from core.review.redact import case_file_names, redacted_case, scrub, short_id
from core.review.reviewed import ReviewedCase, case_result
from core.review.table import location_table, timing_table

__all__ = ["REPORT_SIDE", "png_data_uri", "report_images", "html_report"]

#: Longest side of each view in the report, in pixels: sharp when printed, small to mail.
REPORT_SIDE = 360

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1b1f27;
  margin:24px;max-width:1100px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:18px 0 6px;border-bottom:1px solid #ccd}
.meta{color:#556;font-size:12px} small{color:#667}
.notice{background:#fff4e5;border:1px solid #f0a020;padding:6px 10px;margin:10px 0;font-weight:600}
table{border-collapse:collapse;font-size:12px} .num{text-align:right}
td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #e4e6eb}
.grid td{vertical-align:top;border:none;padding:2px} .grid img{width:100%;display:block}
.bar{position:relative;width:160px;height:10px;background:#eceef2}
.fill{position:absolute;left:0;top:0;height:10px}
.tick{position:absolute;top:-3px;width:2px;height:16px;background:#111}
.pos{color:#c0262d;font-weight:700} .neg{color:#1f5fa8;font-weight:700}
"""
_PREPROCESS_TITLE = (
    "Preprocessing — crop (green) and masked text (amber) on the originals; text and the "
    "margin outside the crop are blanked in this report"
)
_LOCATION_HEAD = "".join(
    f"<th>{h}</th>"
    for h in ("location", "", "probability", "threshold", "decision", "status", "reason")
)


def png_data_uri(image: np.ndarray) -> str:
    """An RGB (or grey) ``uint8`` image as a ``data:image/png;base64,...`` URI."""
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _e(value: object) -> str:
    return html.escape(str(value))


def _num(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"


def _cell(view: str, images: Mapping[str, np.ndarray]) -> str:
    if view not in images:
        return f"<td><small>{view}: missing</small></td>"
    return f'<td><img src="{png_data_uri(images[view])}" alt="{view}"><small>{view}</small></td>'


def _view_grid(images: Mapping[str, np.ndarray], title: str) -> str:
    head = "".join(f"<th>{_e(column_label(s, p))}</th>" for s, p in GRID_COLUMNS)
    rows = [
        f"<tr><th colspan=4><small>{_e(label)}</small></th></tr>"
        f"<tr>{''.join(_cell(v, images) for v in row)}</tr>"
        for (_, label), row in zip(GRID_ROWS, view_grid())
    ]
    table = f'<table class="grid" width="100%"><tr>{head}</tr>{"".join(rows)}</table>'
    return f"<h2>{_e(title)}</h2>{table}"


def _bar(probability: float, threshold: float, colour: str) -> str:
    fill = f'<div class="fill" style="width:{100 * probability:.1f}%;background:{colour}"></div>'
    tick = f'<div class="tick" style="left:{100 * min(threshold, 1.0):.1f}%"></div>'
    return f'<div class="bar">{fill}{tick}</div>'


def _location_rows(table: pd.DataFrame) -> str:
    rows = []
    for r in table.itertuples(index=False):
        status: Status = r.status  # type: ignore[assignment]
        cells = [
            _e(r.label), _bar(r.probability, r.threshold, STATUS_COLOURS[status]),
            f"{r.probability:.3f}", f"{r.threshold:.3f}", str(r.decision),
            _e(STATUS_LABELS[status]), f"<small>{_e(r.reason)}</small>",
        ]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{_LOCATION_HEAD}</tr>{''.join(rows)}</table>"


def report_images(
    reviewed: ReviewedCase, max_side: int | None = REPORT_SIDE
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(annotated, overlays)``: each original with its preprocessing boxes drawn, and the
    heatmap overlays as the reader saw them (empty without heatmaps), sized for the page.

    Both are drawn on :func:`~core.review.redact.redacted_case`, never on the originals:
    these pictures are for export only."""
    result = case_result(reviewed, "the HTML report")
    case = redacted_case(reviewed.case, reviewed.clean)
    annotated = {
        v: fit(draw_preprocessing(case.views[v].pixels, c.record), max_side)
        for v, c in reviewed.clean.items()
    }
    if reviewed.settings is None:
        return annotated, {}
    return annotated, case_overlays(case, result, reviewed.cams, reviewed.settings, max_side)


def _heat_title(settings: HeatmapSettings) -> str:
    scale = settings.scale.replace("_", "-")
    return (
        f"Heatmaps — {settings.method}, target {settings.target}, {scale} scale, "
        f"opacity {settings.opacity:.2f}"
    )


def html_report(reviewed: ReviewedCase, max_side: int | None = REPORT_SIDE) -> str:
    """The report as one HTML string, its images drawn from the record (``max_side``: the
    longest side of each view). ``TypeError`` for a study without this report."""
    result = case_result(reviewed, "the HTML report")
    case, ctx, settings = reviewed.case, reviewed.context, reviewed.settings
    annotated, overlays = report_images(reviewed, max_side)
    g = result.gate
    verdict = (
        '<span class="pos">Stage 1 positive</span>'
        if g.positive
        else '<span class="neg">Stage 1 negative</span>'
    )
    notice = f'<div class="notice">{_e(ctx.notice)}</div>' if ctx.notice else ""
    names = case_file_names(case)
    problems = "".join(f"<li>{_e(scrub(p.message, names))}</li>" for p in case.problems)
    case_id = short_id(case.case_id)
    timings = timing_table(result, reviewed.cam_ms)
    timing_rows = "".join(
        f"<tr><td>{_e(s)}</td><td class=num>{ms:.1f}</td></tr>"
        for s, ms in zip(timings["step"], timings["ms"])
    )
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    heatmaps = (
        "<h2>Heatmaps</h2><p>None shown.</p>"
        if settings is None
        else _view_grid(overlays, _heat_title(settings))
    )
    body = f"""
<h1>Aneurysm AI review — case {_e(case_id)}</h1>
<div class="meta">Generated {created} · case hash {_e(case.content_hash()[:16])} ·
bundle <b>{_e(result.bundle)}</b> ({_e(result.bundle_sha256[:12])}) ·
training data: {_e(ctx.training_data)} ·
thresholds: {_e(ctx.threshold_set)} ({_e(result.thresholds.rule)})</div>
{notice}
<h2>Stage 1</h2>
<p>{verdict}: {_e(g.reason)}.<br>Aneurysm probability <b>{_num(g.patient_score)}</b>
against threshold <b>{g.threshold:.3f}</b> · anterior mean {_num(g.anterior_mean)} ·
posterior mean {_num(g.posterior_mean)}</p>
{f"<h2>Intake</h2><ul>{problems}</ul>" if problems else ""}
<h2>Locations</h2>{_location_rows(location_table(result))}
{heatmaps}
{_view_grid(annotated, _PREPROCESS_TITLE)}
<h2>Timings ({_e(result.timings.device)})</h2><table>{timing_rows}</table>
{notice}
"""
    head = f"<meta charset=utf-8><title>Case {_e(case_id)}</title><style>{_CSS}</style>"
    return f"<!doctype html><html lang=en><head>{head}</head><body>{body}</body></html>"
