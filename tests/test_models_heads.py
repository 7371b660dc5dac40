"""The cell_max head, its training switch, Platt folding, and the stage-1 stem transfer."""

from __future__ import annotations

import pytest
import torch

from core.models.build import build_model, load_stage1_stem, set_input_side, stem_modules
from core.models.heads import CellMaxLinear, emit_cell_maps, fold_affine
from core.models.registry import RegistryError, get_spec


def _head(k: int = 3, c: int = 4) -> CellMaxLinear:
    torch.manual_seed(0)
    return CellMaxLinear(c, k)


def test_cell_max_is_the_max_over_per_cell_linear_outputs() -> None:
    head = _head()
    x = torch.randn(2, 4, 3, 5)
    by_hand = torch.stack(
        [
            torch.stack([head.weight @ x[b, :, i, j] + head.bias for i in range(3) for j in range(5)])
            for b in range(2)
        ]
    )  # (B, cells, K)
    torch.testing.assert_close(head(x), by_hand.amax(dim=1))
    # torchvision hands fc the flattened (B, C*H*W) tensor: same answer
    torch.testing.assert_close(head(torch.flatten(x, 1)), head(x))


def test_emit_cell_maps_switches_on_and_always_back_off() -> None:
    model = torch.nn.Sequential(_head())
    x = torch.randn(2, 4, 3, 5)
    with emit_cell_maps(model):
        assert model(x).shape == (2, 3, 15)
    assert model(x).shape == (2, 3)
    with pytest.raises(RuntimeError), emit_cell_maps(model):
        raise RuntimeError("a failing training step")
    assert model(x).shape == (2, 3)  # restored even so
    with pytest.raises(ValueError), emit_cell_maps(torch.nn.Linear(2, 2)):
        pass


def test_fold_affine_rescales_the_logit_exactly() -> None:
    head = _head()
    x = torch.randn(2, 4, 3, 5)
    before = head(x)
    fold_affine(head, 0.5, -2.0)
    torch.testing.assert_close(head(x), 0.5 * before - 2.0)
    with pytest.raises(ValueError):
        fold_affine(head, -1.0, 0.0)  # a negative scale would flip the max into a min


@pytest.mark.parametrize("key", ["stage1_resnet18_tiny", "posterior_resnet18_tiny"])
def test_resnet_cell_max_logit_is_its_most_suspicious_cell(key: str) -> None:
    spec = get_spec(key)
    model = build_model(spec, seed=0).eval()
    x = torch.randn(2, 1, 64, 64)
    feats = {}
    model.layer4.register_forward_hook(lambda m, i, o: feats.update(out=o))
    logits = model(x)
    cells = torch.einsum("bchw,kc->bkhw", feats["out"], model.fc.weight)
    cells = cells + model.fc.bias[None, :, None, None]
    torch.testing.assert_close(logits, cells.flatten(2).amax(2))


def test_stage1_stem_is_copied_into_both_location_models() -> None:
    stage1 = build_model(get_spec("stage1_resnet18_tiny"), seed=0)
    for key in ("posterior_resnet18_tiny", "anterior_swinv2_cr_tiny"):
        spec = get_spec(key)
        model = build_model(spec, seed=5)
        n = load_stage1_stem(model, spec, stage1)
        assert n > 0
        for name, module in stem_modules(model, spec).items():
            for k, v in module.state_dict().items():
                torch.testing.assert_close(v, stage1.get_submodule(name).state_dict()[k])
    with pytest.raises(RegistryError):  # the original SwinV2-CR has no ResNet stem
        stem_modules(build_model(get_spec("anterior_swinv2_cr_full", size=64)),
                     get_spec("anterior_swinv2_cr_full"))  # fmt: skip


def test_swin_takes_crop_sized_inputs_and_goes_back() -> None:
    spec = get_spec("anterior_swinv2_cr_tiny")
    model = build_model(spec, seed=0).eval()
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        before = model(x)
        set_input_side(model, spec, 32)
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, len(spec.labels))
        set_input_side(model, spec, 64)
        torch.testing.assert_close(model(x), before)  # weights never depended on the size
