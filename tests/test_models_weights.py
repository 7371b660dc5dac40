"""Local weight files: MedicalNet 3-D -> 2-D conversion and ImageNet initialisation, on
fabricated files (never downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torchvision.models import resnet18

from core.models.build import build_from_key, build_model
from core.models.medicalnet import collapse_depth, load_medicalnet
from core.models.pretrained import NoMatchingWeights, WeightsError, load_imagenet
from core.models.registry import get_spec


class NotATensor:
    """A pickled object: ``weights_only`` loading must refuse it."""


def _medicalnet_like(seed: int = 0, depth: int = 3) -> dict[str, torch.Tensor]:
    """A MedicalNet-style ResNet18 state dict: ``module.`` keys, 5-D convs, a seg head."""
    g = torch.Generator().manual_seed(seed)
    model = build_from_key("stage1_resnet18_tiny")
    out = {}
    for key, value in model.state_dict().items():
        if key.startswith("fc."):
            continue
        if value.ndim == 4:
            d = depth if value.shape[-1] > 1 else 1
            value = torch.randn(value.shape[0], value.shape[1], d, *value.shape[2:], generator=g)
        elif value.is_floating_point():
            value = torch.rand(value.shape, generator=g) + 0.5
        out[f"module.{key}"] = value
    out["module.conv_seg.0.weight"] = torch.randn(32, 512, 3, 3, 3, generator=g)
    out["module.conv_seg.0.bias"] = torch.randn(32, generator=g)
    return out


def test_sum_over_depth_matches_3d_conv_on_a_depth_constant_volume() -> None:
    g = torch.Generator().manual_seed(1)
    w3 = torch.randn(4, 1, 7, 7, 7, generator=g)
    image = torch.randn(1, 1, 24, 24, generator=g)
    volume = image.unsqueeze(2).repeat(1, 1, 15, 1, 1)  # the image stacked along depth
    out3 = F.conv3d(volume, w3, padding=3)[:, :, 7]  # a slice away from the depth borders
    out2 = F.conv2d(image, collapse_depth(w3), padding=3)
    torch.testing.assert_close(out3, out2, rtol=1e-4, atol=1e-4)


def test_medicalnet_file_loads_with_depth_collapsed(tmp_path: Path) -> None:
    state = _medicalnet_like()
    path = tmp_path / "resnet_18.pth"
    torch.save(state, path)
    model = build_from_key("stage1_resnet18_tiny", seed=3)
    report = load_medicalnet(model, path)
    n_target = len(model.state_dict())
    assert report.n_loaded == n_target - 2  # everything but the fc head
    assert sorted(report.missing) == ["fc.bias", "fc.weight"]
    assert "conv_seg.0.weight" in report.skipped and "conv_seg.0.bias" in report.skipped
    assert len(report.adapted) == sum(v.ndim == 5 for v in state.values()) - 1  # minus conv_seg
    torch.testing.assert_close(model.conv1.weight, state["module.conv1.weight"].sum(2))
    torch.testing.assert_close(model.bn1.running_var, state["module.bn1.running_var"])
    torch.testing.assert_close(
        model.layer2[0].downsample[0].weight, state["module.layer2.0.downsample.0.weight"].sum(2)
    )


def test_medicalnet_none_matching_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"module.encoder.weight": torch.zeros(3, 3, 3, 3, 3)}, path)
    with pytest.raises(NoMatchingWeights, match="none of its"):
        load_medicalnet(build_from_key("stage1_resnet18_tiny"), path)
    wide = {k: torch.zeros(*v.shape[:1], v.shape[1] + 1, *v.shape[2:]) if v.ndim == 5 else v
            for k, v in _medicalnet_like().items() if v.ndim == 5}  # fmt: skip
    torch.save(wide, path)  # right names, wrong shapes (e.g. another depth of ResNet)
    with pytest.raises(NoMatchingWeights):
        load_medicalnet(build_from_key("stage1_resnet18_tiny"), path)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": NotATensor()}, path)
    with pytest.raises(WeightsError, match="cannot read"):
        load_medicalnet(build_from_key("stage1_resnet18_tiny"), path)


def test_torchvision_imagenet_file_into_one_channel_six_output_model(tmp_path: Path) -> None:
    source = resnet18(weights=None, num_classes=1000)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(source.state_dict(), path)
    spec = get_spec("posterior_resnet18_tiny")
    model = build_from_key("posterior_resnet18_tiny", seed=1)
    report = load_imagenet(model, spec, path)
    assert report.adapted == ["conv1.weight"]
    assert set(report.skipped) == {"fc.weight", "fc.bias"}  # the ImageNet head is dropped
    assert report.n_loaded == len(model.state_dict()) - 2
    torch.testing.assert_close(model.conv1.weight, source.conv1.weight.sum(1, keepdim=True))


def test_timm_swin_safetensors_file(tmp_path: Path) -> None:
    """ImageNet weights fit the original SwinV2-CR (the demo's hybrid has a ResNet stem)."""
    spec = get_spec("anterior_swinv2_cr_full", size=64)
    source = timm.create_model(
        "swinv2_cr_tiny_ns_224", pretrained=False, num_classes=1000, **spec.arch_kwargs
    )
    path = tmp_path / "swin.safetensors"
    save_file(source.state_dict(), str(path))
    model = build_model(spec, seed=2)
    report = load_imagenet(model, spec, path)
    assert report.adapted == ["patch_embed.proj.weight"]
    assert set(report.skipped) == {"head.fc.weight", "head.fc.bias"}
    torch.testing.assert_close(
        model.patch_embed.proj.weight, source.patch_embed.proj.weight.sum(1, keepdim=True)
    )


def test_wrong_architecture_imagenet_file_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "resnet.safetensors"
    state = {k: v.contiguous() for k, v in resnet18(weights=None).state_dict().items()}
    save_file(state, str(path))
    spec = get_spec("anterior_swinv2_cr_tiny")
    with pytest.raises(NoMatchingWeights):
        load_imagenet(build_from_key("anterior_swinv2_cr_tiny"), spec, path)
