"""The model bundle: a directory that carries the three networks with everything needed to
run, explain and audit them.

Layout::

    <bundle>/bundle.json               specs, thresholds, rules, provenance, SHA-256 of weights
    <bundle>/stage1.safetensors        one safetensors file per role
    <bundle>/anterior.safetensors
    <bundle>/posterior.safetensors
    <bundle>/thresholds/<name>.json    named threshold sets saved later (never bundle.json)

Loading is strict because a bundle may come from someone else: pickled weights
(.pt/.pth/.bin/.pkl/.ckpt) are refused outright (unpickling runs code), every weight file
must match its recorded SHA-256, ``bundle.json`` must have exactly the known fields and
format version, and every tensor must have the shape its spec builds. Each failure raises
:class:`BundleError` naming the file and the problem.

Loaded bundles are cached per process, keyed by resolved path, the SHA-256 of
``bundle.json`` and the device, so the app loads each model once. They are shared: treat
them as read-only (parameters are frozen; inference uses ``torch.no_grad`` or CAM inputs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from core.device import resolve_device
from core.models.build import build_model
from core.models.manifest import (
    COMBINE_RULES,
    FORMAT,
    FORMAT_VERSION,
    BundleError,
    json_default,
    libraries,
    parse_manifest,
    refuse_pickles,
    sha256_file,
    shape_errors,
)
from core.models.registry import ROLES, ModelSpec, RegistryError, Role
from core.models.thresholds import Thresholds, ThresholdsError
from core.schema import ORIGINAL_GROUPS, CirculationGroups, SchemaError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "COMBINE_RULES",
    "Bundle",
    "BundleError",
    "save_bundle",
    "load_bundle",
    "clear_bundle_cache",
    "sha256_file",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle. Models are in eval mode on ``device``, frozen, shared: never mutate."""

    path: Path
    name: str
    specs: Mapping[Role, ModelSpec]
    models: Mapping[Role, nn.Module]
    thresholds: Thresholds
    groups: CirculationGroups
    combine: str
    device: torch.device
    manifest: Mapping[str, Any]  # the parsed bundle.json
    manifest_sha256: str

    def model(self, role: Role) -> nn.Module:
        return self.models[role]

    def spec(self, role: Role) -> ModelSpec:
        return self.specs[role]


def _check_specs(specs: Mapping[Role, ModelSpec], groups: CirculationGroups) -> None:
    if set(specs) != set(ROLES):
        raise BundleError(f"a bundle needs exactly the roles {ROLES}, got {sorted(specs)}")
    for role, spec in specs.items():
        if spec.role != role:
            raise BundleError(f"spec {spec.key!r} has role {spec.role!r}, given as {role!r}")
        if role != "stage1" and spec.labels != groups.of(role):  # type: ignore[arg-type]
            wanted = groups.of(role)  # type: ignore[arg-type]
            raise BundleError(f"{role} labels {spec.labels} differ from the groups: {wanted}")


def save_bundle(
    path: str | Path,
    models: Mapping[Role, nn.Module],
    specs: Mapping[Role, ModelSpec],
    thresholds: Thresholds,
    *,
    name: str | None = None,
    groups: CirculationGroups = ORIGINAL_GROUPS,
    combine: str = "max",
    preprocessing: Mapping[str, Any] | None = None,
    training_data: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    notes: str = "",
    overwrite: bool = False,
) -> Path:
    """Write a bundle directory and return its path.

    ``preprocessing`` defaults to :func:`core.models.inputs.preprocessing_record`
    (stage-1 transform, resize interpolation per role, crop/text-fill version).
    ``training_data`` is the trainer's data fingerprint, ``metrics`` its validation metrics.
    The state dicts are checked against what each spec builds before anything is written.
    """
    from core.models.inputs import preprocessing_record

    out = Path(path)
    _check_specs(specs, groups)
    if combine not in COMBINE_RULES:
        raise BundleError(f"unknown A/B combine rule {combine!r}; use one of {COMBINE_RULES}")
    if (out / "bundle.json").exists() and not overwrite:
        raise BundleError(f"{out} already holds a bundle; pass overwrite=True to replace it")
    out.mkdir(parents=True, exist_ok=True)
    entries: dict[str, Any] = {}
    for role in ROLES:
        state = {k: v.detach().cpu().contiguous() for k, v in models[role].state_dict().items()}
        with torch.device("meta"):  # shapes only: no memory, no initialisation cost
            expected = build_model(specs[role]).state_dict()
        errors = shape_errors(expected, state)
        if errors:
            raise BundleError(f"{role} model does not match spec {specs[role].key}: {errors[:5]}")
        weights = out / f"{role}.safetensors"
        save_file(state, str(weights), metadata={"role": role, "key": specs[role].key})
        entries[role] = {
            "spec": specs[role].to_dict(),
            "weights": weights.name,
            "sha256": sha256_file(weights),
            "tensors": len(state),
        }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name or out.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": entries,
        "groups": groups.to_dict(),
        "thresholds": thresholds.to_dict(),
        "combine": combine,
        "preprocessing": dict(preprocessing or preprocessing_record(specs)),
        "training_data": dict(training_data) if training_data is not None else None,
        "metrics": dict(metrics) if metrics is not None else None,
        "libraries": libraries(),
        "notes": notes,
    }
    (out / "bundle.json").write_text(json.dumps(manifest, indent=2, default=json_default))
    log.info("saved bundle %s (%s)", out, ", ".join(s.key for s in specs.values()))
    return out


