"""Losses, patient split and imbalance tools of the trainer, on hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from core.training.losses import AsymmetricLoss, asymmetric_loss, stage1_loss
from core.training.sampling import ShardedSampler, balanced_row_weights, pos_weight
from core.training.split import split_patients


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_asl_matches_the_paper_formula_by_hand() -> None:
    logits = torch.tensor([[2.0, -1.0, -5.0, 0.5]])
    targets = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    p_pos = _sig(2.0)
    l_pos = -((1 - p_pos) ** 1) * math.log(p_pos)  # gamma_pos = 1
    pm = _sig(-1.0) - 0.05  # shifted negative probability
    l_neg1 = -(pm**4) * math.log(1 - pm)  # gamma_neg = 4
    l_neg2 = 0.0  # sigmoid(-5) = 0.0067 < clip: an easy negative costs nothing
    pm3 = _sig(0.5) - 0.05
    l_neg3 = -(pm3**4) * math.log(1 - pm3)
    got = asymmetric_loss(logits, targets, reduction="none")[0]
    assert got.tolist() == pytest.approx([l_pos, l_neg1, l_neg2, l_neg3], rel=1e-5)
    assert float(AsymmetricLoss()(logits, targets)) == pytest.approx(
        (l_pos + l_neg1 + l_neg3) / 4, rel=1e-5
    )
    assert float(asymmetric_loss(logits, targets, reduction="sum")) == pytest.approx(
        l_pos + l_neg1 + l_neg3, rel=1e-5
    )


def test_asl_without_focusing_or_clip_is_bce() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(6, 5), (torch.rand(6, 5) > 0.7).float()
    asl = asymmetric_loss(x, y, gamma_neg=0, gamma_pos=0, clip=0)
    assert float(asl) == pytest.approx(float(F.binary_cross_entropy_with_logits(x, y)), rel=1e-5)


def test_asl_gradient_flows() -> None:
    x = torch.tensor([[0.3, -0.2]], requires_grad=True)
    asymmetric_loss(x, torch.tensor([[1.0, 0.0]])).backward()
    assert x.grad is not None and x.grad[0, 0] < 0 < x.grad[0, 1]


def test_stage1_loss_pos_weight() -> None:
    x, y = torch.tensor([[0.0], [0.0]]), torch.tensor([[1.0], [0.0]])
    assert float(stage1_loss(3.0)(x, y)) == pytest.approx((3 * math.log(2) + math.log(2)) / 2)


def _cohort(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"Index": rng.permutation(1000)[:n], "Aneurysm": (rng.random(n) < 0.4).astype(int)}
    )


def test_patient_split_disjoint_stratified_deterministic() -> None:
    df = _cohort()
    a, b = split_patients(df, 0.25, seed=3), split_patients(df, 0.25, seed=3)
    assert a == b
    assert not set(a.train) & set(a.val)
    assert sorted(a.train + a.val) == sorted(df["Index"])
    assert len(a.val) == 15
    pos = df.set_index("Index")["Aneurysm"]
    assert abs(pos[list(a.val)].mean() - pos.mean()) < 0.1  # stratified
    assert split_patients(df, 0.25, seed=4) != a
    assert split_patients(df, 0.0).val == ()


def test_pos_weight_and_balanced_weights() -> None:
    y = np.array([[1, 0], [0, 0], [0, 0], [0, 1], [0, 0]])
    assert pos_weight(y).tolist() == [4.0, 4.0]
    assert pos_weight(np.zeros((3, 1))).tolist() == [1.0]
    # under a sampler that draws the positive rows 4x as often, the imbalance is gone
    assert pos_weight(y[:, :1], np.array([4, 1, 1, 1, 1])).tolist() == [1.0]
    assert pos_weight(y[:, :1], np.array([2, 1, 1, 1, 1])).tolist() == [2.0]
    w = balanced_row_weights(y, power=1.0)
    assert w.sum() == pytest.approx(5)
    assert w[0] == pytest.approx(w[3]) and w[0] > w[1]


def test_sharded_sampler_covers_and_shards() -> None:
    whole = list(ShardedSampler(10, seed=1))
    assert sorted(whole) == list(range(10))
    r0, r1 = (
        list(ShardedSampler(10, seed=1, rank=0, world=2)),
        list(ShardedSampler(10, seed=1, rank=1, world=2)),
    )
    assert len(r0) == len(r1) == 5 and sorted(r0 + r1) == list(range(10))
    s = ShardedSampler(10, seed=1)
    s.set_epoch(1)
    assert list(s) != whole  # a new order each epoch
    heavy = ShardedSampler(4, weights=np.array([0, 0, 0, 1.0]), seed=0)
    assert set(heavy) == {3}
    short = ShardedSampler(10, num_samples=4, seed=2)
    assert len(list(short)) == len(short) == 4 and len(set(short)) == 4
    assert len(list(ShardedSampler(4, weights=np.ones(4), num_samples=9, seed=0))) == 9
