"""Demo bundles built in a background process, with progress any page can read.

A newcomer's ``make run`` must put the app on screen at once, not after ten minutes of
training, and a click on "Build demo models" must not freeze that browser tab (nor lose
its work when the tab closes). So the build runs as its own process
(``python -m core.demo --progress-dir``), one per data folder at a time, and reports
through one small JSON file per study under ``<data>/jobs/``: its state (queued, running,
done, failed), the fraction done, the current stage, and when it started, from which the
page derives the time left. Files are replaced atomically, so a reader never sees half a
file; a build whose process has died is reported as failed, never as running forever.

``python -m core.demo_job [--data DIR] STUDY...`` starts the build of the listed studies
whose demo bundle is missing and returns at once; ``make run`` calls it before starting
the app.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core import paths
from core.models.manifest import is_bundle_dir

__all__ = [
    "STUDIES",
    "DemoProgress",
    "JobBusy",
    "progress_writer",
    "read_progress",
    "start_build",
    "main",
]

log = logging.getLogger(__name__)

#: Studies with a demo, in the order one background process builds them.
STUDIES = ("aneurysm", "chest")
_LOCK = "demo.lock"


class JobBusy(RuntimeError):
    """Another demo build is running on this data folder."""


@dataclass(frozen=True)
class DemoProgress:
    """One study's build as last reported by the build process."""

    study: str
    state: str  # queued | running | done | failed
    fraction: float
    message: str
    started: float  # epoch seconds
    updated: float
    pid: int
    error: str = ""

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None until there is a rate to go by."""
        if self.state != "running" or not 0.02 <= self.fraction < 1.0:
            return None
        elapsed = max(self.updated - self.started, 0.0)
        return elapsed / self.fraction * (1.0 - self.fraction)


def jobs_dir(root: Path | None = None) -> Path:
    return (root or paths.data_dir()) / "jobs"


def _progress_path(study: str, root: Path | None) -> Path:
    return jobs_dir(root) / f"demo-{study}.json"


def _write(path: Path, progress: DemoProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(progress)))
    os.replace(tmp, path)  # atomic: a reader sees the old file or the new one


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_progress(study: str, root: Path | None = None) -> DemoProgress | None:
    """``study``'s last reported build, or None when none was ever started here. A build
    whose process is gone without saying so is reported as failed."""
    path = _progress_path(study, root)
    try:
        progress = DemoProgress(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as err:
        log.warning("unreadable demo progress %s: %s", path, err)
        return None
    if progress.state in ("queued", "running") and not _alive(progress.pid):
        return DemoProgress(**(asdict(progress) | {"state": "failed",
                               "error": "the build process stopped without finishing"}))  # fmt: skip
    return progress


def progress_writer(study: str, root: Path | None = None) -> Callable[..., None]:
    """The build process's reporter for ``study``: ``report(fraction, message, state=...,
    error=...)``; a new stage is written at once, updates within a stage at most once a
    second."""
    path = _progress_path(study, root)
    started = time.time()
    last = [0.0, ""]

    def report(fraction: float, message: str, state: str = "running", error: str = "") -> None:
        now = time.time()
        if state == "running" and message == last[1] and now - float(last[0]) < 1.0:
            return
        last[:] = [now, message]
        _write(path, DemoProgress(study, state, min(max(float(fraction), 0.0), 1.0),
                                  message, started, now, os.getpid(), error))  # fmt: skip

    return report


def _claim(root: Path) -> Path:
    """Take the data folder's build lock (a file holding the builder's pid); a lock left by
    a dead process is taken over. :class:`JobBusy` while a live build holds it."""
    lock = jobs_dir(root) / _LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise JobBusy(f"a demo build (process {pid}) is already running") from None
            lock.unlink(missing_ok=True)
            continue
        os.close(fd)
        return lock
    raise JobBusy("the demo build lock is contended")


def start_build(studies: Sequence[str], root: Path | None = None) -> list[str]:
    """Start one background process building the listed studies' missing demo bundles, in
    :data:`STUDIES` order; returns the studies it will build (empty: nothing missing).
    Raises :class:`JobBusy` while another build runs on this data folder."""
    root = (root or paths.data_dir()).resolve()
    wanted = [
        s
        for s in STUDIES
        if s in studies and not is_bundle_dir(paths.study_demo_bundle_dir(s, root))
    ]
    if not wanted:
        return []
    lock = _claim(root)
    log_path = jobs_dir(root) / "demo.log"
    cmd = [sys.executable, "-m", "core.demo", "--data", str(root), "--progress", *wanted]
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    lock.write_text(str(proc.pid))
    now = time.time()
    for study in wanted:
        _write(_progress_path(study, root),
               DemoProgress(study, "queued", 0.0, "waiting for its turn", now, now, proc.pid))  # fmt: skip
    log.info(
        "building the %s demo in the background (pid %d, log %s)",
        ", ".join(wanted),
        proc.pid,
        log_path,
    )
    return wanted


def release(root: Path | None = None) -> None:
    """Drop the build lock (the build process calls this when it ends)."""
    (jobs_dir((root or paths.data_dir()).resolve()) / _LOCK).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.demo_job",
                                     description="start building missing demo bundles in the background")  # fmt: skip
    parser.add_argument(
        "--data", type=Path, default=paths.data_dir(), help="data folder (default ./data)"
    )
    parser.add_argument("studies", nargs="+", choices=STUDIES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        started = start_build(args.studies, args.data)
    except JobBusy as err:
        log.info("%s; the app shows its progress", err)
        return 0
    if not started:
        log.info("demo bundles present: nothing to build")
    else:
        log.info("the app is usable now; the demo pages show the build's progress")
    return 0


if __name__ == "__main__":
    sys.exit(main())
