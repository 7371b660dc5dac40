"""The model registry: specs round-trip, labels follow the circulation groups, every entry
builds the network it names without reaching for a hub."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from core.models.build import build_model
from core.models.aneurysm_models import ROLES, default_keys
from core.models.registry import ModelSpec, RegistryError, get_spec, list_specs
from core.models.spec_checks import ARCHITECTURES, check_spec_dict
from core.schema import ORIGINAL_GROUPS, CirculationGroups


@pytest.mark.parametrize("key", list_specs())
def test_spec_round_trips_through_dict(key: str) -> None:
    spec = get_spec(key)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.key == key and spec.role in (*ROLES, "detector", "classifier")


def test_labels_follow_role_and_groups() -> None:
    assert get_spec("stage1_resnet18_full").labels == ("Aneurysm",)
    assert get_spec("anterior_swinv2_cr_full").labels == ORIGINAL_GROUPS.anterior
    assert get_spec("posterior_resnet18_full").labels == ORIGINAL_GROUPS.posterior
    pcom_front = CirculationGroups(
        anterior=(*ORIGINAL_GROUPS.anterior, "PCOM"),
        posterior=tuple(b for b in ORIGINAL_GROUPS.posterior if b != "PCOM"),
    )
    assert get_spec("anterior_swinv2_cr_tiny", groups=pcom_front).num_outputs == 6
    assert get_spec("posterior_resnet18_tiny", groups=pcom_front).num_outputs == 5


def test_original_input_specs() -> None:
    s1 = get_spec("stage1_resnet18_full")
    assert s1.input.size == (724, 724) and s1.input.in_chans == 1
    assert s1.input.mean == (0.5,) and s1.input.std == (0.5,) and s1.input.stage1_transform
    assert get_spec("anterior_swinv2_cr_full").input.size == (224, 224)
    assert not get_spec("posterior_resnet18_full").input.stage1_transform


@pytest.mark.parametrize("key", list_specs())
def test_every_entry_builds_with_the_right_outputs(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hub(*args: object, **kwargs: object) -> None:
        raise AssertionError("a builder tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_hub)
    monkeypatch.setattr("timm.models._builder.load_pretrained", no_hub)
    spec = get_spec(key)
    model = build_model(spec, seed=0).eval()
    model.get_submodule(spec.cam_layer)  # the CAM layer exists (raises otherwise)
    if "full" in key:  # the real sizes: check the architecture, skip the costly forward
        n_params = sum(p.numel() for p in model.parameters())
        assert n_params > (27_000_000 if spec.role == "anterior" else 11_000_000)
        return
    x = torch.zeros(2, spec.input.in_chans, *spec.input.size)
    with torch.no_grad():
        out = model(x)
    if spec.role == "detector":  # the torchvision detection contract: one dict per image
        assert len(out) == 2 and all(set(o) == {"boxes", "scores", "labels"} for o in out)
    else:
        assert out.shape == (2, spec.num_outputs)


def test_size_is_a_parameter_of_the_entry() -> None:
    spec = get_spec("anterior_swinv2_cr_demo", size=96)
    assert spec.input.size == (96, 96) and spec.arch_kwargs["img_size"] == (96, 96)
    with torch.no_grad():
        assert build_model(spec).eval()(torch.zeros(1, 1, 96, 96)).shape == (1, 5)
    assert get_spec("stage1_resnet18_demo", size=(160, 160)).input.size == (160, 160)


def test_default_keys_and_unknown_key() -> None:
    assert default_keys("demo") == {
        "stage1": "stage1_resnet18_demo",
        "anterior": "anterior_swinv2_cr_demo",
        "posterior": "posterior_resnet18_demo",
    }
    assert set(list_specs("stage1")) == {f"stage1_resnet18_{p}" for p in ("full", "demo", "tiny")}
    with pytest.raises(RegistryError, match="unknown model"):
        get_spec("resnet50")


def test_demo_entries_say_they_are_not_full_size() -> None:
    for key in list_specs():
        if key.endswith("_demo"):
            assert "not the full model" in get_spec(key).note


@pytest.mark.parametrize("key", list_specs())
def test_every_entry_is_within_the_spec_allow_list(key: str) -> None:
    """The allow-list names what the registry builds: a new entry with a new architecture
    or argument fails here until the allow-list says what it may take."""
    spec = get_spec(key)
    assert spec.arch in ARCHITECTURES
    assert set(spec.arch_kwargs) <= set(ARCHITECTURES[spec.arch])
    check_spec_dict(spec.to_dict())


@pytest.mark.parametrize(
    "arch", ["timm:hf-hub:timm/swinv2_cr_tiny_ns_224", "timm:local-dir:/models/x", "timm:vit_base"]
)
def test_unknown_architectures_are_refused_before_timm(
    arch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("timm.create_model was reached")

    monkeypatch.setattr("timm.create_model", never)
    spec = replace(get_spec("anterior_swinv2_cr_tiny"), arch=arch)
    with pytest.raises(RegistryError, match="not one this app builds"):
        ModelSpec.from_dict(spec.to_dict())
    with pytest.raises(RegistryError, match="hub and local-dir names are refused"):
        build_model(spec)


def test_arguments_are_allow_listed_per_architecture() -> None:
    swin = get_spec("anterior_swinv2_cr_tiny")
    for kwargs, message in [
        ({"checkpoint_path": "/etc/shadow"}, "checkpoint_path"),
        ({"pretrained_cfg_overlay": {"file": "x.pth"}}, "pretrained_cfg_overlay"),
        ({"img_size": (4096, 4096)}, r"img_size=\[4096, 4096\] must be ints in \[16, 2048\]"),
        ({"embed_dim": True}, "embed_dim"),  # a bool is not a width
        ({"mlp_ratio": float("nan")}, "mlp_ratio"),
    ]:
        bad = replace(swin, arch_kwargs={**swin.arch_kwargs, **kwargs})
        with pytest.raises(RegistryError, match=message):
            ModelSpec.from_dict(bad.to_dict())
    resnet = get_spec("posterior_resnet18_tiny")
    with pytest.raises(RegistryError, match="allowed: none"):
        build_model(replace(resnet, arch_kwargs={"norm_layer": "torch.nn.Identity"}))
    wide = replace(resnet, input=replace(resnet.input, size=(4096, 64)))
    with pytest.raises(RegistryError, match="input size"):
        build_model(wide)
