"""The full profile's real networks on CPU: warm case time, and the FLOP floor under it.

The full profile (``core.training.profiles``, ``*_full`` in
``core/models/aneurysm_models.py``) is the original pipeline's sizes: torchvision
ResNet18 at 724x724 for stage 1, timm ``swinv2_cr_tiny_ns_224`` for the anterior and
torchvision ResNet18 at 224x224 for the posterior stage 2. Random weights (the time does
not depend on them), saved and loaded as a bundle so the models are what the app runs
(frozen, channels-last).

Figures (``results()``):

* ``full_profile_case_ms``: time to result of one 8-view case on CPU, warm (models
  loaded, one unmeasured case first), :func:`core.models.inference.run_case` with the
  stage-1 CAM as the case page asks for it; median of :data:`REPEATS` runs.
* ``full_profile_flops``: the floating-point operations of that same call, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products, forward
  and the CAM's backward; element-wise work, resizing and preprocessing count zero, so
  the floor is a lower bound).
* ``cpu_peak_gflops``: this CPU's measured fp32 peak in the same run: the best of
  :data:`PEAK_REPEATS` products of two :data:`PEAK_N`-square fp32 matrices, with the
  threads torch uses for the case, measured before and after the case runs (the best of
  both: on a shared machine the peak is what the CPU can do, not what it did once).
* ``full_profile_floor_ms``: ``full_profile_flops / cpu_peak_gflops``: the case time if
  every counted operation ran at matmul peak and nothing else cost anything.
* ``full_profile_floor_ratio``: ``full_profile_case_ms / full_profile_floor_ms``.
"""

from __future__ import annotations

import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from core.case import Case, SourceInfo, ViewImage
from core.models.aneurysm_models import default_keys
from core.models.build import build_model
from core.models.bundle import Bundle, load_bundle, save_bundle
from core.models.calibration import calibrate
from core.models.inference import run_case
from core.models.registry import get_spec
from core.schema import LOCATIONS, VIEWS
from core.studies.aneurysm import schema_for
from core.synth.cohort import generate_patient

__all__ = ["main", "results", "peak_gflops", "case_flops"]

REPEATS = 3
PEAK_N = 2048
PEAK_REPEATS = 5


def _bundle(tmp: Path) -> Bundle:
    """The full profile's three networks, random weights, as a loaded bundle."""
    specs = {role: get_spec(key) for role, key in default_keys("full").items()}
    models = {role: build_model(spec, seed=i) for i, (role, spec) in enumerate(specs.items())}
    rng = np.random.default_rng(0)
    thresholds = calibrate(rng.random(20), {c: rng.random(20) for c in LOCATIONS})
    return load_bundle(save_bundle(tmp / "full", models, specs, thresholds, schema=schema_for()))


def _case() -> Case:
    """One synthetic 8-view patient, views 1000 px high (as :mod:`bench.inference`)."""
    labels = dict.fromkeys(LOCATIONS, 0) | {"L_MCA": 1}
    views = generate_patient(1, labels, np.random.default_rng(1), heights=(1000, 1000))
    return Case("1", {v: ViewImage(v, img, SourceInfo(f"1{v}.jpg", "jpeg"))
                      for v, (img, _) in views.items()}, expected_views=VIEWS)  # fmt: skip


def peak_gflops(n: int = PEAK_N, repeats: int = PEAK_REPEATS) -> float:
    """Best fp32 GFLOP/s of an ``n x n`` by ``n x n`` product (``2 n^3`` operations)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # first call: thread pool and kernel selection
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def case_flops(bundle: Bundle, case: Case) -> int:
    """Operations :func:`run_case` performs on ``case``, as FlopCounterMode counts them."""
    with FlopCounterMode(display=False) as counter:
        run_case(bundle, case, cam=True)
    return int(counter.get_total_flops())


@functools.cache
def _run() -> tuple[str, dict[str, float]]:
    """One measurement per process, shared by :func:`main` and :func:`results`."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = _bundle(Path(tmp))
        case = _case()
        before = peak_gflops()
        print("full profile: warm-up case (724-px stage 1 over 8 views)…", file=sys.stderr)
        run_case(bundle, case, cam=True)
        times = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            run_case(bundle, case, cam=True)
            times.append((time.perf_counter() - t0) * 1e3)
        flops = case_flops(bundle, case)
        sizes = ", ".join(f"{r} {s.arch} {s.input.size[0]}px" for r, s in bundle.specs.items())
    peak = max(before, peak_gflops())
    case_ms = statistics.median(times)
    floor_ms = flops / (peak * 1e9) * 1e3
    figures = {
        "full_profile_case_ms": case_ms,
        "full_profile_flops": float(flops),
        "cpu_peak_gflops": peak,
        "full_profile_floor_ms": floor_ms,
        "full_profile_floor_ratio": case_ms / floor_ms,
    }
    text = "\n".join([
        f"models (random weights): {sizes}; {torch.get_num_threads()} torch threads",
        f"case: 8 synthetic views 1000 px high, run_case with stage-1 CAM, median of {REPEATS}",
        f"{'warm case time':<44}{case_ms:>12.0f} ms",
        f"{'counted operations (FlopCounterMode)':<44}{flops / 1e9:>12.1f} GFLOP",
        f"{f'fp32 matmul peak ({PEAK_N}^2, best of 2x{PEAK_REPEATS})':<44}{peak:>12.1f} GFLOP/s",
        f"{'floor: operations / peak':<44}{floor_ms:>12.0f} ms",
        f"case time / floor: {case_ms / floor_ms:.2f}x",
    ])  # fmt: skip
    return text, figures


def results() -> dict[str, float]:
    """``full_profile_case_ms`` and ``full_profile_floor_ms`` (with the FLOP count, the
    measured peak and their ratio); definitions in the module docstring."""
    return dict(_run()[1])


def main() -> None:
    print(_run()[0])


if __name__ == "__main__":
    main()
