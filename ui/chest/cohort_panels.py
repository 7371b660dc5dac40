"""Read-only panels of the chest cohort page: headline, per-class table, PR and confusion,
AP by size and FROC, reader agreement, the augmentation study and the dataset tab.

Each renders numbers from :mod:`core.studies.chest.cohort`; none computes a metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.cohort.agreement import agreement_table
from core.studies.chest.cohort.api import find_study_table
from core.studies.chest.cohort.curves import FROC_RATES, pr_curve
from core.studies.chest.cohort.figures import confusion_figure, froc_figure, pr_figure
from core.studies.chest.cohort.scoring import ScoredCohort
from core.studies.chest.cohort.whatif import ChestWhatIf
from core.studies.chest.study_cli import study_markdown
from ui.text import plain

__all__ = ["agreement", "by_class", "curves", "dataset", "headline", "sizes_and_froc", "study"]

_NUM = {c: st.column_config.NumberColumn(format="%.3f")
        for c in ("ap", "ap_kept", "threshold", "precision", "recall", "f1")}  # fmt: skip


def _num(v: float | None) -> str:
    return "n/a" if v is None or pd.isna(v) else f"{v:.3f}"


def _ci(ci: list[float | None] | None) -> str:
    return "95% CI undefined" if not ci or ci[0] is None else f"95% CI {ci[0]:.3f}–{ci[1]:.3f}"


def headline(result: ChestWhatIf, interval: dict[str, Any], froc: dict[str, Any]) -> None:
    """mAP@0.4 (every box, with its film-bootstrap interval), mAP of the kept boxes, FROC."""
    a, b, c = st.columns(3)
    a.metric("mAP@0.4 (competition)", _num(result.map_all), delta=_ci(interval.get("map")),
             delta_color="off", delta_arrow="off", border=True,
             help="VOC all-point AP per class at IoU > 0.4 over every box, whatever its score, "
             f"mean over classes with truth. Interval: {interval.get('n_boot')} film resamples.")  # fmt: skip
    kept = int(result.kept.sum())
    b.metric("mAP@0.4 at these thresholds", _num(result.map_kept), delta=f"{kept} boxes kept",
             delta_color="off", delta_arrow="off", border=True,
             help="The same, counting only boxes at or above their class threshold.")  # fmt: skip
    fp, sens = result.froc_point
    c.metric("FROC score", _num(froc.get("froc_score")),
             delta=f"here: {fp:.2f} FP/image, sensitivity {_num(sens)}", delta_color="off",
             delta_arrow="off", border=True,
             help="Mean lesion sensitivity at 0.125–8 false positives per image.")  # fmt: skip
    st.caption(f"{result.n_images} films scored against the readers' fused boxes (WBF, IoU 0.4).")


def by_class(result: ChestWhatIf) -> None:
    """AP, support, precision and recall at each class's threshold."""
    st.dataframe(result.per_class, column_config=_NUM, key="cc_per_class",
                 height=38 + 35 * len(result.per_class))  # fmt: skip
    st.caption("ap: every box (the competition's); ap_kept: boxes at or above the threshold. "
               "precision, recall and F1 at the threshold; empty where undefined.")  # fmt: skip


def curves(scored: ScoredCohort, result: ChestWhatIf) -> None:
    """One class's PR curve with its operating point, and the class confusion matrix."""
    names = [
        n
        for c, n in enumerate(ALL_LABELS)
        if scored.matches[c].n_truth or len(scored.matches[c].scores)
    ]
    if not names:
        st.info("No truth and no boxes in this cohort.")
        return
    name = st.selectbox("PR curve of", names, key="cc_pr_class")
    c = ALL_LABELS.index(name)
    row = result.per_class.loc[name]
    fig = pr_figure(pr_curve(scored.matches[c]), name, row["recall"], row["precision"],
                    float(result.thresholds[c]))  # fmt: skip
    st.plotly_chart(fig, key="cc_fig_pr")
    st.plotly_chart(confusion_figure(result.confusion), key="cc_fig_confusion")
    st.caption("Matching at IoU > 0.4. Diagonal: the metric's true positives. Off-diagonal: a "
               "kept false positive overlapping a missed lesion of another class. 'missed': "
               "lesions neither found nor confused. 'false alarm / background': other kept "
               "false positives, duplicates included.")  # fmt: skip
    st.dataframe(result.confusion, key="cc_confusion_table")


