"""Bundles: round trip, once-per-process loading, and every refusal of an unsafe or
inconsistent bundle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from models_fixtures import fixed_thresholds, tiny_models, tiny_specs, write_tiny_bundle
from safetensors.torch import load_file, save_file

from core.models.bundle import (
    CACHE_ENTRIES,
    BundleError,
    clear_bundle_cache,
    load_bundle,
    save_bundle,
    sha256_file,
)
from core.models.threshold_sets import save_threshold_set
from core.studies.aneurysm import schema_for

SCHEMA = schema_for()


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture
def copy(bundle_dir: Path, tmp_path: Path) -> Path:
    """A private copy to tamper with."""
    out = tmp_path / "copy"
    out.mkdir()
    for p in bundle_dir.iterdir():
        if p.is_file():
            (out / p.name).write_bytes(p.read_bytes())
    clear_bundle_cache()
    return out


def _edit_manifest(folder: Path, **changes: object) -> None:
    manifest = json.loads((folder / "bundle.json").read_text())
    for key, value in changes.items():
        if value is None:
            del manifest[key]
        else:
            manifest[key] = value
    (folder / "bundle.json").write_text(json.dumps(manifest))


def test_round_trip_gives_the_same_outputs(tmp_path: Path) -> None:
    models = tiny_models(seed=5)
    for m in models.values():
        m.eval()
    path = save_bundle(tmp_path / "b", models, tiny_specs(), fixed_thresholds(0.3, 0.6),
                       schema=SCHEMA, training_data={"n_images": 8},
                       metrics={"auroc": 0.5})  # fmt: skip
    bundle = load_bundle(path)
    assert bundle.thresholds.stage1 == 0.3 and set(bundle.thresholds.labels.values()) == {0.6}
    for role, model in models.items():
        loaded = bundle.model(role)
        assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
        x = torch.randn(2, 1, *bundle.spec(role).input.size)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x))
    manifest = json.loads((path / "bundle.json").read_text())
    assert manifest["models"]["stage1"]["sha256"] == sha256_file(path / "stage1.safetensors")
    assert manifest["training_data"] == {"n_images": 8} and manifest["combine"] == "max"
    assert set(manifest["libraries"]) >= {"torch", "timm", "torchvision", "numpy", "python"}
    assert manifest["preprocessing"]["per_role"]["stage1"]["stage1_transform"] is True


def test_loaded_once_per_process(bundle_dir: Path) -> None:
    first = load_bundle(bundle_dir)
    assert load_bundle(str(bundle_dir)) is first
    save_threshold_set(bundle_dir, "later", fixed_thresholds())  # does not touch bundle.json
    assert load_bundle(bundle_dir) is first
    with pytest.raises(TypeError):
        first.models["stage1"] = first.models["anterior"]  # type: ignore[index]


@pytest.mark.parametrize("name", ["extra.pt", "old.pth", "model.bin", "thresholds/x.pkl"])
def test_pickle_files_are_refused(copy: Path, name: str) -> None:
    (copy / name).parent.mkdir(exist_ok=True)
    torch.save({"w": torch.zeros(1)}, copy / name)
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(copy)


def test_weights_named_as_pickle_are_refused(copy: Path) -> None:
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["models"]["stage1"]["weights"] = "stage1.pth"
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError):
        load_bundle(copy)


def test_tampered_weights_are_refused(copy: Path) -> None:
    path = copy / "posterior.safetensors"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # one byte of one tensor
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(copy)


def test_wrong_shapes_are_refused_even_with_a_matching_hash(copy: Path) -> None:
    path = copy / "posterior.safetensors"
    state = load_file(str(path))
    state["fc.weight"] = torch.zeros(7, state["fc.weight"].shape[1])
    save_file(state, str(path))
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["models"]["posterior"]["sha256"] = sha256_file(path)
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"fc.weight: \(7, 512\)"):
        load_bundle(copy)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"format_version": 99}, "not a"),
        ({"notes": None}, "missing=\\['notes'\\]"),
        ({"surprise": 1}, "unknown=\\['surprise'\\]"),
        ({"combine": "median"}, "combine"),
        ({"thresholds": {"stage1": 0.5}}, "malformed"),
        ({"study": {"study": "nope", "labels": ["a"], "views": [], "groups": {},
                    "case_label": None}}, "unknown study 'nope'"),  # fmt: skip
        ({"study": SCHEMA.to_dict() | {"labels": ["L_ICA"]}}, "extra=|differ"),
    ],
)
def test_malformed_manifests_are_refused(copy: Path, changes: dict, message: str) -> None:
    _edit_manifest(copy, **changes)
    with pytest.raises(BundleError, match=message):
        load_bundle(copy)


def test_not_json_and_not_a_bundle(copy: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no bundle.json"):
        load_bundle(tmp_path / "nowhere")
    (copy / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(copy)


def test_save_checks_models_against_specs(tmp_path: Path) -> None:
    models, specs = tiny_models(), tiny_specs()
    models["anterior"], models["posterior"] = models["posterior"], models["anterior"]
    with pytest.raises(BundleError, match="does not match spec"):
        save_bundle(tmp_path / "b", models, specs, fixed_thresholds(), schema=SCHEMA)
    with pytest.raises(BundleError, match="roles"):
        save_bundle(
            tmp_path / "b", tiny_models(), {"stage1": specs["stage1"]}, fixed_thresholds(),
            schema=SCHEMA,
        )  # fmt: skip
    save_bundle(tmp_path / "ok", tiny_models(), specs, fixed_thresholds(), schema=SCHEMA)
    with pytest.raises(BundleError, match="already holds"):
        save_bundle(tmp_path / "ok", tiny_models(), specs, fixed_thresholds(), schema=SCHEMA)


def _as_v1(folder: Path) -> None:
    """Rewrite a bundle's manifest as the v1 format that bundles trained before studies
    existed have on disk: aneurysm-only, top-level groups, thresholds under locations."""
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest["format"], manifest["format_version"] = "aneurysm-review-bundle", 1
    manifest["groups"] = manifest.pop("study")["groups"]
    manifest["thresholds"]["locations"] = manifest["thresholds"].pop("labels")
    (folder / "bundle.json").write_text(json.dumps(manifest, indent=2))


def test_a_v1_bundle_loads_through_the_migration_without_a_changed_byte(copy: Path) -> None:
    reference = load_bundle(copy)
    clear_bundle_cache()
    _as_v1(copy)
    before = (copy / "bundle.json").read_bytes()
    migrated = load_bundle(copy)
    assert (copy / "bundle.json").read_bytes() == before  # migrated in memory only
    assert migrated.study == "aneurysm" and migrated.schema == reference.schema
    assert migrated.thresholds == reference.thresholds
    assert migrated.manifest_sha256 == hashlib.sha256(before).hexdigest()
    x = torch.randn(1, 1, *migrated.spec("stage1").input.size)
    with torch.no_grad():
        torch.testing.assert_close(
            migrated.model("stage1")(x), reference.model("stage1")(x)
        )


def test_loaded_bundles_live_in_one_bounded_cache(bundle_dir: Path, tmp_path: Path) -> None:
    clear_bundle_cache()
    copies = []
    for i in range(CACHE_ENTRIES + 1):
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        for p in bundle_dir.iterdir():
            if p.is_file():
                (folder / p.name).write_bytes(p.read_bytes())
        copies.append(load_bundle(folder))
    assert load_bundle(tmp_path / f"c{CACHE_ENTRIES}") is copies[-1]  # recent: kept
    assert load_bundle(tmp_path / "c0") is not copies[0]  # least recently used: dropped


def _edit_spec(folder: Path, role: str, path: str, value: object) -> None:
    """Set ``models.<role>.spec.<path>`` (dotted) in a bundle's manifest."""
    manifest = json.loads((folder / "bundle.json").read_text())
    *parents, last = path.split(".")
    node = manifest["models"][role]["spec"]
    for p in parents:
        node = node[p]
    node[last] = value
    (folder / "bundle.json").write_text(json.dumps(manifest))


