"""Localised training data: sacs into model pixels, crops, flips, labels, cells, masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models.registry import get_spec
from core.sacs import Sac
from core.training.localised import cell_grid, plan_role
from core.models.heads import CellMaxLinear
from core.training.hard_negatives import mine
from core.training.patches import PatchDataset, Target, model_targets
from core.training.profiles import get_profile

S, P, GRID = 64, 32, 4  # model side, crop side, head cells per crop side


def test_model_targets_follow_the_crop_and_the_resize() -> None:
    spec = get_spec("anterior_swinv2_cr_tiny")  # labels: ICA AntChor ACA ACOM MCA
    sacs = [
        Sac(150.0, 60.0, 10.0, "L_MCA"),
        Sac(10.0, 10.0, 5.0, "L_ICA"),  # in the margin: cut away with it
        Sac(120.0, 100.0, 4.0, "BA"),  # not an anterior output
    ]
    out = model_targets(sacs, (100, 40, 228, 168), spec)  # a 128 px crop -> 64 px: scale 1/2
    assert out == (
        Target(25.0, 10.0, 5.0, spec.labels.index("MCA")),
        Target(10.0, 30.0, 2.0, -1),
    )
    stage1 = model_targets(sacs, (100, 40, 228, 168), get_spec("stage1_resnet18_tiny"))
    assert [t.k for t in stage1] == [0, 0]  # stage 1: any aneurysm is the one output


def _dataset(flips: str = "dihedral") -> PatchDataset:
    """Four 64-px views, a bright dot at every sac so that crops can be checked by pixels."""
    images = np.zeros((4, S, S), np.uint8)
    targets = [
        (Target(40.0, 20.0, 2.0, 0),),
        (Target(10.0, 50.0, 2.0, 1),),
        (),
        (),
    ]
    for row, ts in enumerate(targets):
        for t in ts:
            images[row, int(t.y), int(t.x)] = 255
    labels = np.array([[1, 0], [0, 1], [0, 0], [1, 0]], np.float32)  # row 3: label noise
    spec = get_spec("posterior_resnet18_tiny").input
    return PatchDataset(images, labels, targets, spec, patch=P, grid=GRID, flips=flips)


@pytest.mark.parametrize("flips", ["none", "horizontal", "dihedral"])
def test_positive_crops_hold_their_sac_where_the_cells_say(flips: str) -> None:
    ds = _dataset(flips)
    torch.manual_seed(0)
    for i in [0, 1] * 10:  # the two positive units, many random placements and flips
        x, (y, cells, mask) = ds[i]
        k = ds.positives[i][1].k
        assert y.tolist() == [float(j == k) for j in range(2)]
        yy, xx = np.unravel_index(int(np.argmax(x[0].numpy())), (P, P))  # the dot
        cell = (yy // (P // GRID)) * GRID + xx // (P // GRID)
        assert cells[k, cell] == 1.0  # the flagged cell holds the dot, after any flip
        assert cells[1 - k].sum() == 0


def test_negative_crops_avoid_sacs_and_label_noise_is_masked() -> None:
    ds = _dataset()
    torch.manual_seed(1)
    assert len(ds) == 2 + 4
    for i in range(2, 6):
        x, (y, cells, mask) = ds[i]
        row = i - 2
        assert y.sum() == 0 and cells.sum() == 0
        assert float(x.max()) < float(x.min()) + 1e-6  # no dot: the crop missed the sac
        # row 3 is labelled positive for output 0 but nothing is drawn: masked out
        assert mask.tolist() == ([0.0, 1.0] if row == 3 else [1.0, 1.0])


def test_sample_weights_give_positives_half_and_rare_locations_more() -> None:
    images = np.zeros((3, S, S), np.uint8)
    targets = [(Target(20, 20, 2, 0), Target(40, 40, 2, 0)), (Target(20, 20, 2, 0),),
               (Target(30, 30, 2, 1),)]  # fmt: skip
    ds = PatchDataset(images, np.zeros((3, 2)), targets, get_spec("stage1_resnet18_tiny").input,
                      patch=P, grid=GRID)  # fmt: skip
    w = ds.sample_weights()
    assert len(w) == 4 + 3 and w.sum() == pytest.approx(len(ds))
    assert w[:4].sum() == pytest.approx(w[4:].sum())
    assert w[3] > w[0]  # the one sac of output 1 outweighs each of three of output 0


def test_items_are_reproducible_from_the_torch_seed() -> None:
    ds = _dataset()
    torch.manual_seed(7)
    a = [ds[i][0] for i in range(6)]
    torch.manual_seed(7)
    b = [ds[i][0] for i in range(6)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_plan_and_grid() -> None:
    tiny = get_profile("tiny")
    stage1, full = get_spec("stage1_resnet18_tiny"), get_spec("stage1_resnet18_full")
    assert plan_role(tiny.stage1, stage1, has_positions=True).localised
    assert "no truth.json" in plan_role(tiny.stage1, stage1, has_positions=False).reason
    assert "avg head" in plan_role(tiny.stage1, full, has_positions=True).reason
    assert not plan_role(get_profile("full").stage1, full, has_positions=True).localised
    from core.models.build import build_model

    for key in ("stage1_resnet18_tiny", "anterior_swinv2_cr_tiny"):
        spec = get_spec(key)
        model = build_model(spec, seed=0)
        assert cell_grid(model, spec, 64) == 2  # stride 32 for both families
        assert model.training  # left as found


class _BlockMeans(torch.nn.Module):
    """A stand-in stage 1 whose cell logits are the mean of each 16-px block of the input,
    so a test knows where its false alarms are."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AvgPool2d(16)
        self.fc = CellMaxLinear(1, 1)
        with torch.no_grad():
            self.fc.weight.fill_(1.0)
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x))


