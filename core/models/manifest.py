"""The on-disk format of a bundle: the one typed reader of ``bundle.json``.

Kept apart from :mod:`core.models.bundle` (which builds and caches models) so the rules a
bundle must satisfy read in one place: exact field set and format version, the study it
serves and that study's schema, the model roles that study needs, specs that name only
architectures and arguments this app builds (:mod:`core.models.spec_checks`), safetensors
only (any pickle-format file in the folder is refused), and a SHA-256 per weight file.
Everything that wants a bundle's name, thresholds, schema or hash without its weights (the
cohort page, threshold sets, cache keys) calls :func:`read_manifest`.

Format history: v1 (``aneurysm-review-bundle``) was the aneurysm study's only format and
had a top-level ``groups``; v2 (``review-bundle``) names its study and carries the study's
schema, groups included. A v1 file is migrated in memory when read and never rewritten,
so its SHA-256 (and every cache key and verdict that names it) stays the same.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from core.models.spec_checks import SpecRefused, check_spec_dict
from core.models.thresholds import Thresholds, ThresholdsError
from core.studies import StudyError, StudySchema, get_study

if TYPE_CHECKING:  # reading a manifest must not import torch and timm (seconds)
    import torch

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "COMBINE_RULES",
    "BundleError",
    "Manifest",
    "manifest_document",
    "manifest_path",
    "is_bundle_dir",
    "read_manifest",
    "parse_manifest",
    "sha256_file",
    "libraries",
    "shape_errors",
    "json_default",
    "refuse_pickles",
]

FORMAT = "review-bundle"
FORMAT_VERSION = 2
#: The manifest's file name inside a bundle directory.
MANIFEST = "bundle.json"
_V1 = ("aneurysm-review-bundle", 1)
#: How the A and B views of one side are combined into one location score
#: (:func:`core.schema.regenerate_locations`; ``joint_*`` weighs each view by stage 1).
COMBINE_RULES = ("max", "mean", "joint_max", "joint_mean")
_PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt", ".tar"}
_FIELDS = {
    "format", "format_version", "name", "created", "study", "models", "thresholds",
    "combine", "preprocessing", "training_data", "metrics", "libraries", "notes",
}  # fmt: skip
#: Fields a manifest may leave out: ``settings`` (study-specific: a chest bundle's reader
#: fusion, ensemble fusion and classifier rule) came after the first v2 files.
_OPTIONAL = {"settings"}
_MODEL_FIELDS = {"spec", "weights", "sha256", "tensors"}


class BundleError(RuntimeError):
    """A bundle cannot be written or loaded; the message names the file and the reason."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks (weights can be hundreds of MB)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def libraries() -> dict[str, str]:
    """Versions of what built the bundle: the loaded module's own (``2.14.1+cu130`` names
    the build), else the package metadata's, so reading this needs no heavy import."""

    def installed(name: str) -> str:
        module = sys.modules.get(name)
        if module is not None:
            return str(module.__version__)
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    names = ("torch", "torchvision", "timm", "numpy", "safetensors")
    return {"python": platform.python_version()} | {n: installed(n) for n in names}


def shape_errors(
    expected: Mapping[str, torch.Tensor], got: Mapping[str, torch.Tensor]
) -> list[str]:
    errors = [f"missing {k}" for k in expected if k not in got]
    errors += [f"unexpected {k}" for k in got if k not in expected]
    errors += [
        f"{k}: {tuple(got[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in got and got[k].shape != v.shape
    ]
    return errors


def json_default(value: Any) -> Any:
    """numpy scalars and arrays in metrics/fingerprints become plain JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def manifest_document(
    *,
    name: str,
    created: str,
    schema: StudySchema,
    models: Mapping[str, Any],
    thresholds: Thresholds,
    combine: str,
    preprocessing: Mapping[str, Any],
    training_data: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    notes: str = "",
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of a v2 ``bundle.json``: the one place its fields are assembled.

    ``settings`` is written only when given, so a bundle without study settings keeps the
    exact bytes it had before the field existed."""
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "created": created,
        "study": schema.to_dict(),
        "models": dict(models),
        "thresholds": thresholds.to_dict(),
        "combine": combine,
        "preprocessing": dict(preprocessing),
        "training_data": dict(training_data) if training_data is not None else None,
        "metrics": dict(metrics) if metrics is not None else None,
        "libraries": libraries(),
        "notes": notes,
    }
    if settings is not None:
        doc["settings"] = dict(settings)
    return doc


def manifest_path(folder: str | Path) -> Path:
    """Where a bundle directory keeps its manifest."""
    return Path(folder) / MANIFEST


def is_bundle_dir(folder: str | Path) -> bool:
    return manifest_path(folder).is_file()


