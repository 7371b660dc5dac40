"""Single-case latency: our two-stage path against the original way, in one process.

Ours (:func:`core.models.inference.run_case`): each model runs once on all its views, and
the stage-1 scores come out of the batched Grad-CAM pass (gradients start at the hooked
layer). Reference, as the original scripts did it: one image at a time for every model,
then a separate forward+backward per image for Grad-CAM with the stock pytorch-grad-cam
class on a trainable copy of the model. Preprocessing is the same function in both.

Models: the demo bundle when ``core.paths.demo_bundle_dir()`` holds one, else randomly
initialised demo-profile models (same sizes; speed does not depend on the weights).
The case: one synthetic 8-view patient with images 1000 pixels high.
"""

from __future__ import annotations

import copy
import functools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from core.case import Case, SourceInfo, ViewImage
from core.device import describe_device
from core.models.build import build_model
from core.models.bundle import Bundle, load_bundle, save_bundle
from core.models.calibration import calibrate
from core.models.inference import preprocess_case, run_case
from core.models.inputs import model_batch
from core.models.manifest import is_bundle_dir
from core.models.precision import precision_of, setting
from core.models.registry import get_spec
from core.paths import demo_bundle_dir
from core.schema import LOCATIONS, VIEWS, view_info
from core.studies.aneurysm import schema_for
from core.synth.cohort import generate_patient
from core.training.profiles import get_profile

__all__ = ["main", "results"]

REPEATS = 5
STEPS = ("preprocess", "stage1", "stage2", "cam")


def _bundle(tmp: Path) -> tuple[Bundle, str]:
    if is_bundle_dir(demo_bundle_dir()):
        return load_bundle(demo_bundle_dir()), f"demo bundle {demo_bundle_dir()}"
    profile = get_profile("demo")
    specs = {r: get_spec(profile.stage(r).key, size=profile.stage(r).size) for r in
             ("stage1", "anterior", "posterior")}  # fmt: skip
    models = {r: build_model(s, seed=0) for r, s in specs.items()}
    rng = np.random.default_rng(0)
    thresholds = calibrate(rng.random(20), {c: rng.random(20) for c in LOCATIONS})
    path = save_bundle(tmp / "bench", models, specs, thresholds, schema=schema_for())
    return load_bundle(path), "random-init demo-profile models (no demo bundle found)"


def _case() -> Case:
    labels = dict.fromkeys(LOCATIONS, 0) | {"L_MCA": 1}
    views = generate_patient(1, labels, np.random.default_rng(1), heights=(1000, 1000))
    return Case("1", {v: ViewImage(v, img, SourceInfo(f"1{v}.jpg", "jpeg"))
                      for v, (img, _) in views.items()}, expected_views=VIEWS)  # fmt: skip


def _reference(bundle: Bundle, case: Case, trainable: torch.nn.Module) -> dict[str, float]:
    """The original way: per image, per model, and a separate CAM pass per image.

    ``trainable`` is a copy of the stage-1 model with gradients on, as the original scripts
    had it (stock Grad-CAM needs them); it is made outside the timed region.
    """
    t0 = time.perf_counter()
    clean = preprocess_case(case)
    t1 = time.perf_counter()
    s1_spec, s1 = bundle.spec("stage1"), bundle.model("stage1")
    for cv in clean.values():
        with torch.no_grad():
            s1(model_batch([cv.image], s1_spec.input, bundle.device))
    t2 = time.perf_counter()
    for v, cv in clean.items():
        spec = bundle.spec(view_info(v).circulation)  # type: ignore[arg-type]
        with torch.no_grad():
            bundle.model(spec.role)(model_batch([cv.image], spec.input, bundle.device))
    t3 = time.perf_counter()
    layer = trainable.get_submodule(s1_spec.cam_layer)
    for cv in clean.values():
        x = model_batch([cv.image], s1_spec.input, bundle.device)
        with GradCAM(model=trainable, target_layers=[layer]) as cam:
            cam(input_tensor=x, targets=[ClassifierOutputTarget(0)])
    t4 = time.perf_counter()
    return {"preprocess": t1 - t0, "stage1": t2 - t1, "stage2": t3 - t2, "cam": t4 - t3}


