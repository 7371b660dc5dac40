"""Case page costs, server side, through Streamlit's AppTest (the app's own script).

Two fresh child processes (``python -m bench.case_page --child timing|memory``), so that
"cold" means cold and the memory figures are the page's alone. :func:`results` returns
the figures (``bench/results.json``); :func:`main` prints the tables. Both share one run.

Figures (each defined where it is measured, in :func:`_timing` and :func:`_memory`):

* ``case_warm_ms``: time to result of a case the process has not seen, models loaded:
  the median over four different sample cases of one whole-script run from the upload to
  the rendered page (preprocessing, both stages, stage-1 heatmaps, figures, grid). Each
  case starts once the previous case's idle-time garbage collection
  (:func:`core.memory.release_memory_soon`, ~1 s after a new case, while the reader looks
  at it) is over, as a reader's next case would; its duration is printed beside.
  ``case_warm_cpu_ms`` is the CPU time of the same runs, all threads together: on a
  machine shared with other work it says how much work a case is, where the wall time
  also counts the waits for a core.
* ``control_change_ms``: the median, over the display controls below, of the server's
  work for one change, with 0 forward passes (checked with hooks on the models):
  opacity (twice), colour scale, enlarging a view, the CAM method back to a seen one —
  these live in the page's ``st.fragment``, so the server reruns that fragment alone, and
  it is timed as such (:func:`fragment_rerun`) — and a threshold move (the sidebar's
  threshold set, there and back), a whole-script rerun. A whole-script rerun of an
  opacity change, which is what AppTest runs by default, is printed beside it.
* ``rss_growth_pct_100_cases``: peak RSS after case 100 over the peak after case 5, minus
  1, in %, for 100 different synthetic patients uploaded one after the other in one
  session.
* ``rss_mib_loaded``: the process's RSS (``VmRSS``) with the demo bundle loaded, after
  its first case.

Models: the demo bundle when it exists, else random-init demo-profile models (speed does
not depend on the weights). Nothing is written into the bundle's folder: the threshold
move swaps the session's thresholds in memory, as the sidebar does.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.scratch import scratch_dir

__all__ = ["fragment_id", "fragment_rerun", "main", "results"]

ROOT = Path(__file__).resolve().parent.parent
CASES_FOR_MEMORY = 100
REPEATS = 5
_RESULT_TAG = "RESULTS "


def _files(folder: Path) -> list[tuple[str, bytes, str]]:
    return [(p.name, p.read_bytes(), "image/jpeg") for p in sorted(folder.glob("*.jpg"))]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _timed(step: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    step()
    return (time.perf_counter() - t0) * 1e3


def _setup(tmp: Path) -> Path:
    """The bundle the app opens (a copy of the demo bundle, or random-init models)."""
    from bench.inference import _bundle
    from core.models.model_thread import call_on_model_thread

    # Loaded where the app's script threads have it loaded: this (main) thread starting
    # parallel work would give the process a second OpenMP team and throttle the model
    # thread's (core.models.model_thread), which a real server's main thread never does.
    bundle, source = call_on_model_thread(_bundle, tmp)
    folder = bundle.path
    os.environ["REVIEW_BUNDLE"] = str(folder)
    os.environ["REVIEW_DATA_DIR"] = str(tmp / "data")
    print(f"models: {source}")
    return folder


def _app():  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()


def _check(at: Any, what: str = "Results") -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert what in [s.value for s in at.subheader], f"no {what!r} rendered"


@contextmanager
def fragment_scope(fid: str) -> Iterator[None]:
    """Make AppTest's next run a rerun of one fragment, as the server does when a widget
    inside an ``st.fragment`` changes (AppTest itself always reruns the whole script).

    AppTest's runner builds two requests per run (its initial one and the run's own), and
    Streamlit folds a full-script request into any fragment one; both get the fragment's
    id, as the browser's rerun message carries it.
    """
    from streamlit.testing.v1 import local_script_runner

    original = local_script_runner.RerunData
    local_script_runner.RerunData = functools.partial(original, fragment_id=fid)  # type: ignore[misc]
    try:
        yield
    finally:
        local_script_runner.RerunData = original  # type: ignore[misc]


def fragment_id(at: Any, name: str) -> str:
    """The id of the page's fragment whose function is called ``name``."""
    found = []
    for fid, wrapped in at._fragment_storage._fragments.items():
        inner = inspect.getclosurevars(wrapped).nonlocals.values()
        if any(getattr(f, "__name__", None) == name for f in inner if callable(f)):
            found.append(fid)
    if len(found) != 1:
        raise RuntimeError(f"expected one fragment {name!r}, found {len(found)}")
    return found[0]