def sizes_and_froc(result: ChestWhatIf, froc_curve: pd.DataFrame, froc: dict[str, Any]) -> None:
    """AP by box size (the buckets stated) and the FROC curve."""
    rows = [{"size": k, "area share of the film": "–" if v["area_share"] is None else
             f"{v['area_share'][0]:.4f}–{v['area_share'][1]:.4f}", "truth boxes": v["n_truth"],
             "mAP@0.4": v["map"]} for k, v in result.by_size.items()]  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="cc_by_size",
                 column_config={"mAP@0.4": st.column_config.NumberColumn(format="%.3f")})  # fmt: skip
    st.caption("Buckets: thirds of the 14 finding classes' truth boxes by area as a share of "
               "their film (cut at the 1/3 and 2/3 quantiles of this cohort). A detection "
               "matched to a truth box counts in that box's bucket, an unmatched one in its "
               "own; boxes kept at the thresholds.")  # fmt: skip
    st.plotly_chart(froc_figure(froc_curve, result.froc_point, FROC_RATES), key="cc_fig_froc")
    table = pd.DataFrame({"FP per image": list(froc["sensitivity_at"]),
                          "sensitivity": list(froc["sensitivity_at"].values())})  # fmt: skip
    st.dataframe(table, hide_index=True, key="cc_froc_table")


def agreement(readers: pd.DataFrame, model: dict, result: ChestWhatIf) -> None:
    """Readers' F1 against the other readers' fusion beside the model's, same truths."""
    table = agreement_table(readers, model, result.thresholds)
    st.caption("Method: for each film and each of its readers, the other readers' boxes are "
               "fused (WBF, IoU 0.4) into a leave-one-out truth. The left-out reader and the "
               "model (boxes kept at the thresholds) are each matched to it per class at "
               "IoU > 0.4; F1 = 2·TP / (boxes + truth boxes), pooled over films per reader and "
               "over every (film, left-out reader) for the model. The readers' spread is their "
               "lowest to highest F1.")  # fmt: skip
    if table.empty:
        st.info("No finding class has reader boxes in this cohort.")
        return
    within = [c for c, v in table["model_vs_readers"].items() if v == "within"]
    above = [c for c, v in table["model_vs_readers"].items() if v == "above"]
    if within:
        st.success("The model is within the readers' spread for: " + plain(", ".join(within)))
    if above:
        st.success("The model is above every reader for: " + plain(", ".join(above)))
    st.dataframe(table, key="cc_agreement", column_config={
        c: st.column_config.NumberColumn(format="%.3f")
        for c in ("reader_f1_median", "reader_f1_low", "reader_f1_high", "model_f1")})  # fmt: skip


def study(bundle_dir: Path) -> None:
    """The augmentation-study table the bundle's training wrote, if any."""
    doc = find_study_table(bundle_dir)
    if doc is None:
        st.info("Nothing to show: this bundle's training wrote no augmentation-study table "
                "(chest_study.json from `python -m core study`).")  # fmt: skip
        return
    try:
        st.markdown(study_markdown(doc))
    except (KeyError, TypeError, ValueError) as err:
        st.warning(f"The augmentation-study table cannot be read: {plain(err)}")


def dataset(cohort_dir: Path) -> None:
    """The dataset overview (``ui.eda``, written separately), when it is installed."""
    try:
        from ui.eda import chest_eda_panel
    except ImportError:
        st.info("Dataset overview unavailable")
        return
    chest_eda_panel(cohort_dir)