def _migrate_v1(manifest: dict[str, Any]) -> dict[str, Any]:
    """A v1 manifest as v2: the aneurysm study, its groups moved into the schema."""
    out = {k: v for k, v in manifest.items() if k != "groups"}
    out["format"], out["format_version"] = FORMAT, FORMAT_VERSION
    base = get_study("aneurysm").schema
    groups = manifest.get("groups")
    if not isinstance(groups, dict):
        raise BundleError("a v1 bundle.json must hold its circulation groups")
    out["study"] = base.to_dict() | {"groups": groups}
    return out


@dataclass(frozen=True)
class Manifest:
    """A parsed, checked ``bundle.json`` (v1 migrated): what it says, without weights."""

    folder: Path
    sha256: str  # of the file's bytes on disk: the bundle's identity in caches and verdicts
    name: str
    schema: StudySchema
    thresholds: Thresholds
    combine: str
    raw: Mapping[str, Any]  # the whole (migrated) document

    @property
    def study(self) -> str:
        return self.schema.study

    @property
    def preprocessing(self) -> Mapping[str, Any]:
        return self.raw["preprocessing"]

    @property
    def settings(self) -> Mapping[str, Any]:
        """Study-specific settings (empty when the bundle has none)."""
        return self.raw.get("settings") or {}

    @property
    def roles(self) -> tuple[str, ...]:
        """The model roles this bundle holds, in file order."""
        return tuple(self.raw["models"])


def parse_manifest(raw: bytes, where: Path) -> Manifest:
    """Check and type the bytes of ``where``'s ``bundle.json``; :class:`BundleError` says why
    a manifest is refused."""
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{where}: bundle.json is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{where}: bundle.json must hold an object")
    if (manifest.get("format"), manifest.get("format_version")) == _V1:
        manifest = _migrate_v1(manifest)
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{where}: not a {FORMAT} v{FORMAT_VERSION} bundle "
            f"(format={manifest.get('format')!r}, version={manifest.get('format_version')!r})"
        )
    missing, unknown = _FIELDS - set(manifest), set(manifest) - _FIELDS - _OPTIONAL
    if missing or unknown:
        raise BundleError(
            f"{where}: bundle.json fields missing={sorted(missing)} unknown={sorted(unknown)}"
        )
    try:
        schema = StudySchema.from_dict(manifest["study"])
        study = get_study(schema.study)
        thresholds = Thresholds.from_dict(manifest["thresholds"]).require(schema.labels)
    except (StudyError, ThresholdsError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: malformed bundle.json ({exc})") from exc
    models = manifest["models"]
    if not isinstance(models, dict):
        raise BundleError(f"{where}: bundle.json models must be an object")
    if (why := study.role_problem(models)) is not None:
        raise BundleError(f"{where}: {why}")
    settings = manifest.get("settings", {})
    if not isinstance(settings, dict):
        raise BundleError(f"{where}: bundle.json settings must be an object")
    if settings and study.check_settings is None:
        raise BundleError(f"{where}: the {study.name} study takes no bundle settings")
    if study.check_settings is not None:
        try:
            study.check_settings(settings)
        except (TypeError, ValueError, KeyError) as exc:
            raise BundleError(f"{where}: bundle.json settings refused ({exc})") from exc
    for role, entry in models.items():
        if not isinstance(entry, dict) or set(entry) != _MODEL_FIELDS:
            raise BundleError(f"{where}: models.{role} must have fields {sorted(_MODEL_FIELDS)}")
        try:  # before any builder is called
            check_spec_dict(entry["spec"])
        except SpecRefused as exc:
            raise BundleError(f"{where}: models.{role} spec refused: {exc}") from exc
    if manifest["combine"] not in COMBINE_RULES:
        raise BundleError(f"{where}: unknown combine rule {manifest['combine']!r}")
    return Manifest(
        folder=where,
        sha256=hashlib.sha256(raw).hexdigest(),
        name=str(manifest["name"]),
        schema=schema,
        thresholds=thresholds,
        combine=manifest["combine"],
        raw=manifest,
    )


def read_manifest(folder: str | Path) -> Manifest:
    """Read and check the manifest of a bundle directory (no weights are touched)."""
    where = Path(folder).resolve()
    path = manifest_path(where)
    if not path.is_file():
        raise BundleError(f"{where}: no {MANIFEST} (not a bundle directory)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{where}: {MANIFEST} cannot be read ({exc})") from exc
    return parse_manifest(raw, where)


def refuse_pickles(folder: Path) -> None:
    found = [p.name for p in folder.rglob("*") if p.suffix.lower() in _PICKLE_SUFFIXES]
    if found:
        raise BundleError(
            f"{folder}: refusing a bundle that contains pickle-format files {sorted(found)}; "
            "pickled weights can run code when loaded. Convert them to safetensors."
        )
