"""The version of the code that turns pixels into decisions, for every cache key.

A cached result is only as fresh as the code that made it: a changed crop rule, gate or
table column must never be answered from a table the old code wrote. Cache keys therefore
carry :func:`pipeline_version`, a SHA-256 over

* the default preprocessing parameters (the digest of their canonical JSON), and
* the source bytes of :data:`PIPELINE_SOURCES` (paths relative to the ``core`` package):
  every module of :mod:`core.preprocess` (crop, text detection, fill, model transforms;
  a glob, so a new step is covered without editing this list), :mod:`core.cam` (the CAM
  peaks of the ``cam`` table variant), the case record and the schema, the inference,
  gating, threshold, input, runner and result modules of :mod:`core.models` and its
  single-image classifier, the finding and image-result records and the cohort table
  builder, and
* the precision policy (:func:`core.models.precision.policy`: ``REVIEW_PRECISION`` and
  whether this machine computes bf16 natively), which decides the arithmetic.

The bundle (weights, thresholds, recorded params) and the data have keys of their own.
A listed file edited without changing behaviour (a comment) costs a recomputation, never a
stale table, which is the side to err on.

It is computed once per process, on first use (about 40 small files): the code a process
runs is the code it imported, so a file edited under a running server must not change the
version its results are stored under; the next process picks the edit up.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from core.preprocess.params import DEFAULT_PARAMS

__all__ = ["PIPELINE_SOURCES", "pipeline_files", "pipeline_version"]

_CORE = Path(__file__).resolve().parent

#: Globs under ``core/`` of the modules whose source is part of the version.
PIPELINE_SOURCES: tuple[str, ...] = (
    "preprocess/*.py",
    "cam/*.py",
    "case.py",
    "schema.py",
    "findings.py",
    "results.py",
    "models/classify.py",
    "models/inference.py",
    "models/gating.py",
    "models/thresholds.py",
    "models/inputs.py",
    "models/runner.py",
    "models/precision.py",
    "models/result.py",
    "cohort/table.py",
)


def pipeline_files() -> tuple[Path, ...]:
    """The files :data:`PIPELINE_SOURCES` names, sorted, each once.

    A pattern that matches nothing raises :class:`FileNotFoundError`: a renamed module must
    be renamed here too, or its edits would stop changing the version.
    """
    found: set[Path] = set()
    for pattern in PIPELINE_SOURCES:
        matches = set(_CORE.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"pipeline version: nothing matches core/{pattern}")
        found |= matches
    return tuple(sorted(found))


@functools.cache
def pipeline_version() -> str:
    """Hex SHA-256 of the default preprocessing params and the pipeline's source files."""
    from core.models.precision import policy  # torch: imported only when a key is made

    h = hashlib.sha256()
    h.update(f"params:{DEFAULT_PARAMS.digest()};".encode())
    h.update(f"precision:{policy()};".encode())
    for path in pipeline_files():
        data = path.read_bytes()
        h.update(f"{path.relative_to(_CORE).as_posix()}:{len(data)};".encode())
        h.update(data)
    return h.hexdigest()
