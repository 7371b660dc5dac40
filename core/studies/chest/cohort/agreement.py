"""The model beside the readers: each judged against the same leave-one-out truths.

Method (stated on the page): for every film and every reader of it, the *other* readers'
boxes are fused (:func:`~core.studies.chest.fusion.fuse_readers`, the default WBF) into a
leave-one-out truth. The left-out reader's boxes and the model's kept boxes are each
matched to it per class by the competition's rule (IoU > 0.4, one box per truth box), and
F1 = 2 TP / (boxes + truth boxes) is pooled over films: per reader (their spread is the
human range) and for the model over every (film, left-out reader) pair, so the model
faces exactly the truths the readers faced. The model is "within the readers' spread"
for a class when its F1 lies between the lowest and highest reader F1.

Reader F1s and the truths do not depend on anything the page changes (:func:`loo_truths`,
:func:`reader_f1`, once per cohort); the model's matching depends on the WBF settings and
the rule (:func:`model_loo`, once per setting), its F1 at thresholds is a cumulative count
(:func:`agreement_table`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.studies.chest.annotations import Annotations
from core.studies.chest.classes import CLASSES, NO_FINDING_ID
from core.studies.chest.fusion import fuse_readers
from core.studies.chest.metric import ClassMatch, match_all

__all__ = ["LooTruths", "agreement_table", "loo_truths", "model_loo", "reader_f1"]

_SEP = "\x1f"


@dataclass(frozen=True)
class LooTruths:
    """Leave-one-out truths: ``truth`` rows keyed by virtual image ``film<SEP>reader``,
    and ``readers`` (``virtual, image_id, rad_id``) saying which reader each one leaves out."""

    truth: pd.DataFrame
    readers: pd.DataFrame


def loo_truths(annotations: Annotations) -> LooTruths:
    """Fuse, for every film and each of its readers, the other readers' boxes."""
    boxes = annotations.boxes.assign(rad_id=annotations.boxes["rad_id"].astype(str))
    pairs = boxes[["image_id", "rad_id"]].drop_duplicates().sort_values(["image_id", "rad_id"])
    rank = pairs.groupby("image_id").cumcount()
    parts, readers = [], []
    for slot in range(int(rank.max()) + 1 if len(rank) else 0):
        left = pairs[rank == slot]
        drop = boxes.merge(left, on=["image_id", "rad_id"], how="left", indicator=True)
        others = boxes[(drop["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
        films = annotations.sizes.loc[sorted(set(left["image_id"]))]
        # fuse_readers groups rows by position: it needs a RangeIndex
        fused = fuse_readers(Annotations(others, films, annotations.errors.iloc[:0]))
        fused["image_id"] = fused["image_id"].astype(str) + f"{_SEP}{slot}"
        parts.append(fused)
        readers.append(left.assign(virtual=left["image_id"].astype(str) + f"{_SEP}{slot}"))
    truth = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return LooTruths(truth, pd.concat(readers, ignore_index=True) if readers else pd.DataFrame())


def reader_f1(annotations: Annotations, loo: LooTruths) -> pd.DataFrame:
    """Per finding class and reader: TP, boxes, truth boxes and F1 against the fusion of
    the other readers (columns ``class, rad_id, tp, boxes, truth, f1``)."""
    boxes = annotations.findings().assign(rad_id=lambda f: f["rad_id"].astype(str))
    ids = list(loo.readers["virtual"])
    own = boxes.merge(loo.readers, on=["image_id", "rad_id"])  # the left-out reader's boxes
    own = own.assign(image_id=own["virtual"], score=1.0)
    matches = match_all(own, loo.truth, ids)
    who = loo.readers["rad_id"].to_numpy(str)
    rows = []
    for c, name in enumerate(CLASSES):
        m = matches[c]
        for r in np.unique(who):
            dets, truths = who[m.det_image] == r, who[m.truth_image] == r
            n_det, n_truth, tp = int(dets.sum()), int(truths.sum()), int(m.tp[dets].sum())
            if n_det + n_truth:
                rows.append({"class": name, "rad_id": r, "tp": tp, "boxes": n_det,
                             "truth": n_truth, "f1": 2 * tp / (n_det + n_truth)})  # fmt: skip
    return pd.DataFrame(rows, columns=["class", "rad_id", "tp", "boxes", "truth", "f1"])


def model_loo(pred: pd.DataFrame, loo: LooTruths) -> dict[int, ClassMatch]:
    """The model's boxes (prediction rows of real films) matched to every leave-one-out
    truth of their film; one :class:`ClassMatch` per finding class, ranked by score."""
    rows = pred[pred["class_id"].astype(int) != NO_FINDING_ID]
    virt = rows.merge(loo.readers[["image_id", "virtual"]], on="image_id")
    virt = virt.assign(image_id=virt["virtual"])
    ids = list(loo.readers["virtual"])
    matches = match_all(virt, loo.truth, ids)
    return {c: m for c, m in matches.items() if c != NO_FINDING_ID}


def _verdict(model: float | None, lo: float, hi: float) -> str:
    if model is None or np.isnan(lo):
        return "n/a"
    return "within" if lo <= model <= hi else "above" if model > hi else "below"


def agreement_table(readers: pd.DataFrame, model: dict[int, ClassMatch],
                    thr: np.ndarray) -> pd.DataFrame:  # fmt: skip
    """Per finding class with any truth: readers' F1 (median, lowest, highest, how many
    readers), the model's F1 at the thresholds against the same truths, and where it
    falls (``within`` / ``above`` / ``below`` the readers' spread)."""
    rows = []
    for c, name in enumerate(CLASSES):
        m = model[c]
        k = int(np.searchsorted(-m.scores, -thr[c], side="right"))
        tp = int(m.tp[:k].sum())
        f1 = 2 * tp / (k + m.n_truth) if k + m.n_truth else None
        f = readers.loc[readers["class"] == name, "f1"].to_numpy(float)
        if not len(f) and not m.n_truth:
            continue
        lo, hi = (float(f.min()), float(f.max())) if len(f) else (np.nan, np.nan)
        rows.append({"class": name, "readers": len(f),
                     "reader_f1_median": float(np.median(f)) if len(f) else None,
                     "reader_f1_low": lo, "reader_f1_high": hi, "model_f1": f1,
                     "model_tp": tp, "model_boxes": k, "truth_boxes": m.n_truth,
                     "model_vs_readers": _verdict(f1, lo, hi)})  # fmt: skip
    return pd.DataFrame(rows).set_index("class") if rows else pd.DataFrame()
