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

A bundle names its study (:mod:`core.studies`) and carries that study's schema; the study
says which model roles the bundle holds and checks the specs against the schema.

Loaded bundles are kept in one bounded, least-recently-used cache per process, keyed by
resolved path, the SHA-256 of ``bundle.json`` and the device, so the app loads each model
once and a day of bundle switching cannot grow memory without end. They are shared: treat
them as read-only (parameters are frozen; inference uses ``torch.no_grad`` or CAM inputs).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
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
    MANIFEST,
    BundleError,
    json_default,
    manifest_document,
    manifest_path,
    read_manifest,
    refuse_pickles,
    sha256_file,
    shape_errors,
)
from core.models.model_thread import on_model_thread
from core.models.registry import ModelSpec, RegistryError
from core.models.thresholds import Thresholds
from core.studies import StudyError, StudySchema, get_study

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
    "CACHE_ENTRIES",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle. Models are in eval mode on ``device``, frozen, shared: never mutate."""

    path: Path
    name: str
    schema: StudySchema
    specs: Mapping[str, ModelSpec]
    models: Mapping[str, nn.Module]
    thresholds: Thresholds
    combine: str
    device: torch.device
    manifest: Mapping[str, Any]  # the parsed bundle.json (v1 migrated to v2)
    manifest_sha256: str

    @property
    def study(self) -> str:
        return self.schema.study

    @property
    def settings(self) -> Mapping[str, Any]:
        """The study-specific settings block (empty when the bundle has none)."""
        return self.manifest.get("settings") or {}

    def model(self, role: str) -> nn.Module:
        return self.models[role]

    def spec(self, role: str) -> ModelSpec:
        return self.specs[role]


def _check_specs(specs: Mapping[str, ModelSpec], schema: StudySchema) -> None:
    study = get_study(schema.study)
    if (why := study.role_problem(specs)) is not None:
        raise BundleError(why)
    for role, spec in specs.items():
        if spec.role != role:
            raise BundleError(f"spec {spec.key!r} has role {spec.role!r}, given as {role!r}")
    if study.check_specs is None:
        raise BundleError(f"the {study.name} study has no models yet, so it takes no bundle")
    try:
        study.check_specs(specs, schema)
    except ValueError as exc:
        raise BundleError(str(exc)) from exc


def save_bundle(
    path: str | Path,
    models: Mapping[str, nn.Module],
    specs: Mapping[str, ModelSpec],
    thresholds: Thresholds,
    *,
    schema: StudySchema,
    name: str | None = None,
    combine: str = "max",
    preprocessing: Mapping[str, Any] | None = None,
    training_data: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    notes: str = "",
    settings: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a bundle directory and return its path.

    ``schema`` is the study's schema as trained (labels, views, groups); the thresholds
    must cover exactly its labels. ``preprocessing`` defaults to
    :func:`core.models.inputs.preprocessing_record` (stage-1 transform, resize
    interpolation per role, crop/text-fill version). ``training_data`` is the trainer's
    data fingerprint, ``metrics`` its validation metrics, ``settings`` the study-specific
    block (checked by the study, as on loading). The state dicts are checked
    against what each spec builds before anything is written.
    """
    from core.models.inputs import preprocessing_record

    out = Path(path)
    try:
        _check_specs(specs, schema)
        thresholds = thresholds.require(schema.labels)
        check_settings = get_study(schema.study).check_settings
        if settings and check_settings is None:
            raise ValueError(f"the {schema.study} study takes no bundle settings")
        if settings and check_settings is not None:
            check_settings(settings)
    except (StudyError, ValueError, TypeError, KeyError) as exc:
        raise BundleError(str(exc)) from exc
    if combine not in COMBINE_RULES:
        raise BundleError(f"unknown A/B combine rule {combine!r}; use one of {COMBINE_RULES}")
    if manifest_path(out).exists() and not overwrite:
        raise BundleError(f"{out} already holds a bundle; pass overwrite=True to replace it")
    out.mkdir(parents=True, exist_ok=True)
    entries: dict[str, Any] = {}
    for role in specs:
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
    manifest = manifest_document(
        name=name or out.name,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        schema=schema,
        models=entries,
        thresholds=thresholds,
        combine=combine,
        preprocessing=preprocessing or preprocessing_record(specs),
        training_data=training_data,
        metrics=metrics,
        notes=notes,
        settings=settings,
    )
    manifest_path(out).write_text(json.dumps(manifest, indent=2, default=json_default))
    log.info(
        "saved bundle %s (%s: %s)", out, schema.study, ", ".join(s.key for s in specs.values())
    )
    return out


def _load_role(
    folder: Path, role: str, entry: Mapping[str, Any], device: torch.device
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


#: Loaded bundles kept per process; the least recently used one is dropped beyond this.
CACHE_ENTRIES = 4
_CACHE: OrderedDict[tuple[str, str, str], Bundle] = OrderedDict()
_CACHE_LOCK = threading.Lock()


@on_model_thread
def load_bundle(path: str | Path, device: str | torch.device | None = None) -> Bundle:
    """Load (once per process, while cached) and verify a bundle; raises :class:`BundleError`."""
    manifest = read_manifest(path)
    folder = manifest.folder
    dev = resolve_device(device)
    key = (str(folder), manifest.sha256, str(dev))
    with _CACHE_LOCK:  # one loader at a time: two sessions never load the same bundle twice
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        refuse_pickles(folder)
        roles = manifest.roles
        entries = manifest.raw["models"]
        try:
            specs = {r: ModelSpec.from_dict(entries[r]["spec"]) for r in roles}
            _check_specs(specs, manifest.schema)
            models = {r: _load_role(folder, r, entries[r], dev) for r in roles}
        except (KeyError, TypeError, RegistryError, StudyError) as exc:
            raise BundleError(f"{folder}: malformed {MANIFEST} ({exc!r})") from exc
        bundle = Bundle(
            path=folder,
            name=manifest.name,
            schema=manifest.schema,
            specs=MappingProxyType(specs),
            models=MappingProxyType(models),
            thresholds=manifest.thresholds,
            combine=manifest.combine,
            device=dev,
            manifest=MappingProxyType(dict(manifest.raw)),
            manifest_sha256=manifest.sha256,
        )
        _CACHE[key] = bundle
        while len(_CACHE) > CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    log.info("loaded %s bundle %s on %s", manifest.study, folder, dev)
    return bundle


def clear_bundle_cache() -> None:
    """Forget loaded bundles (tests; or after a bundle directory was replaced)."""
    with _CACHE_LOCK:
        _CACHE.clear()
