"""Every CAM method on every role's tiny model: shapes, finite raw maps, explicit targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.cam.engine import compute_cams, hook_count
from core.cam.methods import METHODS, method_class
from core.cam.targets import location_index, location_targets, stage1_targets
from core.models.build import build_model
from core.models.aneurysm_models import default_keys
from core.models.registry import ModelSpec, get_spec

SPECS = {role: get_spec(key) for role, key in default_keys("tiny").items()}


def _frozen(spec: ModelSpec, seed: int = 0) -> nn.Module:
    model = build_model(spec, seed=seed).eval()
    return model.requires_grad_(False)


MODELS = {role: _frozen(spec) for role, spec in SPECS.items()}


def _targets(spec: ModelSpec, n: int) -> list:
    if spec.role == "stage1":
        return stage1_targets(n)
    return location_targets(spec, [spec.labels[i % spec.num_outputs] for i in range(n)])


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("role", sorted(SPECS))
def test_method_on_role(method: str, role: str) -> None:
    spec, model = SPECS[role], MODELS[role]
    x = torch.randn(3, 1, *spec.input.size, generator=torch.Generator().manual_seed(1))
    result = compute_cams(model, spec, x, _targets(spec, 3), method=method)
    stride = 32  # both families downsample by 32 at the hooked layer
    assert result.raw.shape == (3, spec.input.size[0] // stride, spec.input.size[1] // stride)
    assert result.raw.dtype == np.float32
    assert np.isfinite(result.raw).all() and (result.raw >= 0).all()
    with torch.no_grad():
        np.testing.assert_allclose(result.logits, model(x).numpy(), rtol=1e-4, atol=1e-5)
    assert hook_count(model) == 0


def test_batch_equals_one_image_at_a_time() -> None:
    """One target per image: image i is explained for its own target, not image 0's."""
    spec, model = SPECS["posterior"], MODELS["posterior"]
    x = torch.randn(4, 1, *spec.input.size, generator=torch.Generator().manual_seed(2))
    bases = ["VA", "BA", "PCA", "VA"]
    batch = compute_cams(model, spec, x, location_targets(spec, bases))
    for i in range(4):
        one = compute_cams(model, spec, x[i : i + 1], location_targets(spec, bases[i : i + 1]))
        np.testing.assert_allclose(batch.raw[i], one.raw[0], rtol=1e-4, atol=1e-6)
    assert not np.allclose(batch.raw[0], batch.raw[1])  # different targets, different maps


def test_targets_are_explicit_and_checked() -> None:
    spec, model = SPECS["anterior"], MODELS["anterior"]
    x = torch.zeros(2, 1, *spec.input.size)
    with pytest.raises(ValueError, match="one target per image"):
        compute_cams(model, spec, x, stage1_targets(1))
    with pytest.raises(ValueError, match="does not predict 'BA'"):
        location_index(spec, "BA")  # BA belongs to the posterior model
    assert location_index(spec, "MCA") == spec.labels.index("MCA")
    with pytest.raises(KeyError, match="unknown CAM method"):
        method_class("scorecam")


def test_train_mode_is_refused() -> None:
    spec = SPECS["stage1"]
    model = build_model(spec).train()
    with pytest.raises(ValueError, match="eval mode"):
        compute_cams(model, spec, torch.zeros(2, 1, *spec.input.size), stage1_targets(2))


def test_gradients_start_at_the_hooked_layer() -> None:
    """A trainable model keeps no gradient below the CAM layer: backward stops there."""
    spec = SPECS["stage1"]
    model = build_model(spec, seed=3).eval()
    compute_cams(model, spec, torch.randn(2, 1, *spec.input.size), stage1_targets(2))
    assert model.conv1.weight.grad is None and model.layer3[0].conv1.weight.grad is None
