"""Bounds on the cohort prediction cache, and the per-entry lock that makes pruning safe.

Without a bound the cache grows with every bundle, cohort and code version ever opened,
and ``<key>.lock`` files stayed behind after every run. Now:

* **Bounds** (:data:`DEFAULT_BOUNDS`): at most **64 entries** and **1 GiB** in all, and no
  entry unused for more than **90 days**. An entry is every file of one key (table,
  sidecar, bootstrap intervals, chunks of an unfinished run, lock); it is *used* when it is
  written or a table is read from it (:meth:`~core.cohort.cache.PredictionCache.load`
  touches the table), and its last use is the newest modification time among its files.
* **When:** :func:`prune` runs after every finished table is saved. It drops entries unused
  for longer than the age bound first, then the least recently used ones while the count
  or the size is over its bound. The entry just saved is never dropped.
* **Never an entry being written:** a run holds ``<key>.lock`` (``flock``) for as long as it
  writes, and pruning takes the same lock before it deletes anything; an entry whose lock is
  held is skipped (and reported as busy). A lock file is removed by its holder on release,
  while still held; a process that opened it just before checks, once it holds the lock,
  that the file it locked is still the one at that path, and tries again if not, so two
  holders can never both believe they hold the same key.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["DEFAULT_BOUNDS", "CacheBounds", "PruneReport", "entry_lock", "entry_of", "prune"]

log = logging.getLogger(__name__)
_DAY_S = 86_400
#: An entry's name: ``CacheKey.name``, four parts joined by dashes (bundle, data, code, variant).
_ENTRY_RE = re.compile(r"^[A-Za-z0-9_]+(-[A-Za-z0-9_]+){3}$")


@dataclass(frozen=True)
class CacheBounds:
    """How much the cache may hold: entries, bytes in all, days since an entry's last use."""

    max_entries: int = 64
    max_bytes: int = 1 << 30  # 1 GiB
    max_age_days: float = 90.0


DEFAULT_BOUNDS = CacheBounds()


@dataclass
class PruneReport:
    """What one :func:`prune` did: entries removed (with why) and entries it had to skip."""

    removed: dict[str, str] = field(default_factory=dict)  # entry -> "age" | "count" | "size"
    busy: list[str] = field(default_factory=list)  # held by a run: left alone


@dataclass(frozen=True)
class _Entry:
    name: str
    paths: tuple[Path, ...]
    size: int
    last_used: float


def entry_of(path: Path) -> str:
    """The entry a cache file belongs to: its name up to the first dot (keys have none)."""
    return path.name.split(".", 1)[0]


def _acquire(path: Path) -> IO[str] | None:
    """Lock ``path`` (created if absent) without waiting; ``None`` when another holds it."""
    for _ in range(3):
        handle = open(path, "a")  # noqa: SIM115 - kept open while held, closed on release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            now = os.stat(path)
            ours = os.fstat(handle.fileno())
            if (now.st_dev, now.st_ino) == (ours.st_dev, ours.st_ino):
                return handle
        except FileNotFoundError:
            pass
        handle.close()  # its holder removed it after we opened it: lock the new one
    return None


@contextmanager
def entry_lock(root: Path, name: str) -> Iterator[bool]:
    """Hold ``<root>/<name>.lock`` for the block: yields ``True`` when held, ``False`` when
    a run (or a prune) holds it. The lock file is removed on the way out, while held."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.lock"
    handle = _acquire(path)
    if handle is None:
        yield False
        return
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)
        handle.close()  # releases the flock


def _files(path: Path) -> list[Path]:
    return ([p for p in path.rglob("*") if p.is_file()] + [path]) if path.is_dir() else [path]


def _entries(root: Path) -> list[_Entry]:
    groups: dict[str, list[Path]] = {}
    for path in root.iterdir() if root.is_dir() else ():
        if _ENTRY_RE.match(entry_of(path)):  # anything else in the folder is not ours
            groups.setdefault(entry_of(path), []).append(path)
    out = []
    for name, paths in groups.items():
        stats = [p.stat() for top in paths for p in _files(top) if p.exists()]
        sizes = sum(s.st_size for s in stats)
        last = max((s.st_mtime for s in stats), default=0.0)
        out.append(_Entry(name, tuple(paths), sizes, last))
    return sorted(out, key=lambda e: e.last_used)  # least recently used first


def _remove(root: Path, entry: _Entry) -> bool:
    """Delete an entry's files under its lock; ``False`` (nothing deleted) when held."""
    with entry_lock(root, entry.name) as held:
        if not held:
            return False
        for path in root.glob(f"{entry.name}.*"):
            if path.suffix == ".lock":
                continue  # removed by entry_lock, while still held
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return True


def prune(
    root: Path, keep: str | None = None, bounds: CacheBounds = DEFAULT_BOUNDS,
    now: float | None = None,
) -> PruneReport:  # fmt: skip
    """Bring the cache under ``bounds`` (see the module notes); ``keep`` is never removed."""
    report = PruneReport()
    entries = _entries(root)
    cutoff = (time.time() if now is None else now) - bounds.max_age_days * _DAY_S
    count, size = len(entries), sum(e.size for e in entries)
    for entry in entries:  # oldest first
        if entry.name == keep:
            continue
        if entry.last_used < cutoff:
            reason = "age"
        elif count > bounds.max_entries:
            reason = "count"
        elif size > bounds.max_bytes:
            reason = "size"
        else:
            continue
        if _remove(root, entry):
            report.removed[entry.name] = reason
            count, size = count - 1, size - entry.size
        else:
            report.busy.append(entry.name)
    if report.removed:
        log.info("cohort cache: removed %d entries %s", len(report.removed), report.removed)
    return report
