"""The on-disk format of a bundle: ``bundle.json`` fields, checks, and provenance helpers.

Kept apart from :mod:`core.models.bundle` (which builds and caches models) so the rules a
bundle must satisfy read in one place: exact field set and format version, safetensors
only (any pickle-format file in the folder is refused), and a SHA-256 per weight file.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import safetensors
import timm
import torch
import torchvision

from core.models.registry import ROLES

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "COMBINE_RULES",
    "BundleError",
    "sha256_file",
    "libraries",
    "shape_errors",
    "json_default",
    "parse_manifest",
    "refuse_pickles",
]

FORMAT = "aneurysm-review-bundle"
FORMAT_VERSION = 1
#: How the A and B views of one side are combined into one location score.
COMBINE_RULES = ("max", "mean")
_PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt", ".tar"}
_FIELDS = {
    "format", "format_version", "name", "created", "models", "groups", "thresholds",
    "combine", "preprocessing", "training_data", "metrics", "libraries", "notes",
}  # fmt: skip
_MODEL_FIELDS = {"spec", "weights", "sha256", "tensors"}


class BundleError(RuntimeError):
    """A bundle cannot be written or loaded; the message names the file and the reason."""



def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks (weights can be hundreds of MB)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def libraries() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
    }


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


def parse_manifest(raw: bytes, where: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{where}: bundle.json is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{where}: bundle.json must hold an object")
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{where}: not a {FORMAT} v{FORMAT_VERSION} bundle "
            f"(format={manifest.get('format')!r}, version={manifest.get('format_version')!r})"
        )
    missing, unknown = _FIELDS - set(manifest), set(manifest) - _FIELDS
    if missing or unknown:
        raise BundleError(
            f"{where}: bundle.json fields missing={sorted(missing)} unknown={sorted(unknown)}"
        )
    models = manifest["models"]
    if not isinstance(models, dict) or set(models) != set(ROLES):
        raise BundleError(f"{where}: bundle.json models must be exactly {ROLES}")
    for role, entry in models.items():
        if not isinstance(entry, dict) or set(entry) != _MODEL_FIELDS:
            raise BundleError(f"{where}: models.{role} must have fields {sorted(_MODEL_FIELDS)}")
    return manifest


def refuse_pickles(folder: Path) -> None:
    found = [p.name for p in folder.rglob("*") if p.suffix.lower() in _PICKLE_SUFFIXES]
    if found:
        raise BundleError(
            f"{folder}: refusing a bundle that contains pickle-format files {sorted(found)}; "
            "pickled weights can run code when loaded. Convert them to safetensors."
        )