def _ours(bundle: Bundle, case: Case, precision: str = "auto") -> dict[str, float]:
    """Ours, in the bundle's own precision (``auto``) or forced to ``fp32``."""
    with setting(precision):
        t = run_case(bundle, case, cam=True).timings
    return {"preprocess": t.preprocess_ms / 1e3, "stage1": t.stage1_ms / 1e3,
            "stage2": t.stage2_ms / 1e3, "cam": t.cam_ms / 1e3}  # fmt: skip


def _medians(*variants: Callable[[], dict[str, float]]) -> tuple[dict[str, float], ...]:
    """Median ms per step of each variant; they are interleaved so that load drift hits
    all alike."""
    for run in variants:
        run()  # warm-up: first-call allocations and kernel selection
    runs = [[run() for run in variants] for _ in range(REPEATS)]
    return tuple(
        {k: statistics.median(r[i][k] for r in runs) * 1e3 for k in STEPS}
        for i in range(len(variants))
    )


@functools.cache
def _run() -> tuple[str, dict[str, float], dict[str, float]]:
    """One measurement per process, shared by :func:`main` and :func:`results`."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle, source = _bundle(Path(tmp))
        case = _case()
        trainable = copy.deepcopy(bundle.model("stage1")).requires_grad_(True)
        precision = precision_of(bundle.device, bundle.manifest)
        ours, fp32, ref = _medians(
            lambda: _ours(bundle, case),
            lambda: _ours(bundle, case, "fp32"),
            lambda: _reference(bundle, case, trainable),
        )
    for d in (ours, fp32, ref):
        d["stage1+cam"] = d["stage1"] + d["cam"]
        d["total"] = sum(d[k] for k in STEPS)
    sizes = ", ".join(f"{r} {s.key} {s.input.size[0]}px" for r, s in bundle.specs.items())
    shape = next(iter(case.views.values())).pixels.shape
    lines = [
        f"models: {source}: {sizes}",
        f"case: 8 synthetic views, first {shape[1]}x{shape[0]}; "
        f"device {describe_device(bundle.device)}; median of {REPEATS} warm runs",
        "ours: stage 1 = one batched forward+backward giving scores and CAM (cam = mapping only)",
        "reference: one image at a time per model, then stock GradCAM per image (own forward)",
        f"ours runs the bundle's own precision ({precision}: core.models.precision); "
        "'ours fp32' is the same code with REVIEW_PRECISION=fp32; the reference is fp32",
        f"{'step':<12}{'ours ms':>10}{'ours fp32 ms':>14}{'reference ms':>14}{'ref/ours':>10}"
        f"{'ref/ours fp32':>15}",
    ]
    for step in (*STEPS, "stage1+cam", "total"):
        ratio = ref[step] / ours[step] if ours[step] > 0 else float("nan")
        ratio32 = ref[step] / fp32[step] if fp32[step] > 0 else float("nan")
        lines.append(f"{step:<12}{ours[step]:>10.1f}{fp32[step]:>14.1f}{ref[step]:>14.1f}"
                     f"{ratio:>9.2f}x{ratio32:>14.2f}x")  # fmt: skip
    return "\n".join(lines), ours | {"fp32_total": fp32["total"]}, ref


def results() -> dict[str, float]:
    """The figures for ``bench/results.json``, all from one run of this process:

    * ``reference_case_ms``: the original-style case (:func:`_reference`: the same
      preprocessing, then every model one image at a time, then a stock ``GradCAM`` with
      its own forward and a full backward per view), median of :data:`REPEATS` warm runs
      per step, summed;
    * ``inference_case_ms``: ours on the same case, measured interleaved with it
      (:func:`core.models.inference.run_case`: batched models, stage-1 scores and CAM from
      one pass, in the bundle's own precision), and ``inference_speedup_vs_reference`` =
      reference / ours; ``inference_case_fp32_ms``: ours forced to fp32 (what batching
      alone buys, apart from bf16);
    * ``inference_<step>_ms`` for each step of ours (preprocess, stage1, stage2, cam).
    """
    _, ours, ref = _run()
    out = {"reference_case_ms": ref["total"], "inference_case_ms": ours["total"],
           "inference_speedup_vs_reference": ref["total"] / ours["total"],
           "inference_case_fp32_ms": ours["fp32_total"]}  # fmt: skip
    out.update({f"inference_{k}_ms": ours[k] for k in STEPS})
    return out


def main() -> None:
    print(_run()[0])