@pytest.fixture
def no_builders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail loudly (and record) if a builder is reached: a refusal must come before it."""
    calls: list[str] = []

    def refuse(name: str, *args: object, **kwargs: object) -> None:
        calls.append(name)
        raise RuntimeError(f"timm.create_model({name!r}) was called")

    monkeypatch.setattr("timm.create_model", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return calls


@pytest.mark.parametrize(
    "role, path, value, message",
    [
        ("anterior", "arch", "timm:hf-hub:timm/swinv2_cr_tiny_ns_224", "not one this app builds"),
        ("anterior", "arch", "timm:local-dir:/tmp/model", "not one this app builds"),
        ("anterior", "arch", "timm:resnet50", "not one this app builds"),
        ("stage1", "arch", "torchvision:resnet50", "not one this app builds"),
        ("anterior", "arch_kwargs.checkpoint_path", "/etc/passwd", "checkpoint_path"),
        ("anterior", "arch_kwargs.pretrained_cfg_overlay", {"file": "/x"}, "pretrained_cfg"),
        ("anterior", "arch_kwargs.pretrained", True, "'pretrained'"),
        ("anterior", "arch_kwargs.embed_dim", "../../weights", "embed_dim"),
        ("anterior", "arch_kwargs.depths", [1, 1, 10_000], "depths"),
        ("posterior", "arch_kwargs.zero_init_residual", True, "allowed: none"),
        ("stage1", "input.size", [100_000, 100_000], "input size"),
        ("stage1", "input.size", [8, 8], "input size"),
        ("stage1", "input.in_chans", 4, "channels"),
        ("stage1", "labels", [f"L{i}" for i in range(65)], "1 to 64 labels"),
        ("stage1", "labels", [], "1 to 64 labels"),
    ],
)
def test_unsafe_specs_are_refused_before_any_builder(
    copy: Path, no_builders: list[str], role: str, path: str, value: object, message: str
) -> None:
    _edit_spec(copy, role, path, value)
    with pytest.raises(BundleError, match=message):
        load_bundle(copy)
    assert no_builders == []


def test_unsafe_spec_is_refused_when_the_manifest_is_read(copy: Path) -> None:
    """The sidebar and the cohort page read manifests without loading weights: they refuse
    a hub name too, without importing a builder."""
    from core.models.manifest import read_manifest

    _edit_spec(copy, "anterior", "arch", "timm:hf-hub:someone/model")
    with pytest.raises(BundleError, match="models.anterior.*hf-hub"):
        read_manifest(copy)
