"""Hooks are always released, and concurrent CAM calls on one shared model do not mix."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from core.cam.engine import compute_cams, hook_count, model_lock
from core.cam.targets import location_targets
from core.models.build import build_model
from core.models.registry import get_spec

SPEC = get_spec("posterior_resnet18_tiny")
MODEL = build_model(SPEC, seed=0).eval().requires_grad_(False)


class ExplodingTarget:
    """A target whose backward pass never starts: the forward has run, hooks are set."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        raise self.error("target failed")


@pytest.mark.parametrize("error", [RuntimeError, IndexError])
def test_hooks_released_and_errors_propagate(error: type[Exception]) -> None:
    """pytorch-grad-cam's own ``__exit__`` swallows IndexError; ours must not."""
    x = torch.zeros(1, 1, *SPEC.input.size)
    with pytest.raises(error, match="target failed"):
        compute_cams(MODEL, SPEC, x, [ExplodingTarget(error)])
    assert hook_count(MODEL) == 0
    assert not model_lock(MODEL).locked()
    compute_cams(MODEL, SPEC, x, location_targets(SPEC, ["VA"]))  # still usable
    assert hook_count(MODEL) == 0


def _job(seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = torch.randn(2, 1, *SPEC.input.size, generator=torch.Generator().manual_seed(seed))
    bases = [SPEC.labels[seed % 6], SPEC.labels[(seed + 2) % 6]]
    result = compute_cams(MODEL, SPEC, x, location_targets(SPEC, bases), method="gradcam")
    return result.raw, result.logits


def _forward(seed: int) -> np.ndarray:
    """A plain scoring pass, as the cohort page runs beside a CAM (holds the lock too)."""
    x = torch.randn(2, 1, *SPEC.input.size, generator=torch.Generator().manual_seed(seed))
    with model_lock(MODEL), torch.no_grad():
        return MODEL(x).numpy()


def test_concurrent_cams_match_sequential_results() -> None:
    seeds = list(range(8))
    sequential = [_job(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        cams = [pool.submit(_job, s) for s in seeds]
        forwards = [pool.submit(_forward, 100 + s) for s in seeds]
        concurrent = [f.result() for f in cams]
        [f.result() for f in forwards]
    for (raw_a, logit_a), (raw_b, logit_b) in zip(sequential, concurrent):
        np.testing.assert_allclose(raw_b, raw_a, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(logit_b, logit_a, rtol=1e-5, atol=1e-6)
    assert hook_count(MODEL) == 0
