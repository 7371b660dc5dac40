"""The demo bundle in bf16 against fp32: the speed of each and how far their answers lie.

Why: :mod:`core.models.precision` runs a bundle in the precision its thresholds were
fitted in, bf16 on a CPU with native bf16 such as this project's. This measures what that
costs in agreement and buys in time, on held-out patients the bundle never saw (the first
:data:`PATIENTS` of the demo held-out cohort: ``make demo`` first; random weights would say
nothing about agreement), one run each way in one process:

* ``bf16_max_abs_dp``: the largest difference between the two runs' probabilities over
  every patient's stage-1 score and 21 location scores;
* ``bf16_decision_flips``: decisions (stage-1 gate and 21 locations, per patient) that
  differ between the two runs, out of ``bf16_decisions``;
* ``bf16_speedup``: fp32 wall time over bf16 wall time for the same patients (decode and
  preprocessing included, as in ``predict``).

On a CPU without native bf16 both runs are fp32 and the figures say so (speedup ≈ 1).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import numpy as np

from core.intake import read_kium_folder
from core.models.bundle import load_bundle
from core.models.inference import iter_predict_cases
from core.models.precision import precision_of, setting
from core.models.result import CaseResult
from core.paths import demo_bundle_dir, demo_cohort_dir

__all__ = ["PATIENTS", "main", "results"]

PATIENTS = 40


def _cases(folder_path: str) -> Iterator[object]:
    folder = read_kium_folder(folder_path)
    for index in folder.indices[:PATIENTS]:
        yield folder.load_case(index)


def _scores(r: CaseResult) -> tuple[list[float], list[bool]]:
    scores = [r.gate.patient_score if r.gate.patient_score is not None else np.nan]
    scores += [float(f.score) if f.score is not None else np.nan for f in r.locations.values()]
    return scores, [r.gate.positive, *(bool(f.decision) for f in r.locations.values())]


def _run(bundle: object, folder: str, value: str) -> tuple[list[CaseResult], float]:
    with setting(value):
        start = time.perf_counter()
        out = list(iter_predict_cases(bundle, _cases(folder)))  # type: ignore[arg-type]
        return out, time.perf_counter() - start


@functools.cache
def _measure() -> tuple[str, dict[str, float]]:
    held_out = demo_cohort_dir("heldout")
    if not held_out.is_dir():
        raise FileNotFoundError(f"no demo held-out cohort at {held_out}: run make demo first")
    bundle = load_bundle(demo_bundle_dir())
    folder = str(held_out)
    auto = precision_of(bundle.device, bundle.manifest)
    list(iter_predict_cases(bundle, list(_cases(folder))[:1]))  # warm-up
    fp32, t32 = _run(bundle, folder, "fp32")
    ours, t16 = _run(bundle, folder, "auto")
    a = [_scores(r) for r in fp32]
    b = [_scores(r) for r in ours]
    dp = np.nanmax(np.abs(np.array([s for s, _ in a]) - np.array([s for s, _ in b])))
    flips = sum(x != y for (_, da), (_, db) in zip(a, b) for x, y in zip(da, db))
    decisions = sum(len(d) for _, d in a)
    figures = {"bf16_max_abs_dp": float(dp), "bf16_decision_flips": float(flips),
               "bf16_decisions": float(decisions), "bf16_speedup": t32 / t16}  # fmt: skip
    text = "\n".join([
        f"demo bundle on {len(fp32)} held-out patients ({folder}); 'auto' runs {auto} here",
        f"{'run':<40}{'s':>10}{'patients/s':>12}",
        f"{'fp32 (REVIEW_PRECISION=fp32)':<40}{t32:>10.1f}{len(fp32) / t32:>12.2f}",
        f"{'auto (' + auto + ')':<40}{t16:>10.1f}{len(ours) / t16:>12.2f}",
        f"speedup {t32 / t16:.2f}x; largest probability difference {dp:.4f}; "
        f"decisions that differ: {flips} of {decisions}",
    ])  # fmt: skip
    return text, figures


def results() -> dict[str, float]:
    """The agreement and speed figures; see the module."""
    return dict(_measure()[1])


def main() -> None:
    print(_measure()[0])


if __name__ == "__main__":
    main()
