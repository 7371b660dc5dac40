"""Fusion, the classifier rule and the competition's matching, once per what-if setting.

Why once: the VOC matching takes detections in descending score, and a detection's TP/FP
status depends only on the detections ranked above it. Dropping every box below a score
threshold therefore leaves the status of every kept box unchanged, so a per-class
threshold is "keep the top k of the ranking" and every count a what-if needs is a
cumulative sum (:mod:`.whatif`). Only the WBF settings and the rule on/off change the
ranking itself; each such change rebuilds a :class:`ScoredCohort` here (fusion of every
film, a second or so on 500 films), which the page memoises.

Fusion and the rule are the runner's own (:class:`~core.studies.chest.runner.ChestOutput`,
:func:`~core.studies.chest.runner.with_rule`, :func:`~core.studies.chest.runner.predictions_frame`),
so a cached cohort scores exactly as ``predict`` + ``evaluate`` would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.studies.chest.classes import ALL_LABELS, BOX_COLUMNS
from core.studies.chest.cohort.store import FILM_CLASS
from core.studies.chest.ensemble import EnsembleSettings, fuse_members
from core.studies.chest.fusion import iou_matrix
from core.studies.chest.metric import COMPETITION_IOU, ClassMatch, match_all
from core.studies.chest.rule import ClassifierRule
from core.studies.chest.runner import ChestOutput, predictions_frame, with_rule

__all__ = ["Films", "ScoredCohort", "films_of", "fuse_cohort", "predictions", "score_cohort"]

log = logging.getLogger(__name__)

_EMPTY = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class Films:
    """The films of a member table that ran: ids (scored order), sizes, P(abnormal)."""

    ids: list[str]
    width: np.ndarray
    height: np.ndarray
    p_abnormal: np.ndarray  # NaN where the bundle has no classifier

    @property
    def area(self) -> np.ndarray:
        return self.width.astype(float) * self.height.astype(float)

    @property
    def sizes(self) -> pd.DataFrame:
        return pd.DataFrame({"width": self.width, "height": self.height}, index=self.ids)


def films_of(members: pd.DataFrame, truth_ids: list[str] | None = None) -> Films:
    """The films that ran (no ``error``), in image-id order; with ``truth_ids`` only those
    that are also labelled."""
    rows = members[(members["class_id"] == FILM_CLASS) & (members["error"] == "")]
    rows = rows.drop_duplicates("image_id").sort_values("image_id")
    if truth_ids is not None:
        rows = rows[rows["image_id"].isin(set(truth_ids))]
    return Films(list(rows["image_id"]), rows["width"].to_numpy(int),
                 rows["height"].to_numpy(int), rows["p_abnormal"].to_numpy(float))  # fmt: skip


def fuse_cohort(
    members: pd.DataFrame, detectors: list[str], settings: EnsembleSettings
) -> list[ChestOutput]:
    """Every film that ran, its members fused with ``settings`` (a lone detector as is),
    before any rule: the expensive step of a what-if (WBF runs per film in Python), so a
    page keeps it per WBF setting and a rule toggle reuses it."""
    films = films_of(members)
    boxes = members[members["class_id"] != FILM_CLASS]
    by_film = boxes.groupby("image_id").indices
    coords, scores = boxes[list(BOX_COLUMNS)].to_numpy(float), boxes["score"].to_numpy(float)
    labels, roles = boxes["class_id"].to_numpy(np.int64), boxes["role"].to_numpy(str)
    outs = []
    for image_id, w, h, p in zip(films.ids, films.width, films.height, films.p_abnormal):
        rows = by_film.get(image_id, np.zeros(0, dtype=int))
        own = {r: (coords[rows[roles[rows] == r]], scores[rows[roles[rows] == r]],
                   labels[rows[roles[rows] == r]]) for r in detectors}  # fmt: skip
        size = (int(w), int(h))
        if len(own) > 1:
            fused = fuse_members(list(own.values()), size, settings)
        else:
            fused = next(iter(own.values()), _EMPTY)
        outs.append(ChestOutput(image_id, size, own, fused, fused,
                                None if np.isnan(p) else float(p)))  # fmt: skip
    return outs


def predictions(
    members: pd.DataFrame,
    detectors: list[str],
    settings: EnsembleSettings,
    rule: ClassifierRule | None,
    fused: list[ChestOutput] | None = None,
) -> pd.DataFrame:
    """Prediction rows of every film that ran, as the runner would write them: members
    fused with ``settings`` (or ``fused``, :func:`fuse_cohort`'s output for them), then
    ``rule`` (``None``: the rule left out, "No finding" from the boxes' own confidence)."""
    outs = fuse_cohort(members, detectors, settings) if fused is None else fused
    if rule is not None:
        outs = [o if o.p_abnormal is None else with_rule(o, rule) for o in outs]
    ruled = rule is not None and any(o.p_abnormal is not None for o in outs)
    return predictions_frame(outs, stage="final" if ruled else "fused")


@dataclass(frozen=True)
class ScoredCohort:
    """One (WBF settings, rule) setting, matched: per class the ranked detections with
    their TP flags (:class:`ClassMatch`), the truth's reader scores, and the cross-class
    overlaps the confusion matrix needs. Global detection ids run class by class
    (``det_offset[c] + rank``), truth ids likewise (``truth_offset[c] + row``)."""

    films: Films
    matches: dict[int, ClassMatch]
    truth_scores: dict[int, np.ndarray]
    det_offset: np.ndarray
    truth_offset: np.ndarray
    pairs: np.ndarray  # (n, 2) int: (global det id, global truth id), IoU desc, other class
    settings: dict[str, Any]

    @property
    def n_images(self) -> int:
        return len(self.films.ids)


def _cross_class_pairs(matches: dict[int, ClassMatch], det_off: np.ndarray,
                       t_off: np.ndarray, iou_thr: float) -> np.ndarray:  # fmt: skip
    """Every (detection, truth of another class) on one film with IoU > ``iou_thr``,
    highest IoU first: the candidates for an off-diagonal confusion cell."""
    d = [
        (np.full(len(m.scores), c), det_off[c] + np.arange(len(m.scores)))
        for c, m in matches.items()
    ]
    t = [(np.full(m.n_truth, c), t_off[c] + np.arange(m.n_truth)) for c, m in matches.items()]
    d_cls, d_id = (np.concatenate(v) for v in zip(*d))
    t_cls, t_id = (np.concatenate(v) for v in zip(*t))
    d_img = np.concatenate([m.det_image for m in matches.values()])
    t_img = np.concatenate([m.truth_image for m in matches.values()])
    d_box = np.concatenate([m.det_boxes for m in matches.values()]).reshape(-1, 4)
    t_box = np.concatenate([m.truth_boxes for m in matches.values()]).reshape(-1, 4)
    out: list[np.ndarray] = []
    d_by = pd.Series(np.arange(len(d_img))).groupby(d_img).indices
    t_by = pd.Series(np.arange(len(t_img))).groupby(t_img).indices
    for image, dets in d_by.items():
        truths = t_by.get(image)
        if truths is None:
            continue
        iou = iou_matrix(d_box[dets], t_box[truths])
        ok = (iou > iou_thr) & (d_cls[dets][:, None] != t_cls[truths][None, :])
        r, c = np.nonzero(ok)
        out.append(np.c_[d_id[dets][r], t_id[truths][c], iou[r, c]])
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    allp = np.concatenate(out)
    return allp[np.argsort(-allp[:, 2], kind="stable"), :2].astype(np.int64)


def score_cohort(
    members: pd.DataFrame,
    truth: pd.DataFrame,
    detectors: list[str],
    settings: EnsembleSettings,
    rule: ClassifierRule | None,
    iou_thr: float = COMPETITION_IOU,
    fused: list[ChestOutput] | None = None,
) -> ScoredCohort:
    """Fuse, apply the rule and match every class once (see the module docstring).
    ``truth`` is the fused reader truth (``fuse_readers``: ``score`` is the readers' share).
    Only films that ran and are labelled are scored. ``fused``: :func:`fuse_cohort`'s
    output for ``settings``, kept by the caller, so only the rule and matching run."""
    films = films_of(members, sorted(set(truth["image_id"].astype(str))))
    ids = set(films.ids)
    if fused is None:
        pred = predictions(members[members["image_id"].isin(ids)], detectors, settings, rule)
    else:
        pred = predictions(members, detectors, settings, rule, [o for o in fused if o.image_id in ids])
    truth = truth[truth["image_id"].astype(str).isin(set(films.ids))]
    matches = match_all(pred, truth, films.ids, iou_thr)
    t_scores = {c: truth.loc[truth["class_id"].astype(int) == c, "score"].to_numpy(float)
                if "score" in truth else np.ones(matches[c].n_truth) for c in matches}  # fmt: skip
    det_off = np.cumsum([0] + [len(matches[c].scores) for c in range(len(ALL_LABELS))])[:-1]
    t_off = np.cumsum([0] + [matches[c].n_truth for c in range(len(ALL_LABELS))])[:-1]
    pairs = _cross_class_pairs(matches, det_off, t_off, iou_thr)
    desc = {"wbf": settings.to_dict(), "rule": None if rule is None else rule.to_dict(),
            "iou": iou_thr}  # fmt: skip
    log.info("scored %d films: %d detections, %d truth boxes", len(films.ids),
             int(sum(len(m.scores) for m in matches.values())),
             int(sum(m.n_truth for m in matches.values())))  # fmt: skip
    return ScoredCohort(films, matches, t_scores, det_off, t_off, pairs, desc)