def fragment_rerun(at: Any, fid: str) -> None:
    """Run only the fragment ``fid`` (widget values as the tree holds them); afterwards
    the tree holds that fragment's elements alone, as the browser's delta would."""
    with fragment_scope(fid):
        at.run()
    _check(at, "Heatmaps")


def _timing() -> dict[str, float]:
    """Time to result (cold, warm, cached) and display-control changes; see the module."""
    from core import paths
    from core.memory import release_ms, wait_idle
    from core.models.bundle import load_bundle

    tmp = scratch_dir("case-page-bench-")
    folder = _setup(tmp)
    samples = sorted(p for p in (paths.ASSETS / "samples").iterdir() if p.is_dir())

    def upload(at: Any, sample: Path) -> float:
        """Milliseconds from the upload to the rendered page. The wait for the last case's
        idle-time collection (a reader's pause) comes first and is not timed: timed, it
        added ~500 ms to every case but the first (the timer fires 1 s after a new case)."""
        wait_idle(60)
        at.file_uploader(key="uploads").set_value(_files(sample))
        return _timed(lambda: (at.run(), _check(at)))

    at = _app()
    cold = upload(at, samples[0])
    warm, warm_cpu = [], []
    for sample in samples[1:5]:
        cpu0 = time.process_time()  # every thread of the process: the work, not the waits
        warm.append(upload(at, sample))
        warm_cpu.append((time.process_time() - cpu0) * 1e3)
    cached = upload(at, samples[0])
    print(f"{'time to result (server side)':<52}{'ms':>10}")
    for name, ms in (("cold: first case in a fresh process", cold),
                     (f"warm: a different case, median of {len(warm)}", statistics.median(warm)),
                     ("cached: the first case again", cached)):  # fmt: skip
        print(f"{name:<52}{ms:>10.0f}")
    print("warm cases: " + ", ".join(f"{ms:.0f}" for ms in warm) + "; CPU time (all threads): "
          + ", ".join(f"{ms:.0f}" for ms in warm_cpu))  # fmt: skip
    wait_idle(60)
    print("idle-time collection after each new case (core.memory), ms: "
          + ", ".join(f"{ms:.0f}" for ms in release_ms))  # fmt: skip

    bundle = load_bundle(folder)
    forwards: Counter[str] = Counter()
    for role, model in bundle.models.items():
        model.register_forward_hook(lambda *_a, role=role: forwards.update([role]))
    t = bundle.thresholds  # a stricter operating point: some decisions change
    stricter = dataclasses.replace(
        t, stage1=None if t.stage1 is None else min(0.99, t.stage1 + 0.05),
        labels={c: min(0.99, v + 0.05) for c, v in t.labels.items()}, rule="bench: +0.05",
    )  # fmt: skip
    training = at.session_state["active_bundle"]

    def threshold_set(name: str) -> None:
        # What the sidebar does on a threshold-set change. AppTest runs app.py (and so
        # the sidebar) only on a session's first run (SIDEBAR_NOTE in
        # tests/test_app_case.py), so the set is swapped in session state; the page's
        # whole-script rerun is timed, the sidebar's own few ms are not in it.
        chosen = training if name == training.threshold_set else dataclasses.replace(
            training, thresholds=stricter, threshold_set=name
        )  # fmt: skip
        at.session_state["active_bundle"] = chosen

    def whole(change: Callable[[], Any]) -> Callable[[], None]:
        return lambda: (change(), at.run(), _check(at))  # type: ignore[func-returns-value]

    fid = fragment_id(at, "heatmaps_fragment")

    def fragment(change: Callable[[], Any]) -> Callable[[], None]:
        return lambda: (change(), fragment_rerun(at, fid))  # type: ignore[func-returns-value]

    opacity = lambda v: lambda: at.slider(key="cam_opacity").set_value(v)  # noqa: E731
    # (name, rerun, counted in control_change_ms); whole-script ones first: a fragment
    # rerun's tree holds the fragment alone, without the sidebar and the uploader.
    changes = [
        ("threshold set training -> +0.05", whole(lambda: threshold_set("bench")), True),
        ("threshold set +0.05 -> training", whole(lambda: threshold_set(training.threshold_set)), True),
        *((f"[whole-script rerun] opacity -> {v}", whole(opacity(v)), False) for v in (0.6, 0.4, 0.7)),
        ("opacity 0.5 -> 0.8", fragment(opacity(0.8)), True),
        ("colour scale shared -> per view", fragment(lambda: at.radio(key="cam_scale").set_value("per_view")), True),
        ("enlarge LI-A", fragment(lambda: at.selectbox(key="cam_enlarge").set_value("LI-A")), True),
        ("opacity 0.8 -> 0.3", fragment(opacity(0.3)), True),
        ("method gradcam -> hirescam (new maps)", fragment(lambda: at.selectbox(key="cam_method").set_value("hirescam")), False),
        ("method back to gradcam (seen)", fragment(lambda: at.selectbox(key="cam_method").set_value("gradcam")), True),
    ]  # fmt: skip
    print(f"\n{'display-control change, server side':<52}{'ms':>10}{'forwards':>10}")
    counted, whole_ms, counted_forwards = [], [], 0
    for name, step, count in changes:
        before = sum(forwards.values())
        ms = _timed(step)
        n = sum(forwards.values()) - before
        kind = "whole script" if name.startswith("threshold") else "fragment"
        label = name if name.startswith("[") else f"{name} ({kind})"
        print(f"{label:<52}{ms:>10.0f}{n:>10d}")
        if count:
            counted.append(ms)
            counted_forwards += n
        elif name.startswith("[whole"):
            whole_ms.append(ms)
    assert counted_forwards == 0, f"display controls ran {counted_forwards} forward passes"
    control = statistics.median(counted)
    print(
        f"{'control change: median of the ' + str(len(counted)) + ' counted':<52}{control:>10.0f}"
    )
    print(f"{'whole-script rerun of an opacity change, median':<52}"
          f"{statistics.median(whole_ms):>10.0f}")  # fmt: skip
    return {"case_cold_ms": cold, "case_warm_ms": statistics.median(warm),
            "case_warm_cpu_ms": statistics.median(warm_cpu),
            "case_cached_ms": cached, "control_change_ms": control,
            "control_whole_script_ms": statistics.median(whole_ms)}  # fmt: skip


