"""Chest detector families in the model registry: they build from a spec (also one read
back from JSON, also in a fresh process), follow one torchvision-style contract in train
and eval mode, learn an easy example, survive a safetensors round trip strictly, and take
local pretrained weights (never a pickle with code in it)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.models.build import build_model
from core.models.chest_models import CLASSIFIER_LABELS, DETECTOR_KEYS
from core.models.pretrained import WeightsError, load_detector_weights, read_state_dict
from core.models.registry import ModelSpec, RegistryError, get_spec, list_specs
from core.models.spec_checks import ARCHITECTURES, SpecRefused, check_spec_dict
from core.studies.chest.classes import CLASSES
from core.studies.chest.detectors import (
    DETECTOR_ARCHS,
    DetectorContractError,
    yolox_available,
)

SIDE = 128
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hub(*args: object, **kwargs: object) -> None:
        raise AssertionError("a builder tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_hub)
    monkeypatch.setattr("timm.models._builder.load_pretrained", no_hub)


def _build(key: str, side: int = SIDE, seed: int = 0) -> tuple[ModelSpec, torch.nn.Module]:
    spec = get_spec(key, size=side)
    return spec, build_model(spec, seed=seed)


def _square_film(side: int = SIDE) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A dark film with one bright square labelled Cardiomegaly (class 3)."""
    x = torch.zeros(1, side, side)
    a, b = side // 4, side // 4 + side // 2
    x[:, a:b, a:b] = 1.0
    box = torch.tensor([[a, a, b, b]], dtype=torch.float32)
    return x, {"boxes": box, "labels": torch.tensor([3])}


def _empty() -> dict[str, torch.Tensor]:
    return {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}


# ---- registry and spec ---------------------------------------------------------------


@pytest.mark.parametrize("key", [*DETECTOR_KEYS, "chest_classifier"])
def test_entry_builds_and_round_trips(key: str) -> None:
    spec = get_spec(key)
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.arch in ARCHITECTURES and set(spec.arch_kwargs) <= set(ARCHITECTURES[spec.arch])
    assert spec.input.in_chans == 1
    if key == "chest_classifier":
        assert spec.role == "classifier" and spec.labels == CLASSIFIER_LABELS
        assert spec.input.size == (256, 256) and spec.cam_layer == "layer4"
        return
    assert spec.role == "detector" and spec.labels == CLASSES and len(spec.labels) == 14
    assert spec.input.size == (512, 512)
    assert get_spec(key, size=384).input.size == (384, 384)
    model = build_model(get_spec(key, size=SIDE), seed=0)
    model.get_submodule(spec.cam_layer)  # EigenCAM's layer exists


def test_detectors_are_square_and_yolox_follows_its_package() -> None:
    with pytest.raises(RegistryError, match="square"):
        get_spec("chest_frcnn", size=(384, 512))
    assert ("chest_yolox" in list_specs("detector")) == yolox_available()
    assert set(DETECTOR_KEYS) == set(list_specs("detector"))


@pytest.mark.parametrize("key", DETECTOR_KEYS)
def test_spec_checks_refuse_unknown_and_path_like_arguments(key: str) -> None:
    spec = get_spec(key)
    for kwargs in ({"checkpoint_path": "/etc/passwd"}, {"fpn_channels": "/tmp/x.pth"},
                   {"fpn_channels": "https://example.org/w.pth"}, {"fpn_channels": 4096}):  # fmt: skip
        bad = replace(spec, arch_kwargs={**spec.arch_kwargs, **kwargs}).to_dict()
        with pytest.raises(SpecRefused):
            check_spec_dict(bad)
        with pytest.raises(RegistryError, match="refused"):
            ModelSpec.from_dict(bad)
    with pytest.raises(RegistryError, match="not one this app builds"):
        ModelSpec.from_dict({**spec.to_dict(), "arch": "torchvision:fasterrcnn_resnet50_fpn"})


def test_fpn_width_must_suit_group_norm() -> None:
    spec = get_spec("chest_fcos", size=SIDE)
    with pytest.raises(RegistryError, match="multiple of 32"):
        build_model(replace(spec, arch_kwargs={"fpn_channels": 48}))