def _bright(images: np.ndarray, row: int, x: int, y: int) -> None:
    images[row, y - 6 : y + 6, x - 6 : x + 6] = 255


def test_mining_finds_each_views_worst_false_alarm_clear_of_its_sacs() -> None:
    images = np.zeros((4, S, S), np.uint8)
    targets = [(Target(40.0, 24.0, 3.0, 0),), (), (), ()]
    _bright(images, 0, 40, 24)  # the sac itself: brightest, never a false alarm
    images[0, 48:64, 0:16] = 120  # view 0's worst place clear of the sac
    _bright(images, 1, 8, 56)  # view 1: a bright stump far from anything
    images[2, 0:16, 48:64] = 40  # view 2: a faint one
    ds = PatchDataset(images, np.zeros((4, 1)), targets, get_spec("stage1_resnet18_tiny").input,
                      patch=P, grid=GRID)  # fmt: skip
    model = _BlockMeans().train()
    hard = mine(model, ds, torch.device("cpu"), keep=0.5, cpu_bf16=False)
    assert model.training  # left as found
    assert hard == [(1, 8.0, 56.0), (0, 8.0, 56.0)]  # the two worst views, worst first
    assert [r for r, *_ in mine(model, ds, torch.device("cpu"), keep=1.0, cpu_bf16=False)][
        :3
    ] == [1, 0, 2]


def test_hard_negative_crops_centre_on_the_false_alarm_and_never_hold_a_sac() -> None:
    images = np.zeros((2, S, S), np.uint8)
    targets = [(Target(40.0, 24.0, 3.0, 0),), ()]
    images[1, 52, 12] = 255  # a dot at the mined place of view 1
    ds = PatchDataset(images, np.zeros((2, 1)), targets, get_spec("stage1_resnet18_tiny").input,
                      patch=P, grid=GRID)  # fmt: skip
    ds.hard, ds.hard_fraction = [(1, 12.0, 52.0), (0, 44.0, 28.0)], 1.0  # view 0's touches the sac
    torch.manual_seed(3)
    rows = []
    for _ in range(40):
        x, (y, cells, _) = ds[1 + int(torch.randint(2, (1,)))]  # negative units only
        assert y.sum() == 0 and cells.sum() == 0
        rows.append(float(x.max()) > float(x.min()))  # the dot is in the crop
    assert 0 < sum(rows) < 40  # the usable place is used; the one over a sac falls back
    ds.hard_fraction = 0.0
    torch.manual_seed(3)
    plain = [float(ds[2][0].max()) > float(ds[2][0].min()) for _ in range(40)]
    assert sum(plain) < sum(rows)  # random crops of view 1 find the dot less often
