"""The folders a user of the app may name: every typed or picked path must resolve inside one.

Anyone who can reach the app can type a folder name, so a path from the UI is only used
after :func:`inside_roots` has resolved it (symlinks and ``..`` included) and found it
inside a configured root. The roots are what the operator configured, never what a user
typed:

* ``REVIEW_DATA_DIR`` (default ``./data``): bundles, cohorts, caches, the verdict database;
* ``REVIEW_ALLOWED_ROOTS``: extra folders, separated by ``os.pathsep`` (``:`` on Linux);
* ``REVIEW_BUNDLE`` and ``REVIEW_CHEST_BUNDLE``: the bundle folders the operator pointed the app at;
* the committed sample cases (``assets/samples``), for reading only.

Checking the *resolved* path is what stops a symlink inside ``data/`` that points to
``/etc``: the link's own name is inside the root, its target is not. Callers use the
returned resolved path, so the folder checked is the folder used.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from core import paths

__all__ = ["ALLOWED_ROOTS_ENV", "PathOutsideRoots", "allowed_roots", "inside_roots"]

log = logging.getLogger(__name__)

#: Environment variable listing extra allowed folders, ``os.pathsep``-separated.
ALLOWED_ROOTS_ENV = "REVIEW_ALLOWED_ROOTS"


class PathOutsideRoots(ValueError):
    """A path resolves outside every allowed root; the message names the roots."""

    def __init__(self, path: str | Path, roots: tuple[Path, ...], why: str) -> None:
        self.path = str(path)
        self.roots = roots
        listed = ", ".join(f"`{r}`" for r in roots) or "(none)"
        super().__init__(
            f"`{path}` {why}. This app only uses folders inside: {listed}. "
            f"Ask the administrator to add a folder to {ALLOWED_ROOTS_ENV} if you need it."
        )


def _resolve(path: str | Path) -> Path:
    """``path`` with ``~``, ``..`` and every symlink resolved (the target need not exist)."""
    return Path(path).expanduser().resolve(strict=False)


def allowed_roots(*, writable: bool = False) -> tuple[Path, ...]:
    """The configured roots, resolved and without duplicates, in the order listed above.

    ``writable=True`` leaves out the read-only sample cases: nothing may be written there.
    """
    candidates: list[Path] = [paths.data_dir()]
    extra = os.environ.get(ALLOWED_ROOTS_ENV, "")
    candidates += [Path(p.strip()) for p in extra.split(os.pathsep) if p.strip()]
    for study, env in paths.BUNDLE_ENVS.items():
        if os.environ.get(env):
            candidates.append(paths.configured_bundle_dir(study))
    if not writable:
        candidates.append(paths.SAMPLES)
    roots: list[Path] = []
    for candidate in candidates:
        try:
            root = _resolve(candidate)
        except (OSError, RuntimeError) as exc:  # a symlink loop in the configuration
            log.warning("allowed root %s ignored: it cannot be resolved (%s)", candidate, exc)
            continue
        if root not in roots:
            roots.append(root)
    return tuple(roots)


def inside_roots(path: str | Path, *, writable: bool = False) -> Path:
    """``path`` resolved, if it lies inside an allowed root; else :class:`PathOutsideRoots`.

    ``writable=True`` is for folders the app writes into (threshold sets, caches).
    """
    roots = allowed_roots(writable=writable)
    try:
        resolved = _resolve(path)
    except (OSError, RuntimeError, ValueError) as exc:  # a loop, a NUL byte, no home dir
        raise PathOutsideRoots(path, roots, f"cannot be resolved ({exc})") from exc
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    where = "" if resolved == Path(path) else f" (it resolves to `{resolved}`)"
    kind = "a writable folder" if writable else "an allowed folder"
    log.warning("refused a path outside the roots: %.200s -> %.200s", path, resolved)
    raise PathOutsideRoots(path, roots, f"is not inside {kind}{where}")
