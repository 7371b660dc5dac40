"""Forward passes outside training: probabilities over a dataset, and the validation row.

Validation runs on every rank with the unwrapped model and no collectives, so all ranks
agree on the best epoch without talking.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from core.device import autocast
from core.training.datasets import ArrayDataset

__all__ = ["ScoreFn", "predict_logits", "predict_probs", "validate"]

#: ``score(labels, probabilities) -> float | None``: higher is better; None if undefined.
ScoreFn = Callable[[np.ndarray, np.ndarray], float | None]


def predict_logits(
    model: nn.Module,
    dataset: Dataset,
    device: torch.device,
    batch_size: int = 64,
    cpu_bf16: bool = True,
) -> np.ndarray:
    """Raw outputs ``(N, K)`` of ``model`` over ``dataset`` in order, in eval mode, in the
    training run's precision (:func:`core.device.autocast`)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad(), autocast(device, cpu_bf16):
        for x, _ in loader:
            x = x.to(device, memory_format=torch.channels_last)
            out.append(model(x).float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def predict_probs(
    model: nn.Module,
    dataset: Dataset,
    device: torch.device,
    batch_size: int = 64,
    cpu_bf16: bool = True,
) -> np.ndarray:
    """Sigmoid of :func:`predict_logits`."""
    logits = predict_logits(model, dataset, device, batch_size, cpu_bf16)
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


def validate(
    model: nn.Module,
    val_set: ArrayDataset | None,
    loss_fn: nn.Module,
    score_fn: ScoreFn,
    device: torch.device,
    cpu_bf16: bool = True,
) -> dict[str, float | None]:
    """``val_loss`` and ``val_score`` of ``model`` on ``val_set`` (None without one)."""
    if val_set is None or len(val_set) == 0:
        return {"val_loss": None, "val_score": None}
    probs = predict_probs(model, val_set, device, cpu_bf16=cpu_bf16)
    labels = val_set.labels
    logits = torch.logit(torch.as_tensor(probs).clamp(1e-6, 1 - 1e-6))
    with torch.no_grad():
        loss = float(loss_fn(logits.to(device), labels.to(device)))
    return {"val_loss": loss, "val_score": score_fn(labels.numpy(), probs)}
