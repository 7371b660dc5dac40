"""Platt scaling folded into a head: calibrated afterwards, ranks untouched, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.models.registry import InputSpec
from core.training.datasets import ArrayDataset
from core.training.distributed import DistInfo
from core.training.evaluate import predict_logits
from core.training.platt import platt_scale

CPU = torch.device("cpu")
SOLO = DistInfo(0, 1, 0, CPU)  # a world of one: no process group
SPEC = InputSpec(size=(8, 8))


class _Brightness(nn.Module):
    """Logit = a linear function of the image mean: an over-confident toy scorer."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(1, 1)
        with torch.no_grad():
            self.fc.weight.fill_(8.0)
            self.fc.bias.fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(1, 2, 3))[:, None])


def _views(n: int = 400, seed: int = 0) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    level = np.clip(rng.normal(110 + 30 * y, 25), 0, 255)
    images = np.repeat(level[:, None, None], 8, 1).repeat(8, 2).astype(np.uint8)
    return ArrayDataset(images, y[:, None], SPEC)


def test_platt_makes_the_logit_calibrated_and_keeps_the_ranking() -> None:
    model, views = _Brightness(), _views()
    before = predict_logits(model, views, CPU, cpu_bf16=False)[:, 0]
    record = platt_scale(model, model.fc, views, SOLO, cpu_bf16=False)
    after = predict_logits(model, views, CPU, cpu_bf16=False)[:, 0]
    assert record["applied"] and record["views"] == 400
    assert np.array_equal(np.argsort(before), np.argsort(after))
    # fitted on these views, the mean probability matches the positive rate
    y = views.labels.numpy()[:, 0]
    assert (1 / (1 + np.exp(-after))).mean() == pytest.approx(y.mean(), abs=0.01)
    again = platt_scale(model, model.fc, views, SOLO, cpu_bf16=False)  # already calibrated
    assert again["scale"] == pytest.approx(1.0, abs=1e-3)
    assert again["shift"] == pytest.approx(0.0, abs=1e-3)


def test_platt_refuses_what_cannot_be_fitted() -> None:
    model = _Brightness()
    weight = model.fc.weight.clone()
    assert platt_scale(model, model.fc, None, SOLO, cpu_bf16=False)["applied"] is False
    one_class = ArrayDataset(np.zeros((5, 8, 8), np.uint8), np.ones((5, 1)), SPEC)
    assert "one class" in platt_scale(model, model.fc, one_class, SOLO, cpu_bf16=False)["reason"]
    torch.testing.assert_close(model.fc.weight, weight)  # nothing changed