@pytest.mark.parametrize("arch", DETECTOR_ARCHS)
def test_every_allow_listed_detector_arch_builds(arch: str) -> None:
    """Architectures no entry uses yet (lite0, nano, s) are allow-listed: they must build."""
    if arch.startswith("yolox:") and not yolox_available():
        pytest.skip("yolox not installed")
    assert arch in ARCHITECTURES
    base = get_spec("chest_fcos", size=SIDE)
    spec = replace(base, arch=arch, arch_kwargs={} if ":fcos" not in arch else base.arch_kwargs)
    spec = ModelSpec.from_dict(spec.to_dict())
    model = build_model(spec, seed=0).eval()
    with torch.no_grad():
        assert len(model(torch.rand(1, 1, SIDE, SIDE))) == 1


# ---- the contract --------------------------------------------------------------------


@pytest.mark.parametrize("key", DETECTOR_KEYS)
def test_eval_output_follows_the_contract(key: str) -> None:
    _, model = _build(key)
    model.eval()
    film, _ = _square_film()
    with torch.no_grad():
        out = model(torch.stack([film, torch.rand(1, SIDE, SIDE)]))
        as_list = model([film])  # a list of [1, H, W] works too
    assert len(out) == 2 and len(as_list) == 1
    for det in out:
        assert set(det) == {"boxes", "scores", "labels"}
        n = len(det["scores"])
        assert n <= 100 and det["boxes"].shape == (n, 4) and det["labels"].shape == (n,)
        assert det["labels"].dtype == torch.int64
        if n:
            assert bool((det["labels"] >= 0).all() and (det["labels"] <= 13).all())
            assert bool((det["boxes"] >= 0).all() and (det["boxes"] <= SIDE).all())
            assert bool((det["boxes"][:, 2:] > det["boxes"][:, :2]).all())
            assert bool((det["scores"][:-1] >= det["scores"][1:]).all())


@pytest.mark.parametrize("key", DETECTOR_KEYS)
def test_train_step_with_an_empty_target_is_finite(key: str) -> None:
    _, model = _build(key)
    model.train()
    film, target = _square_film()
    losses = model(torch.stack([film, torch.zeros(1, SIDE, SIDE)]), [target, _empty()])
    assert losses and all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, unused[:5]  # DDP needs no find_unused_parameters
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.zero_grad()
    only_normal = model(torch.zeros(2, 1, SIDE, SIDE), [_empty(), _empty()])
    assert all(torch.isfinite(v) for v in only_normal.values())


@pytest.mark.parametrize("key", DETECTOR_KEYS)
def test_contract_errors_are_specific(key: str) -> None:
    _, model = _build(key)
    model.train()
    with pytest.raises(DetectorContractError, match="targets"):
        model(torch.zeros(1, 1, SIDE, SIDE))
    bad = {"boxes": torch.tensor([[1.0, 1.0, 5.0, 5.0]]), "labels": torch.tensor([14])}
    with pytest.raises(DetectorContractError, match="labels"):
        model(torch.zeros(1, 1, SIDE, SIDE), [bad])
    with pytest.raises(DetectorContractError, match=r"\[B, 1, H, W\]"):
        model(torch.zeros(1, 3, SIDE, SIDE), [_empty()])


@pytest.mark.parametrize("key", DETECTOR_KEYS)
def test_a_few_steps_learn_one_easy_example(key: str) -> None:
    torch.manual_seed(0)
    _, model = _build(key)
    model.train()
    film, target = _square_film()
    images, targets = torch.stack([film, film]), [target, target]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(8):
        loss = sum(model(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    assert min(history[-3:]) < 0.8 * history[0], history


# ---- weights -------------------------------------------------------------------------


@pytest.mark.parametrize("key", DETECTOR_KEYS)
def test_safetensors_round_trip_rebuilds_strictly(key: str, tmp_path: Path) -> None:
    spec, model = _build(key, seed=1)
    model.eval()
    path = tmp_path / "detector.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    with torch.device("meta"):  # what save_bundle checks the shapes against
        expected = build_model(spec).state_dict()
    state = load_file(str(path))
    assert {k: tuple(v.shape) for k, v in expected.items()} == {
        k: tuple(v.shape) for k, v in state.items()
    }
    rebuilt = build_model(ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))), seed=7)
    rebuilt.load_state_dict(state, strict=True)
    rebuilt.eval()
    x = _square_film()[0][None]
    with torch.no_grad():
        a, b = model(x)[0], rebuilt(x)[0]
    assert torch.equal(a["labels"], b["labels"]) and torch.allclose(a["scores"], b["scores"])


