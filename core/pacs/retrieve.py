"""WADO-RS retrieval of a study's image instances into a private folder under the data root.

Instances are fetched one at a time, in their stored transfer syntax, and written to disk
before the next is asked for, so memory holds one instance whatever the study. Every
response passes a byte counter (a ``requests`` response hook that wraps the body's
iterator): one instance may not exceed :data:`core.limits.MAX_FILE_BYTES` and the study
not :func:`core.pacs.inventory.max_study_bytes`, whatever the metadata declared, so a
server that lies about sizes is cut off mid-stream. The folder is ``<data root>/pacs/<random
token>`` (mode 0700, checked by :func:`core.roots.inside_roots`); files are named by series
and image number, never by a UID or a name. :meth:`RetrievedStudy.cleanup` removes it;
a folder a killed server left behind is removed by the next retrieval once it is older
than :data:`STALE_AFTER_S` (no review holds a study that long).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from core import limits, paths
from core.pacs.client import calling, make_client
from core.pacs.config import Endpoint
from core.pacs.errors import StudyTooLarge
from core.pacs.inventory import Instance, StudyInventory, max_study_bytes
from core.roots import inside_roots

__all__ = ["STALE_AFTER_S", "Progress", "RetrievedStudy", "retrieve", "sweep_stale"]

log = logging.getLogger(__name__)
_MIB = 2**20
#: Room for the multipart framing around one instance (a boundary and a few headers).
_FRAMING = 64 * 1024
#: Any transfer syntax: compressed pixels stay compressed on the wire and on disk.
_ANY_SYNTAX = (("application/dicom", "*"),)
#: Age after which a retrieval folder is taken for one a killed process left behind.
STALE_AFTER_S = 24 * 3600
#: Called after each image with (images done, images in the study).
Progress = Callable[[int, int], None]


@dataclass
class RetrievedStudy:
    """The files of one retrieval: ``files[sop_uid]`` is the instance's path."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    received_bytes: int = 0

    def read(self, inst: Instance) -> bytes:
        """The instance's bytes (the intake checks them again before decoding)."""
        return self.files[inst.sop_uid].read_bytes()

    def cleanup(self) -> None:
        """Remove the folder and every file in it."""
        shutil.rmtree(self.folder, ignore_errors=True)


class _ByteCap:
    """A response hook: counts body bytes, stops a body or a study over its limit."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.total = 0

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        inner = response.iter_content
        per_file = limits.MAX_FILE_BYTES + _FRAMING

        def capped(*a: Any, **k: Any) -> Iterator[bytes]:
            seen = 0
            for chunk in inner(*a, **k):
                seen += len(chunk)
                self.total += len(chunk)
                if seen > per_file:
                    raise StudyTooLarge(
                        f"{self.where}: one instance is larger than {per_file:,} bytes "
                        "(more than its header declared); the retrieval was stopped"
                    )
                if self.total > max_study_bytes() + _FRAMING:
                    raise StudyTooLarge(
                        f"{self.where}: the study is larger than "
                        f"{max_study_bytes() / _MIB:.0f} MiB; the retrieval was stopped"
                    )
                yield chunk

        response.iter_content = capped  # type: ignore[method-assign]
        return response


def sweep_stale(root: Path, max_age_s: float = STALE_AFTER_S) -> int:
    """Remove retrieval folders under ``root`` untouched for ``max_age_s``; how many."""
    if not root.is_dir():
        return 0
    cutoff, removed = time.time() - max_age_s, 0
    for folder in root.iterdir():
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
                removed += 1
        except OSError as err:  # another process removed it first, or no permission
            log.warning("could not remove a stale retrieval folder: %s", type(err).__name__)
    if removed:
        log.info("removed %d retrieval folder(s) older than %.0f h", removed, max_age_s / 3600)
    return removed


def _folder() -> Path:
    root = inside_roots(paths.data_dir() / "pacs", writable=True)
    sweep_stale(root)
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def retrieve(
    endpoint: Endpoint, inventory: StudyInventory, progress: Progress | None = None
) -> RetrievedStudy:
    """Fetch every instance of ``inventory`` to disk, calling ``progress`` after each; on
    any failure the partial folder is removed and the :class:`~core.pacs.errors.PacsError`
    raised."""
    cap = _ByteCap(endpoint.shown)
    client = make_client(endpoint, on_response=cap)
    out = RetrievedStudy(_folder())
    try:
        for n, inst in enumerate(inventory.instances, start=1):
            with calling(endpoint, f"retrieving {inst.label}"):
                ds = client.retrieve_instance(
                    inventory.study_uid, inst.series_uid, inst.sop_uid, media_types=_ANY_SYNTAX
                )
            path = out.folder / f"{n:04d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            os.chmod(path, 0o600)
            out.files[inst.sop_uid] = path
            if progress is not None:
                progress(n, len(inventory.instances))
    except BaseException:
        out.cleanup()
        raise
    out.received_bytes = cap.total
    log.info("%s: retrieved %d images (%.1f MiB)", endpoint.name, len(out.files), cap.total / _MIB)
    return out