def _synthetic_case(index: int) -> list[tuple[str, bytes, str]]:
    """One synthetic patient as uploaded JPEG files (a different case for each index)."""
    import cv2
    import numpy as np

    from core.schema import LOCATIONS
    from core.synth.cohort import file_name, generate_patient

    rng = np.random.default_rng(index)
    labels = {c: int(rng.random() < 0.05) for c in LOCATIONS}
    views = generate_patient(index, labels, rng)
    return [
        (file_name(index, v), cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes(),
         "image/jpeg")
        for v, (img, _) in views.items()
    ]  # fmt: skip


def _memory() -> dict[str, float]:
    """Peak RSS over :data:`CASES_FOR_MEMORY` different cases in one session."""
    from core.memory import wait_idle

    _setup(scratch_dir("case-memory-bench-"))
    at = _app()
    peaks, loaded = [], 0.0
    t0 = time.perf_counter()
    for n in range(1, CASES_FOR_MEMORY + 1):
        wait_idle(60)  # a reader's pause: the last case's garbage is collected in it
        at.file_uploader(key="uploads").set_value(_synthetic_case(7000 + n))
        at.run()
        _check(at)
        peaks.append(_peak_mib())
        if n == 1:
            loaded = _rss_mib()
    growth = (peaks[-1] / peaks[4] - 1) * 100
    print(f"\npeak RSS of the app process (MiB), {CASES_FOR_MEMORY} different cases in one "
          f"session ({time.perf_counter() - t0:.0f} s):")  # fmt: skip
    marks = [1, 5, 10, 20, 50, CASES_FOR_MEMORY]
    print("; ".join(f"after {m}: {peaks[m - 1]:.0f}" for m in marks))
    print(f"growth after the 5th case: {growth:+.1f} %; RSS with models loaded, after the "
          f"first case: {loaded:.0f} MiB")  # fmt: skip
    return {"rss_growth_pct_100_cases": growth, "rss_mib_loaded": loaded}


def _child(kind: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    figures = _timing() if kind == "timing" else _memory()
    print(_RESULT_TAG + json.dumps(figures))


@functools.cache
def _run() -> tuple[str, dict[str, float]]:
    """Both children, once per process: their printed tables and their figures."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "STREAMLIT_LOGGER_LEVEL": "error"}
    text, figures = [], {}
    for kind in ("timing", "memory"):
        run = subprocess.run(
            [sys.executable, "-m", "bench.case_page", "--child", kind],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(
                f"case-page benchmark ({kind}) failed (exit {run.returncode}):\n"
                + run.stdout[-2000:]
                + run.stderr[-3000:]
            )
        for line in run.stdout.splitlines():
            if line.startswith(_RESULT_TAG):
                figures.update(json.loads(line[len(_RESULT_TAG) :]))
            else:
                text.append(line)
    return "\n".join(text), figures


def results() -> dict[str, float]:
    """``case_warm_ms``, ``control_change_ms``, ``rss_growth_pct_100_cases``,
    ``rss_mib_loaded`` (and the cold, cached and whole-script figures); see the module."""
    return dict(_run()[1])


def main() -> None:
    """Print the tables (the run is shared with :func:`results`)."""
    print(_run()[0])


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child(sys.argv[sys.argv.index("--child") + 1])
    else:
        main()
