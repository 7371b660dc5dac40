"""The generic training loop: checkpoints every epoch, resume at the right epoch with the
same result as an uninterrupted run, best-epoch selection, augmentation determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.metrics.binary import auroc
from core.models.build import build_model
from core.models.registry import get_spec
from core.training.datasets import ArrayDataset
from core.training.distributed import DistInfo
from core.training.evaluate import predict_probs
from core.training.loop import fit
from core.training.losses import stage1_loss
from core.training.profiles import Augment, StageConfig

SPEC = get_spec("stage1_resnet18_tiny", size=32)
CPU = DistInfo(0, 1, 0, torch.device("cpu"))


def _data(n: int = 24, seed: int = 0, augment: Augment | None = None) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (n, 32, 32), dtype=np.uint8)
    labels = (np.arange(n) % 3 == 0).astype(np.float32)
    images[labels == 1, 12:20, 12:20] = 255  # a learnable bright blob
    return ArrayDataset(images, labels, SPEC.input, augment)


def _fit(tmp: Path, epochs: int, *, resume: bool = False, stop_at: int | None = None):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = build_model(SPEC, seed=0)

    def progress(frac: float, msg: str) -> None:
        if stop_at is not None and f"epoch {stop_at}/" in msg:
            raise KeyboardInterrupt

    cfg = StageConfig("stage1_resnet18_tiny", epochs=epochs, batch_size=8, lr=1e-3)
    return fit(
        model,
        _data(augment=Augment()),
        _data(seed=1),
        cfg=cfg,
        loss_fn=stage1_loss(2.0),
        score_fn=lambda y, p: auroc(y[:, 0], p[:, 0]),
        info=CPU,
        seed=5,
        checkpoint=tmp / "stage1.pt",
        resume=resume,
        progress=progress,
    )


def _weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat(
        [p.detach().flatten() for p in model.state_dict().values() if p.is_floating_point()]
    )


def test_resume_continues_at_the_next_epoch_and_matches(tmp_path: Path) -> None:
    full = _fit(tmp_path / "a", 3)
    assert [h["epoch"] for h in full.history] == [0, 1, 2]
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "b", 3, stop_at=3)  # dies during epoch 3, after two checkpoints
    ck = torch.load(tmp_path / "b" / "stage1.pt", weights_only=True)
    assert ck["epoch"] == 1 and len(ck["history"]) == 2
    resumed = _fit(tmp_path / "b", 3, resume=True)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    assert resumed.history[2]["train_loss"] == pytest.approx(
        full.history[2]["train_loss"], rel=1e-6
    )
    assert resumed.best_epoch == full.best_epoch
    assert torch.allclose(_weights(resumed.model), _weights(full.model))


def test_returned_model_is_the_best_epoch(tmp_path: Path) -> None:
    res = _fit(tmp_path, 3)
    scores = [h["val_score"] for h in res.history]
    assert res.best_epoch == int(np.argmax(scores))
    probs = predict_probs(res.model, _data(seed=1), torch.device("cpu"))
    assert auroc(_data(seed=1).labels.numpy()[:, 0], probs[:, 0]) == pytest.approx(max(scores))


def test_augmentation_is_seeded_and_gentle() -> None:
    ds = _data(augment=Augment())
    torch.manual_seed(1)
    a = ds[0][0]
    torch.manual_seed(1)
    b = ds[0][0]
    assert torch.equal(a, b)
    assert a.shape == (1, 32, 32)
    assert not torch.equal(a, _data()[0][0])  # it did change the image
