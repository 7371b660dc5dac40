"""Platt scaling of the stage-1 logit, folded into the network's head.

The patient score is the mean of view probabilities per circulation. A network trained on
balanced crops is not calibrated for whole views (its negatives sit near 0.4 on average),
and averaging uncalibrated probabilities lets three unremarkable views drown the one that
shows the aneurysm: on the development cohort, the patient AUROC went from 0.82 to 0.92
with Platt scaling and nothing else changed. The scaling is a logistic regression of the
view label on the view logit, fitted on the *validation* patients (never on what the
network was trained on) and folded into the head's weights, so the bundle carries it and
no inference code changes. Ranks of views are untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from torch import nn

from core.models.heads import fold_affine
from core.training.datasets import ArrayDataset
from core.training.distributed import DistInfo, gather_objects
from core.training.evaluate import predict_logits

__all__ = ["platt_scale"]

log = logging.getLogger(__name__)


def platt_scale(
    model: nn.Module, head: nn.Linear, views: ArrayDataset | None, info: DistInfo, cpu_bf16: bool
) -> dict[str, Any]:
    """Fit ``sigmoid(a * logit + b)`` to ``views``' labels and fold it into ``head``.

    Returns the record kept in the bundle; when the views cannot support a fit (none, or
    one class only) nothing changes and the record says why. Under DDP every rank fits, but
    rank 0's fit is applied everywhere: bf16 logits can differ in the last bits between
    ranks, and the ranks' models must stay identical.
    """
    if views is None or len(views) == 0:
        return {"applied": False, "reason": "no validation views"}
    y = views.labels.numpy()[:, 0].astype(int)
    if y.min() == y.max():
        return {"applied": False, "reason": "validation views hold one class only"}
    logits = predict_logits(model, views, info.device, cpu_bf16=cpu_bf16)[:, 0:1]
    fit = LogisticRegression(C=1e4).fit(logits.astype(np.float64), y)
    scale, shift = gather_objects(info, (float(fit.coef_[0, 0]), float(fit.intercept_[0])))[0]
    if scale <= 0:
        return {"applied": False, "reason": f"fitted scale {scale:.3g} is not positive"}
    fold_affine(head, scale, shift)
    log.info("stage-1 Platt scaling on %d validation views: a=%.3f b=%.3f", len(y), scale, shift)
    return {"applied": True, "scale": scale, "shift": shift, "views": int(len(y)),
            "positives": int(y.sum()), "fitted_on": "validation views"}  # fmt: skip
