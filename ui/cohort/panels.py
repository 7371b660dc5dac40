"""Read-only panels of the cohort page: headline metrics, curves, locations, pointing game.

Each takes the prediction table and the what-if result and only renders; all numbers come
from ``core.cohort`` (and through it ``core.metrics``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.cohort.figures import (
    confusion_figure,
    histogram_figure,
    pr_figure,
    reliability_figure,
    roc_figure,
)
from core.cohort.location_sets import compare_sets
from core.cohort.pointing import hits_by_view, load_targets, view_hits
from core.cohort.table import SCORE, has_peaks
from core.cohort.whatif import WhatIf, location_summary
from core.metrics.binary import pr_table, roc_table
from core.models.threshold_sets import list_threshold_sets, load_threshold_set
from core.models.thresholds import Thresholds, ThresholdsError
from ui.text import plain

__all__ = ["headline", "threshold_caption", "threshold_sets", "curves", "locations", "pointing"]

#: The row of the sliders' thresholds when they match no set of the bundle.
CURRENT_SET = "current sliders (unsaved)"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _ci(ci: list[float | None] | None) -> str:
    if not ci or ci[0] is None:
        return "95% CI: pending" if ci is None else "95% CI: undefined"
    return f"95% CI {ci[0]:.3f}–{ci[1]:.3f}"


def _card(col: Any, label: str, value: str, note: str, help: str | None = None) -> None:
    """A metric with a neutral note under it (no arrow, no colour: not a change)."""
    col.metric(
        label, value, delta=note, delta_color="off", delta_arrow="off", help=help, border=True
    )


def headline(result: WhatIf, intervals: dict[str, Any] | None) -> None:
    """The numbers ``core evaluate`` reports, at the current thresholds, in two rows."""
    r, p = result.report, result.stage1_point
    iv = intervals or {}
    acc, macro = r["location_accuracy"], r["location_macro_auroc"]
    at = f"At stage-1 threshold {p['threshold']:.3f}."
    top = st.columns(3)
    _card(
        top[0],
        "Aneurysm AUROC",
        _num(r["aneurysm"]["auroc"]),
        _ci(iv.get("aneurysm")),
        "ROC AUC of the patient score (K-Ium score 1).",
    )
    _card(top[1], "Sensitivity", _num(p["sensitivity"]), f"TP {p['tp']} · FN {p['fn']}", at)
    _card(top[2], "Specificity", _num(p["specificity"]), f"TN {p['tn']} · FP {p['fp']}", at)
    bottom = st.columns(3)
    _card(
        bottom[0],
        "Location accuracy (K-Ium)",
        _num(acc["kium"], 4),
        f"all-zeros floor {acc['all_zero_floor']:.4f}",
        "K-Ium score 2: 1 − mean |truth − prediction| over 21 locations. "
        "Predicting no location for anyone already scores the floor.",
    )
    _card(
        bottom[1],
        f"Location AUROC ({macro['n_defined']}/{macro['of']})",
        _num(macro["value"]),
        _ci(iv.get("macro")),
        f"Macro mean over the {macro['n_defined']} of {macro['of']} locations whose AUROC is "
        "defined (at least one positive and one negative).",
    )
    _card(
        bottom[2],
        "Weighted AUROC (RSNA)",
        _num(r["weighted_auroc"]["value"]),
        _ci(iv.get("weighted")),
        r["weighted_auroc"]["formula"],
    )
    st.caption(
        f"{r['n_patients']} patients, {r['n_positive']} with an aneurysm. Intervals: "
        f"patient bootstrap, {(iv.get('bootstrap') or {}).get('n', '…')} resamples."
    )


def threshold_caption(thresholds: Thresholds) -> None:
    """Which thresholds the numbers use and who set them; the rule and the author come from
    a saved file (typed by another user), so they are shown as typed, never as Markdown."""
    st.caption(f"Thresholds: {plain(thresholds.rule)} — by {plain(thresholds.author)}.")


def _bundle_sets(bundle_dir: Path, current: Thresholds) -> dict[str, Thresholds]:
    """The bundle's sets by name, then the sliders' thresholds when they are none of them."""
    sets: dict[str, Thresholds] = {}
    for name in list_threshold_sets(bundle_dir):
        try:
            sets[name] = load_threshold_set(bundle_dir, name)
        except ThresholdsError as err:
            st.warning(f"Threshold set {plain(name)} cannot be read: {plain(err)}")
    same = any((t.stage1, t.labels) == (current.stage1, current.labels) for t in sets.values())
    return sets if same else {**sets, CURRENT_SET: current}


def threshold_sets(table: pd.DataFrame, bundle_dir: Path, current: Thresholds) -> None:
    """Every threshold set of the bundle side by side on this cohort, each K-Ium location
    accuracy beside the all-zeros floor (flags help only above it)."""
    st.markdown("**Threshold sets side by side** (this cohort)")
    st.dataframe(
        compare_sets(table, _bundle_sets(bundle_dir, current)),
        hide_index=True,
        key="cohort_threshold_sets",
        column_config={
            "set": st.column_config.TextColumn("set"),
            "rule": st.column_config.TextColumn("rule", width="medium"),
            "kium_accuracy": st.column_config.NumberColumn("K-Ium loc. accuracy", format="%.4f"),
            "all_zero_floor": st.column_config.NumberColumn("all-zeros floor", format="%.4f"),
            "vs_floor": st.column_config.NumberColumn(
                "vs floor", format="%+.4f", help="accuracy − floor: positive when flags help"
            ),
            "aneurysm_auroc": st.column_config.NumberColumn("aneurysm AUROC", format="%.3f"),
            "sensitivity": st.column_config.NumberColumn("sens", format="%.3f"),
            "specificity": st.column_config.NumberColumn("spec", format="%.3f"),
            "flags_per_patient": st.column_config.NumberColumn("flags / patient", format="%.2f"),
            "location_tp": st.column_config.NumberColumn("flag TP"),
            "location_fp": st.column_config.NumberColumn("flag FP"),
        },
    )
    st.caption(
        "Sensitivity and specificity are the aneurysm gate's at each set's stage-1 threshold. "
        "A location flag adds to the K-Ium accuracy only when it is right more often than "
        "wrong; sets fitted on this cohort score optimistically here."
    )


def curves(table: pd.DataFrame, result: WhatIf, intervals: dict[str, Any] | None) -> None:
    """ROC and PR with the operating point, confusion matrix, histograms and reliability."""
    y, score = table["Aneurysm"].to_numpy(int), table[SCORE].to_numpy(float)
    p = result.stage1_point
    a, b, c = st.columns([2, 2, 1.5])
    ci = (intervals or {}).get("aneurysm")
    a.plotly_chart(
        roc_figure(roc_table(y, score), p, result.report["aneurysm"]["auroc"], ci), key="fig_roc"
    )
    b.plotly_chart(pr_figure(pr_table(y, score), p, float(y.mean())), key="fig_pr")
    c.plotly_chart(confusion_figure(p), key="fig_confusion")
    d, e = st.columns(2)
    d.plotly_chart(histogram_figure(y, score, result.thresholds.stage1), key="fig_hist")
    e.plotly_chart(reliability_figure(y, score), key="fig_reliability")


def locations(result: WhatIf, intervals: dict[str, Any] | None) -> None:
    """Per-location AUROC (with interval), F1, operating point and confusion counts."""
    summary = location_summary(result, intervals)
    st.dataframe(
        summary,
        column_config={
            "auroc": st.column_config.NumberColumn("AUROC", format="%.3f"),
            "auroc_low": st.column_config.NumberColumn("CI low", format="%.3f"),
            "auroc_high": st.column_config.NumberColumn("CI high", format="%.3f"),
            "f1": st.column_config.NumberColumn("F1", format="%.3f"),
            "threshold": st.column_config.NumberColumn("threshold", format="%.3f"),
            "sensitivity": st.column_config.NumberColumn("sens", format="%.3f"),
            "specificity": st.column_config.NumberColumn("spec", format="%.3f"),
            "ppv": st.column_config.NumberColumn("PPV", format="%.3f"),
            **{k: st.column_config.NumberColumn(k.upper()) for k in ("tp", "fp", "fn", "tn")},
        },
        height=38 + 35 * len(summary),
        key="cohort_locations",
    )
    st.caption(
        "AUROC ranks the ungated stage-2 probabilities; sensitivity, specificity and the "
        "counts are the gated decisions (a location is positive only above both thresholds). "
        "AUROC is undefined (empty) where the cohort has no positive for a location."
    )


def pointing(table: pd.DataFrame, cohort_dir: Path) -> None:
    """Per-view pointing game, when the cohort has synthetic truth and the table CAM peaks."""
    targets = load_targets(cohort_dir)
    if targets is None:
        st.info(
            "This cohort has no truth.json (real data): aneurysm positions are unknown, so "
            "heatmaps cannot be scored here."
        )
        return
    if not has_peaks(table):
        st.info(
            "This table has no CAM peaks. Turn on **With CAM peaks** above and run the cohort "
            "to score where the stage-1 heatmaps point."
        )
        return
    summary = hits_by_view(table, targets)
    st.dataframe(
        summary,
        key="cohort_pointing_summary",
        column_config={"hit_rate": st.column_config.NumberColumn("hit rate", format="%.3f")},
    )
    st.caption(
        "A hit: the stage-1 CAM peak within the aneurysm radius + "
        f"{summary['margin_frac'].iloc[0]:.0%} of the longer image side. Only views that "
        "show an aneurysm count."
    )
    st.dataframe(view_hits(table, targets), hide_index=True, key="cohort_pointing_views")
