"""Case page costs, server side, through Streamlit's AppTest (the app's own script).

Runs in a fresh child process (``python -m bench.case_page --child``) so that "cold" means
cold and the memory figure is the page's alone:

1. Time to result for a sample case: **cold** is the first upload in the process (bundle
   load, first forward passes, preprocessing, both stages, the eight stage-1 heatmaps);
   **warm** is a second, different sample case (models loaded, nothing cached for that
   case); **cached** is the first case again (its content hash hits the result cache).
   Reference: ``warm`` is what ``cold`` would be without the one-off costs.
2. A display-control change on a case with results: opacity, colour scale, enlarged view
   (compositing only), and a new CAM method (first time: one batched CAM pass; second
   time: cached). The forward passes each change ran are counted with hooks on the app's
   cached models.
3. Peak resident memory of the process after 20 different cases uploaded one after the
   other in one session (synthetic patients from :mod:`core.synth`), beside the figure
   after the first case: the caches are bounded, so memory must level off.

Models: the demo bundle when it exists, else random-init demo-profile models (speed does
not depend on the weights).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
CASES_FOR_MEMORY = 20
REPEATS = 5


def _files(folder: Path) -> list[tuple[str, bytes, str]]:
    return [(p.name, p.read_bytes(), "image/jpeg") for p in sorted(folder.glob("*.jpg"))]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _timed(step) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = step()
    return (time.perf_counter() - t0) * 1e3, out


def _child() -> None:
    import numpy as np
    from streamlit.testing.v1 import AppTest

    from bench.inference import _bundle
    from core import paths
    from core.synth.cohort import generate_cohort
    from core.models.bundle import load_bundle

    tmp = Path(tempfile.mkdtemp())
    bundle, source = _bundle(tmp)
    os.environ["REVIEW_BUNDLE"] = str(bundle.path)
    os.environ["REVIEW_DATA_DIR"] = str(tmp / "data")
    samples = sorted(p for p in (paths.ASSETS / "samples").iterdir() if p.is_dir())

    def upload(at: AppTest, folder: Path) -> AppTest:
        at.file_uploader(key="uploads").set_value(_files(folder))
        return at.run()

    def assert_results(at: AppTest) -> None:
        assert not at.exception, [e.value for e in at.exception]
        assert "Results" in [s.value for s in at.subheader], "no results rendered"

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    cold, _ = _timed(lambda: upload(at, samples[0]))
    assert_results(at)
    warm, _ = _timed(lambda: upload(at, samples[1]))
    assert_results(at)
    cached, _ = _timed(lambda: upload(at, samples[0]))
    assert_results(at)
    print(f"models: {source}")
    print(f"{'time to result (server side)':<44}{'ms':>10}")
    for name, ms in (("cold: first case in a fresh process", cold),
                     ("warm: a different case, models loaded", warm),
                     ("cached: the first case again", cached)):  # fmt: skip
        print(f"{name:<44}{ms:>10.0f}")
    print(f"cold/warm: {cold / warm:.2f}x; warm/cached: {warm / cached:.1f}x")

    models = load_bundle(bundle.path).models
    forwards: Counter[str] = Counter()
    for role, model in models.items():
        model.register_forward_hook(lambda *_a, role=role: forwards.update([role]))
    changes = [
        ("opacity 0.5 -> 0.8", lambda: at.slider(key="cam_opacity").set_value(0.8)),
        ("colour scale shared -> per view", lambda: at.radio(key="cam_scale").set_value("per_view")),
        ("enlarge LI-A", lambda: at.selectbox(key="cam_enlarge").set_value("LI-A")),
        ("opacity 0.8 -> 0.3", lambda: at.slider(key="cam_opacity").set_value(0.3)),
        ("method gradcam -> hirescam (new maps)", lambda: at.selectbox(key="cam_method").set_value("hirescam")),
        ("method back to gradcam (cached)", lambda: at.selectbox(key="cam_method").set_value("gradcam")),
        ("method hirescam again (cached)", lambda: at.selectbox(key="cam_method").set_value("hirescam")),
    ]  # fmt: skip
    print(f"\n{'display-control change (whole-script rerun)':<44}{'ms':>10}{'forwards':>10}")
    for name, change in changes:
        before = sum(forwards.values())
        change()
        ms, _ = _timed(at.run)
        assert not at.exception, [e.value for e in at.exception]
        print(f"{name:<44}{ms:>10.0f}{sum(forwards.values()) - before:>10d}")
    repeat = []
    for value in np.linspace(0.1, 0.9, REPEATS):
        at.slider(key="cam_opacity").set_value(float(value))
        repeat.append(_timed(at.run)[0])
    print(f"{'opacity change, median of ' + str(REPEATS):<44}{statistics.median(repeat):>10.0f}")

    cohort = generate_cohort(tmp / "memory", CASES_FOR_MEMORY, seed=99, start_index=7001)
    mem = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    rss = []
    for index in range(7001, 7001 + CASES_FOR_MEMORY):
        folder = tmp / "one"
        folder.mkdir(exist_ok=True)
        for p in folder.glob("*.jpg"):
            p.unlink()
        for p in cohort.glob(f"{index}*.jpg"):
            (folder / p.name).write_bytes(p.read_bytes())
        upload(mem, folder)
        assert_results(mem)
        rss.append(_rss_mib())
    print(f"\npeak RSS of this process (MiB), {CASES_FOR_MEMORY} different cases in one session:")
    print(f"after case 1: {rss[0]:.0f}; after 5: {rss[4]:.0f}; after 10: {rss[9]:.0f}; "
          f"after {CASES_FOR_MEMORY}: {rss[-1]:.0f}")  # fmt: skip


def main() -> None:
    """Run :func:`_child` in a fresh interpreter and relay what it prints."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "bench.case_page", "--child"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        sys.stdout.write(run.stderr[-3000:])
        raise RuntimeError(f"case-page benchmark failed (exit {run.returncode})")


if __name__ == "__main__":
    if "--child" in sys.argv:
        import logging

        logging.basicConfig(level=logging.WARNING)
        _child()
    else:
        main()