def test_a_spec_from_a_bundle_builds_in_a_fresh_process() -> None:
    """build_model loads the registry's built-in modules (the builders) before dispatching."""
    spec = json.dumps(get_spec("chest_fcos", size=64).to_dict())
    code = (
        "import json, sys\n"
        "from core.models.build import build_model\n"
        "from core.models.registry import ModelSpec\n"
        f"m = build_model(ModelSpec.from_dict(json.loads({spec!r})))\n"
        "print(type(m).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "ChestFCOS"


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize("key", DETECTOR_KEYS)
def test_same_arch_weights_load(key: str, suffix: str, tmp_path: Path) -> None:
    spec, source = _build(key, seed=3)
    path = tmp_path / f"coco{suffix}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    if suffix == ".pth":
        torch.save({"model": state, "epoch": 3}, path)  # a checkpoint-style wrapper
    else:
        save_file(state, str(path))
    _, model = _build(key, seed=4)
    report = load_detector_weights(model, spec, path)
    assert report.n_loaded == len(state) > 0 and not report.skipped
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def _imagenet(key: str) -> tuple[torch.nn.Module, str, str, str]:
    """A randomly initialised RGB ImageNet classifier of the detector's backbone, the
    stem's name in it and in the detector, and the detector's name of the classifier head."""
    if key == "chest_effdet":
        import timm

        net = timm.create_model("efficientnet_b0", pretrained=False)
        return net, "conv_stem.weight", "backbone.conv_stem.weight", "backbone.classifier.weight"
    from torchvision.models import resnet18

    return (
        resnet18(weights=None),
        "conv1.weight",
        "backbone.body.conv1.weight",
        "backbone.body.fc.weight",
    )


@pytest.mark.parametrize("key", ["chest_frcnn", "chest_effdet"])
def test_an_rgb_imagenet_backbone_initialises_a_grey_detector(key: str, tmp_path: Path) -> None:
    """An ImageNet classifier file (its names lack the backbone prefix, its stem is RGB)
    loads into the backbone, the stem summed to one channel, the ImageNet head skipped."""
    imagenet, stem, model_stem, head = _imagenet(key)
    path = tmp_path / "imagenet.pth"
    torch.save(imagenet.state_dict(), path)
    spec, model = _build(key)
    report = load_detector_weights(model, spec, path)
    assert report.adapted == [model_stem]
    assert head in report.skipped  # no such tensor in a detector
    assert report.n_loaded >= 100
    rgb = imagenet.state_dict()[stem]
    assert torch.allclose(model.state_dict()[model_stem], rgb.sum(1, keepdim=True))


@pytest.mark.skipif(not yolox_available(), reason="yolox not installed")
def test_a_coco_yolox_stem_is_folded_to_grey(tmp_path: Path) -> None:
    """YOLOX's Focus stem sees 4 shifted RGB copies (12 channels): each copy is summed."""
    grey = get_spec("chest_yolox", size=SIDE)
    rgb = replace(grey, input=replace(grey.input, in_chans=3, mean=(0.0,) * 3, std=(1.0,) * 3))
    coco = build_model(rgb, seed=0)
    path = tmp_path / "yolox_tiny.pth"
    torch.save({"model": coco.state_dict(), "start_epoch": 300}, path)
    model = build_model(grey, seed=1)
    report = load_detector_weights(model, grey, path)
    stem = "backbone.backbone.stem.conv.conv.weight"
    assert report.adapted == [stem] and report.n_loaded == len(model.state_dict())
    w = coco.state_dict()[stem]
    assert torch.allclose(model.state_dict()[stem], w.reshape(w.shape[0], 4, 3, 3, 3).sum(2))


def test_a_pickle_with_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(WeightsError, match="cannot read weights"):
        read_state_dict(path)
    spec, model = _build("chest_fcos")
    with pytest.raises(WeightsError):
        load_detector_weights(model, spec, path)
