"""Named threshold sets of a bundle: the one module that stores, lists and loads them.

A bundle's own thresholds live in ``bundle.json`` (set at training, never rewritten, read
here through :func:`core.models.manifest.read_manifest` without touching any weights) and
are listed as the set :data:`ORIGINAL`. Sets chosen later (on the cohort page) are files
``<bundle>/thresholds/<name>.json`` beside it, each stamped with who saved it and when, so
a reader can always say which operating point a decision used and where it came from.

Saving is safe against a second saver: a new set is published with a hard link (or an
exclusive create where links are unsupported), which fails when the name exists, so of two
concurrent saves of one new name exactly one wins and the other gets
:class:`ThresholdsError` (a plain exists-check then write would let both report success,
one silently replacing the other). Where hard links work, a reader never sees half a file.

Every function first checks that the bundle folder resolves inside the app's allowed roots
(:mod:`core.roots`; writable ones for a save), so no caller can read or write sets in a
folder a user merely typed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from core.models.manifest import BundleError, is_bundle_dir, read_manifest
from core.models.thresholds import Thresholds, ThresholdsError
from core.roots import PathOutsideRoots, inside_roots

__all__ = [
    "ORIGINAL",
    "THRESHOLD_DIR",
    "bundle_thresholds",
    "saved_threshold_sets",
    "list_threshold_sets",
    "load_threshold_set",
    "save_threshold_set",
    "save_training_set",
]

log = logging.getLogger(__name__)

#: The name under which the thresholds in ``bundle.json`` are listed; no saved set may
#: take it (in any letter case), so a saved set can never shadow them.
ORIGINAL = "original"
#: The folder beside ``bundle.json`` that holds the saved sets.
THRESHOLD_DIR = "thresholds"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _confined(bundle_dir: str | Path, *, writable: bool = False) -> Path:
    """The bundle folder, resolved, when it is inside the allowed roots (see module doc)."""
    try:
        return inside_roots(bundle_dir, writable=writable)
    except PathOutsideRoots as exc:
        raise ThresholdsError(f"threshold sets are refused here: {exc}") from exc


def _set_path(bundle_dir: str | Path, name: str, *, writable: bool = False) -> Path:
    if not _NAME_RE.match(name) or name.endswith(".json"):
        raise ThresholdsError(
            f"threshold set name {name!r}: use 1-64 letters, digits, '_', '-', '.'"
        )
    return _confined(bundle_dir, writable=writable) / THRESHOLD_DIR / f"{name}.json"


def bundle_thresholds(bundle_dir: str | Path) -> Thresholds:
    """The thresholds the bundle was trained with, from its checked ``bundle.json``."""
    try:
        return read_manifest(_confined(bundle_dir)).thresholds
    except BundleError as exc:
        raise ThresholdsError(f"the bundle's own thresholds cannot be read: {exc}") from exc


def saved_threshold_sets(bundle_dir: str | Path) -> list[str]:
    """Names of the sets saved beside the bundle, sorted; empty when none were saved."""
    folder = _confined(bundle_dir) / THRESHOLD_DIR
    if not folder.is_dir():
        return []
    names = (p.stem for p in folder.glob("*.json"))
    return sorted(n for n in names if _NAME_RE.match(n) and n.lower() != ORIGINAL)


def list_threshold_sets(bundle_dir: str | Path) -> list[str]:
    """Every set a page can offer: :data:`ORIGINAL` first, then the saved ones by name."""
    return [ORIGINAL, *saved_threshold_sets(bundle_dir)]


def load_threshold_set(bundle_dir: str | Path, name: str) -> Thresholds:
    """A saved set, or the bundle's own thresholds for :data:`ORIGINAL`."""
    if name == ORIGINAL:
        return bundle_thresholds(bundle_dir)
    path = _set_path(bundle_dir, name)
    if not path.is_file():
        raise ThresholdsError(f"no threshold set {name!r} in {Path(bundle_dir)}")
    try:
        return Thresholds.from_dict(json.loads(path.read_text()))
    except OSError as exc:
        raise ThresholdsError(f"threshold set {name!r} cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ThresholdsError(f"threshold set {name!r} is not valid JSON: {exc}") from exc


def _link_new(tmp: Path, path: Path) -> None:
    """Publish the finished ``tmp`` at ``path`` only if nothing is there at that instant;
    :class:`FileExistsError` otherwise (a hard link never replaces)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:  # a file system without hard links: create exclusively instead
        log.warning("hard links unavailable in %s (%s); writing in place", path.parent, exc)
        with open(path, "x", encoding="utf-8") as f:  # "x": O_CREAT | O_EXCL
            f.write(tmp.read_text(encoding="utf-8"))


def _publish(tmp: Path, path: Path, name: str, overwrite: bool) -> None:
    """Move the finished ``tmp`` to ``path``, replacing a set only when ``overwrite``."""
    if overwrite:
        os.replace(tmp, path)  # atomic: a reader sees the old set or the new one
        return
    try:
        _link_new(tmp, path)
    except FileExistsError:
        raise ThresholdsError(
            f"threshold set {name!r} exists; pass overwrite=True to replace it"
        ) from None


def _write_set(
    path: Path, name: str, thresholds: Thresholds, author: str | None, overwrite: bool
) -> Path:
    """Stamp and publish one set at ``path`` (``<bundle>/thresholds/<name>.json``)."""
    if name.lower() == ORIGINAL:
        raise ThresholdsError(f"{ORIGINAL!r} is the bundle's own set and cannot be replaced")
    who = (thresholds.author if author is None else author).strip()
    if not who:
        raise ThresholdsError("say who chose these thresholds (author)")
    if not is_bundle_dir(path.parent.parent):
        raise ThresholdsError(f"{path.parent.parent} is not a bundle directory (no bundle.json)")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(replace(thresholds, author=who, created=now).to_dict(), indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        _publish(tmp, path, name, overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # after a link (or a failure); gone already after a replace
    log.info("saved threshold set %r by %s at %s", name, who, path)
    return path


def save_threshold_set(
    bundle_dir: str | Path,
    name: str,
    thresholds: Thresholds,
    *,
    author: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Save ``thresholds`` as ``name`` beside the bundle, stamped with its author and now.

    ``author`` is who chose them (default: the set's own ``author``). ``bundle.json`` is
    never touched. Raises :class:`ThresholdsError` for the reserved name, an empty author,
    a bad name, a folder outside the writable roots or not a bundle, or an existing set
    unless ``overwrite``.
    """
    name = name.strip()
    if name.lower() == ORIGINAL:  # before the path check: the reserved name's own message
        raise ThresholdsError(f"{ORIGINAL!r} is the bundle's own set and cannot be replaced")
    return _write_set(_set_path(bundle_dir, name, writable=True), name, thresholds, author,
                      overwrite)  # fmt: skip


def save_training_set(bundle_dir: str | Path, name: str, thresholds: Thresholds) -> Path:
    """A set written by the command that has just written the bundle (the trainer), into
    the folder it was told on its own command line, so not confined to the app's roots;
    the page and every user-typed path go through :func:`save_threshold_set`. Replaces a
    set of that name (a retrained bundle's sets are the new ones)."""
    name = name.strip()
    if not _NAME_RE.match(name) or name.endswith(".json"):
        raise ThresholdsError(f"threshold set name {name!r} is not acceptable")
    path = Path(bundle_dir).resolve() / THRESHOLD_DIR / f"{name}.json"
    return _write_set(path, name, thresholds, None, overwrite=True)