def _load_role(
    folder: Path, role: Role, entry: Mapping[str, Any], device: torch.device
) -> nn.Module:
    spec = ModelSpec.from_dict(entry["spec"])
    if spec.role != role:
        raise BundleError(f"{folder}: models.{role} holds a spec for role {spec.role!r}")
    weights = folder / str(entry["weights"])
    if weights.suffix != ".safetensors" or weights.parent != folder:
        raise BundleError(f"{folder}: {role} weights must be a .safetensors file in the bundle")
    if not weights.is_file():
        raise BundleError(f"{folder}: weight file {weights.name} is missing")
    digest = sha256_file(weights)
    if digest != entry["sha256"]:
        raise BundleError(
            f"{weights}: SHA-256 {digest[:12]}... differs from bundle.json "
            f"({str(entry['sha256'])[:12]}...): the file was changed or corrupted"
        )
    try:
        state = load_file(str(weights))
    except SafetensorError as exc:
        raise BundleError(f"{weights}: unreadable safetensors file ({exc})") from exc
    model = build_model(spec)
    errors = shape_errors(model.state_dict(), state)
    if errors:
        raise BundleError(f"{weights}: tensors do not fit {spec.key}: {errors[:5]}")
    model.load_state_dict(state, strict=True)
    model.requires_grad_(False)  # shared and read-only; CAM gets gradients from its input
    # channels-last: oneDNN and cuDNN convolutions run ~35 % faster on it, same numbers
    return model.eval().to(device, memory_format=torch.channels_last)


_CACHE: dict[tuple[str, str, str], Bundle] = {}
_CACHE_LOCK = threading.Lock()


def load_bundle(path: str | Path, device: str | torch.device | None = None) -> Bundle:
    """Load (once per process) and verify a bundle; raises :class:`BundleError`."""
    folder = Path(path).resolve()
    manifest_path = folder / "bundle.json"
    if not manifest_path.is_file():
        raise BundleError(f"{folder}: no bundle.json (not a bundle directory)")
    raw = manifest_path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    dev = resolve_device(device)
    key = (str(folder), digest, str(dev))
    with _CACHE_LOCK:  # one loader at a time: two sessions never load the same bundle twice
        if key in _CACHE:
            return _CACHE[key]
        manifest = parse_manifest(raw, folder)
        refuse_pickles(folder)
        try:
            groups = CirculationGroups.from_dict(manifest["groups"])
            thresholds = Thresholds.from_dict(manifest["thresholds"])
            models = {r: _load_role(folder, r, manifest["models"][r], dev) for r in ROLES}
            specs = {r: ModelSpec.from_dict(manifest["models"][r]["spec"]) for r in ROLES}
            _check_specs(specs, groups)
        except (KeyError, TypeError, RegistryError, SchemaError, ThresholdsError) as exc:
            raise BundleError(f"{folder}: malformed bundle.json ({exc!r})") from exc
        if manifest["combine"] not in COMBINE_RULES:
            raise BundleError(f"{folder}: unknown combine rule {manifest['combine']!r}")
        bundle = Bundle(
            path=folder,
            name=str(manifest["name"]),
            specs=MappingProxyType(specs),
            models=MappingProxyType(models),
            thresholds=thresholds,
            groups=groups,
            combine=manifest["combine"],
            device=dev,
            manifest=MappingProxyType(manifest),
            manifest_sha256=digest,
        )
        _CACHE[key] = bundle
    log.info("loaded bundle %s on %s", folder, dev)
    return bundle


def clear_bundle_cache() -> None:
    """Forget loaded bundles (tests; or after a bundle directory was replaced)."""
    with _CACHE_LOCK:
        _CACHE.clear()
