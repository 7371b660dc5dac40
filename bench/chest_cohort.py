"""Chest cohort page costs on a 500-film cohort: reopening it from its cache, a WBF change,
a rule toggle and a threshold change (the live what-if), all server side, no model.

The cohort is the project's synthetic VinBigData folder (500 films, three readers, 640 px
like the demo's), written once to ``<data>/cohorts/bench-chest-500``. Its member table is
the real thing: the chest bundle (the demo ensemble when built) run over every film by the
page's own batch path and cached where the page caches it, so the first ``make bench``
pays the batch once (its rate is printed) and later runs reopen it. Real detectors keep up
to 100 boxes per film each, so box counts are what a reader's cohort has.

Reference: the same threshold change recomputing fusion and matching from the member
table (what a page without the precomputation would do).

Figure (``results()``): ``chest_whatif_ms``, the live what-if on the 500 films after a
class-threshold change (fusion and matching precomputed, as the page keeps them), median
of :data:`REPEATS` changes between 0.2 and 0.8.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "results"]

FILMS = 500
SEED = 31
REPEATS = 7


def _ms(step) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    step()
    return (time.perf_counter() - t0) * 1e3


def _cohort(root: Path) -> Path:
    """The bench's 500-film folder, generated once (a finished folder has its truth.json)."""
    from core.studies.chest.demo import CHEST_PLAN
    from core.studies.chest.synth import generate_chest_cohort

    folder = root / "cohorts" / f"bench-chest-{FILMS}"
    if not (folder / "truth.json").is_file():
        generate_chest_cohort(folder, FILMS, SEED, size=CHEST_PLAN.film_size)
    return folder


@functools.cache
def _run() -> tuple[str, dict[str, float]]:
    """One measurement per process, shared by :func:`main` and :func:`results`."""
    from bench.chest_models import bench_bundle
    from bench.scratch import scratch_dir
    from core import paths
    from core.models.thresholds import Thresholds
    from core.studies.chest.classes import ALL_LABELS
    from core.studies.chest.cohort.api import load_cohort, run_cohort, what_if
    from core.studies.chest.cohort.scoring import fuse_cohort, score_cohort
    from core.studies.chest.ensemble import EnsembleSettings

    folder = _cohort(paths.data_dir())
    bundle, source = bench_bundle(scratch_dir("chest-cohort-bench-"))
    print(
        f"chest cohort: member boxes of {FILMS} films (cached after the first run)…",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    report = run_cohort(folder, bundle.path)
    batch_s = time.perf_counter() - t0
    ran = (
        f"batch ran {report.ran} films in {batch_s:.0f} s ({report.ran / batch_s:.2f} films/s)"
        if report.ran
        else "batch cached"
    )
    reopen = [_ms(lambda: load_cohort(folder, bundle.path)) for _ in range(3)]
    data = load_cohort(folder, bundle.path)
    assert data is not None
    n_boxes = int((data.members["class_id"] >= 0).sum())
    head = (f"cohort: {FILMS} synthetic films, {n_boxes} member boxes of {len(data.detectors)} detectors; "
            f"bundle: {source}; {ran}")  # fmt: skip
    base = Thresholds(None, dict.fromkeys(ALL_LABELS, 0.5), "bench")
    weights = data.fusion.weights
    fusions = [EnsembleSettings(iou_thr=v, weights=weights) for v in (0.55, 0.4, 0.7)]
    wbf = [_ms(lambda f=f: score_cohort(data.members, data.truth, data.detectors, f, data.rule,
                                        fused=fuse_cohort(data.members, data.detectors, f)))
           for f in fusions]  # fmt: skip
    kept = fuse_cohort(data.members, data.detectors, data.fusion)  # the page keeps it per setting
    rule_off = _ms(
        lambda: score_cohort(
            data.members, data.truth, data.detectors, data.fusion, None, fused=kept
        )
    )
    scored = score_cohort(
        data.members, data.truth, data.detectors, data.fusion, data.rule, fused=kept
    )
    live = []
    for v in np.linspace(0.2, 0.8, REPEATS):
        thr = Thresholds(None, dict.fromkeys(ALL_LABELS, float(v)), "bench")
        live.append(_ms(lambda thr=thr: what_if(data, thr, scored=scored)))
    naive = _ms(lambda: what_if(data, base))
    rows = [
        ("reopen from cache (table + truth + bundle settings)", statistics.median(reopen)),
        ("WBF setting change (fuse + rule + match; memoised)", statistics.median(wbf)),
        ("classifier rule on -> off (fusion kept: rule + match)", rule_off),
        (f"threshold change, median of {REPEATS} (precomputed)", statistics.median(live)),
        ("threshold change recomputing fusion + matching", naive),
    ]
    lines = [head, f"{'chest cohort, server side, no model':<52}{'ms':>10}"]
    lines += [f"{name:<52}{ms:>10.1f}" for name, ms in rows]
    lines.append(
        f"precomputed / recomputed threshold change: {naive / statistics.median(live):.0f}x faster"
    )
    return "\n".join(lines), {"chest_whatif_ms": statistics.median(live)}


def results() -> dict[str, float]:
    """``chest_whatif_ms``; see the module."""
    return dict(_run()[1])


def main() -> None:
    print(_run()[0])


if __name__ == "__main__":
    main()
