"""The background demo build's bookkeeping: progress files, the time left, one build per
data folder, a dead build reported as failed, and nothing started when bundles exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from models_fixtures import fixed_thresholds, write_tiny_bundle

from core import demo_job, paths


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_progress_round_trips_and_gives_the_time_left(tmp_path: Path) -> None:
    assert demo_job.read_progress("chest", tmp_path) is None
    report = demo_job.progress_writer("chest", tmp_path)
    report(0.5, "training the chest frcnn")
    got = demo_job.read_progress("chest", tmp_path)
    assert got is not None and (got.state, got.fraction, got.message) == (
        "running", 0.5, "training the chest frcnn")  # fmt: skip
    forged = demo_job.DemoProgress("chest", "running", 0.25, "x", 100.0, 130.0, got.pid)
    assert forged.eta_s == pytest.approx(90.0)  # 30 s for a quarter: 90 s for the rest
    assert demo_job.DemoProgress("chest", "running", 0.0, "x", 0, 1, 1).eta_s is None
    report(0.6, "training the chest frcnn")  # same stage within a second: not rewritten
    assert demo_job.read_progress("chest", tmp_path).fraction == 0.5
    report(0.7, "fitting the chest ensemble")  # a new stage is written at once
    assert demo_job.read_progress("chest", tmp_path).message == "fitting the chest ensemble"
    report(1.0, "demo ready", state="done")
    assert demo_job.read_progress("chest", tmp_path).state == "done"


def test_a_build_whose_process_died_is_reported_failed(tmp_path: Path) -> None:
    path = demo_job.jobs_dir(tmp_path) / "demo-aneurysm.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"study": "aneurysm", "state": "running", "fraction": 0.4,
                                "message": "training", "started": 1.0, "updated": 2.0,
                                "pid": _dead_pid(), "error": ""}))  # fmt: skip
    got = demo_job.read_progress("aneurysm", tmp_path)
    assert got.state == "failed" and "stopped" in got.error
    path.write_text("{not json")
    assert demo_job.read_progress("aneurysm", tmp_path) is None


def test_one_build_per_data_folder_and_a_stale_lock_is_taken_over(tmp_path: Path) -> None:
    lock = demo_job.jobs_dir(tmp_path) / "demo.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(str(_dead_pid()))
    taken = demo_job._claim(tmp_path)  # a dead builder's lock is taken over
    taken.write_text(str(os.getpid()))  # a live builder (this process)
    with pytest.raises(demo_job.JobBusy, match="already running"):
        demo_job._claim(tmp_path)
    demo_job.release(tmp_path)
    assert not lock.exists()


def test_nothing_starts_when_the_demo_bundles_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for study in demo_job.STUDIES:
        write_tiny_bundle(paths.study_demo_bundle_dir(study, tmp_path), fixed_thresholds())
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("started a build"))
    assert demo_job.start_build(demo_job.STUDIES, tmp_path) == []


def test_start_queues_the_missing_studies_in_one_background_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tiny_bundle(paths.study_demo_bundle_dir("aneurysm", tmp_path), fixed_thresholds())
    started = []

    class FakeProcess:
        pid = os.getpid()  # alive, so its queue is not reported dead

        def __init__(self, cmd: list[str], **kwargs: object) -> None:
            started.append((cmd, kwargs))

    monkeypatch.setattr(subprocess, "Popen", FakeProcess)
    assert demo_job.start_build(["chest", "aneurysm"], tmp_path) == ["chest"]
    ((cmd, kwargs),) = started
    assert cmd[1:4] == ["-m", "core.demo", "--data"] and cmd[-2:] == ["--progress", "chest"]
    assert kwargs["start_new_session"] is True and kwargs["stdin"] == subprocess.DEVNULL
    assert demo_job.read_progress("chest", tmp_path).state == "queued"
    with pytest.raises(demo_job.JobBusy):  # the first build holds the folder
        demo_job.start_build(["chest"], tmp_path)
