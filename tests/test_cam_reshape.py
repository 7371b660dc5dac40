"""The SwinV2-CR reshape, checked against what timm 1.0.31 actually outputs.

Both SwinV2-CR entries are checked: the original (4x4 patch embedding, four stages) and the
demo's hybrid (ResNet18 stem, three stages), each hooked at its registry CAM layer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.cam.engine import compute_cams
from core.cam.reshape import bhwc_to_bchw, get_reshape
from core.cam.targets import location_targets
from core.models.build import build_model
from core.models.registry import get_spec

# Non-square on purpose: a transposed reshape would swap H and W and change the shape.
SIZE = (64, 128)
KEYS = ["anterior_swinv2_cr_tiny", "anterior_swinv2_cr_full"]
_MODELS: dict[str, torch.nn.Module] = {}


def _model(key: str) -> torch.nn.Module:
    if key not in _MODELS:
        _MODELS[key] = build_model(get_spec(key, size=SIZE), seed=0).eval().requires_grad_(False)
    return _MODELS[key]


def _last_stage(key: str) -> str:
    """``stages.N`` of the hooked block ``stages.N.blocks.M``."""
    return get_spec(key).cam_layer.split(".blocks")[0]


def _capture(key: str, *names: str) -> list[torch.Tensor]:
    """Outputs of the named modules during one forward pass of one input."""
    model, seen = _model(key), {}
    handles = [
        model.get_submodule(n).register_forward_hook(lambda m, i, o, n=n: seen.update({n: o}))
        for n in names
    ]
    try:
        with torch.no_grad():
            model(torch.randn(1, 1, *SIZE, generator=torch.Generator().manual_seed(0)))
    finally:
        for h in handles:
            h.remove()
    return [seen[n] for n in names]


@pytest.mark.parametrize("key", KEYS)
def test_hooked_block_is_channels_last_and_stage_is_nchw(key: str) -> None:
    spec = get_spec(key, size=SIZE)
    block, stage = _capture(key, spec.cam_layer, _last_stage(key))
    channels = stage.shape[1]
    assert spec.cam_reshape == "bhwc_to_bchw"
    assert block.shape == (1, 2, 4, channels)  # (B, H/32, W/32, C): channels last
    assert stage.shape == (1, channels, 2, 4)  # the stage converts back to NCHW
    torch.testing.assert_close(bhwc_to_bchw(block), stage)


@pytest.mark.parametrize("key", KEYS)
def test_cam_through_reshape_equals_cam_on_the_nchw_stage_output(key: str) -> None:
    """Same activations reached two ways: block + our reshape, or timm's own NCHW stage."""
    spec = get_spec(key, size=SIZE)
    x = torch.randn(2, 1, *SIZE, generator=torch.Generator().manual_seed(0))
    targets = location_targets(spec, ["MCA", "ICA"])
    ours = compute_cams(_model(key), spec, x, targets, method="hirescam")
    stage_spec = get_spec(key, size=SIZE)
    object.__setattr__(stage_spec, "cam_layer", _last_stage(key))
    object.__setattr__(stage_spec, "cam_reshape", None)
    reference = compute_cams(_model(key), stage_spec, x, targets, method="hirescam")
    assert ours.raw.shape == (2, 2, 4)
    np.testing.assert_allclose(ours.raw, reference.raw, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("key", KEYS)
def test_a_transposing_reshape_would_be_caught(key: str) -> None:
    (block,) = _capture(key, get_spec(key).cam_layer)
    wrong = block.permute(0, 3, 2, 1)  # (B, C, W, H): the mistake this test guards against
    assert wrong.shape != bhwc_to_bchw(block).shape


def test_reshape_lookup() -> None:
    assert get_reshape(None) is None
    assert get_reshape("bhwc_to_bchw") is bhwc_to_bchw
    with pytest.raises(KeyError):
        get_reshape("swin_v1_tokens")
    with pytest.raises(ValueError):
        bhwc_to_bchw(torch.zeros(1, 49, 768))  # tokens (B, L, C) are not this layout
