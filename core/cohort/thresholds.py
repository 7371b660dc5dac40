"""Named threshold sets of a bundle, with the bundle's own set always first as ``original``.

Storage and the file format are :mod:`core.models.thresholds` (``<bundle>/thresholds/
<name>.json``); this layer adds what the cohort and case pages need on top: the bundle's
training-time thresholds listed as one more set (read from ``bundle.json`` without loading
any weights), the name ``original`` reserved for them so a saved set can never shadow them,
and every save stamped with its author and time. ``bundle.json`` is only ever read here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from core.models import thresholds as store
from core.models.thresholds import Thresholds, ThresholdsError

__all__ = [
    "ORIGINAL",
    "bundle_thresholds",
    "list_threshold_sets",
    "load_threshold_set",
    "save_threshold_set",
]

#: The name under which the thresholds in ``bundle.json`` are listed.
ORIGINAL = "original"


def bundle_thresholds(bundle_dir: str | Path) -> Thresholds:
    """The thresholds the bundle was trained with, straight from ``bundle.json``."""
    path = Path(bundle_dir) / "bundle.json"
    try:
        return Thresholds.from_dict(json.loads(path.read_text())["thresholds"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ThresholdsError(f"{path}: no readable thresholds ({exc!r})") from exc


def list_threshold_sets(bundle_dir: str | Path) -> list[str]:
    """``original`` first, then the saved sets by name."""
    return [ORIGINAL, *store.list_threshold_sets(bundle_dir)]


def load_threshold_set(bundle_dir: str | Path, name: str) -> Thresholds:
    """A saved set, or the bundle's own thresholds for ``original``."""
    return (
        bundle_thresholds(bundle_dir)
        if name == ORIGINAL
        else store.load_threshold_set(bundle_dir, name)
    )


def save_threshold_set(
    bundle_dir: str | Path,
    name: str,
    thresholds: Thresholds,
    *,
    author: str,
    overwrite: bool = False,
) -> Path:
    """Save ``thresholds`` as ``name`` beside the bundle, stamped with ``author`` and now.

    Raises :class:`ThresholdsError` for the reserved name, an empty author, a bad name or
    an existing set (unless ``overwrite``).
    """
    if name.strip().lower() == ORIGINAL:
        raise ThresholdsError(f"{ORIGINAL!r} is the bundle's own set and cannot be replaced")
    if not author.strip():
        raise ThresholdsError("say who chose these thresholds (author)")
    if not (Path(bundle_dir) / "bundle.json").is_file():
        raise ThresholdsError(f"{bundle_dir} is not a bundle directory (no bundle.json)")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    stamped = replace(thresholds, author=author.strip(), created=now)
    return store.save_threshold_set(bundle_dir, name.strip(), stamped, overwrite=overwrite)
