"""Chest cohort page costs on a 500-film cohort: reopening it from its cache, a WBF change,
a rule toggle and a threshold change (the live what-if), all server side, no model.

The cohort is the project's synthetic VinBigData folder (500 films, three readers). Its
member table, what the cache holds, is **simulated** from the readers' own boxes rather
than predicted: each detector member of the bundle sees every reader box with probability
0.8, jittered by up to 6 % of its size, scored from Beta(5, 2), plus 0-3 false alarms per
film scored from Beta(2, 5); P(abnormal) is 0.8/0.2 with noise. What-if speed depends on
how many boxes there are, not on which weights made them, and a real 500-film batch would
take most of an hour on this CPU; the batch's own cost is in ``bench.chest_models``.

Reference: the what-if threshold change against recomputing fusion + matching from the
table for the same change (what a page without the precomputation would do).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["main", "simulated_members"]

FILMS = 500
MEMBERS = ("detector_a", "detector_b", "detector_c")
REPEATS = 7


def simulated_members(annotations_rows: pd.DataFrame, sizes: pd.DataFrame, members: tuple[str, ...] = MEMBERS,
                      seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """A member table (:data:`core.studies.chest.cohort.store.MEMBER_COLUMNS`) for the
    films of ``sizes`` (index image_id; width, height), from reader rows (see module doc)."""
    from core.studies.chest.classes import BOX_COLUMNS, NO_FINDING_ID
    from core.studies.chest.cohort.store import FILM_CLASS, MEMBER_COLUMNS

    rng = np.random.default_rng(seed)
    boxes = annotations_rows[annotations_rows["class_id"] != NO_FINDING_ID]
    by_film = {k: g for k, g in boxes.groupby(boxes["image_id"].astype(str))}
    rows: list[tuple] = []
    nan4 = (np.nan,) * 4
    for image_id, (w, h) in sizes[["width", "height"]].iterrows():
        image_id = str(image_id)
        own = by_film.get(image_id)
        p = float(np.clip((0.8 if own is not None else 0.2) + rng.normal(0, 0.15), 0, 1))
        rows.append((image_id, "", FILM_CLASS, np.nan, *nan4, int(w), int(h), p, ""))
        for role in members:
            if own is not None:
                for _, r in own.iterrows():
                    if rng.random() > 0.8:
                        continue
                    b = np.array([r.x_min, r.y_min, r.x_max, r.y_max], float)
                    side = np.array([b[2] - b[0], b[3] - b[1]] * 2)
                    b = np.clip(b + rng.uniform(-0.06, 0.06, 4) * side, 0, [w, h, w, h])
                    if b[2] > b[0] and b[3] > b[1]:
                        rows.append((image_id, role, int(r.class_id), float(rng.beta(5, 2)), *b, int(w), int(h), p, ""))
            for _ in range(int(rng.integers(0, 4))):
                x0, y0 = rng.uniform(0, 0.8) * w, rng.uniform(0, 0.8) * h
                bw, bh = rng.uniform(0.03, 0.2) * w, rng.uniform(0.03, 0.2) * h
                rows.append((image_id, role, int(rng.integers(0, 14)), float(rng.beta(2, 5)),
                             x0, y0, min(x0 + bw, w), min(y0 + bh, h), int(w), int(h), p, ""))  # fmt: skip
    columns = ["image_id", "role", "class_id", "score", *BOX_COLUMNS, "width", "height", "p_abnormal", "error"]
    assert tuple(columns) == MEMBER_COLUMNS
    return pd.DataFrame(rows, columns=columns)


def _ms(step) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    step()
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    from bench.chest_models import bench_bundle
    from core.models.thresholds import Thresholds
    from core.studies.chest.classes import ALL_LABELS
    from core.studies.chest.cohort.api import bundle_fusion, load_cohort, what_if
    from core.studies.chest.cohort.scoring import score_cohort
    from core.studies.chest.cohort.store import ChestCohortCache, chest_cache_key
    from core.studies.chest.ensemble import EnsembleSettings
    from core.studies.chest.layout import read_vinbigdata
    from core.studies.chest.synth import generate_chest_cohort

    tmp = Path(tempfile.mkdtemp(prefix="chest-cohort-bench-"))
    t0 = time.perf_counter()
    folder = generate_chest_cohort(tmp / "films", FILMS, 31, size=256)
    ann = read_vinbigdata(folder)
    gen_s = time.perf_counter() - t0
    bundle, source = bench_bundle(tmp)
    bundle_dir = bundle.path
    roles = tuple(bundle_fusion(bundle_dir)[2]) or MEMBERS  # the bundle's WBF weights fit them
    members = simulated_members(ann.boxes, ann.sizes, roles)
    cache = ChestCohortCache(tmp / "cache")
    cache.save(chest_cache_key(bundle_dir, folder), members, {"detectors": list(roles)})
    n_boxes = int((members["class_id"] >= 0).sum())
    print(f"cohort: {FILMS} synthetic films ({gen_s:.0f} s to generate), {n_boxes} simulated boxes of "
          f"{len(roles)} members; bundle: {source}")  # fmt: skip

    reopen = [_ms(lambda: load_cohort(folder, bundle_dir, cache=cache)) for _ in range(3)]
    data = load_cohort(folder, bundle_dir, cache=cache)
    assert data is not None
    base = Thresholds(None, dict.fromkeys(ALL_LABELS, 0.5), "bench")
    fusions = [EnsembleSettings(iou_thr=v) for v in (0.55, 0.4, 0.7)]
    wbf = [_ms(lambda f=f: score_cohort(data.members, data.truth, data.detectors, f, data.rule)) for f in fusions]
    rule_off = _ms(lambda: score_cohort(data.members, data.truth, data.detectors, data.fusion, None))
    scored = score_cohort(data.members, data.truth, data.detectors, data.fusion, data.rule)
    live = []
    for v in np.linspace(0.2, 0.8, REPEATS):
        thr = Thresholds(None, dict.fromkeys(ALL_LABELS, float(v)), "bench")
        live.append(_ms(lambda thr=thr: what_if(data, thr, scored=scored)))
    naive = _ms(lambda: what_if(data, base))
    print(f"{'chest cohort, server side, no model':<52}{'ms':>10}")
    rows = [
        ("reopen from cache (table + truth + bundle settings)", statistics.median(reopen)),
        ("WBF setting change (fuse + match, memoised after)", statistics.median(wbf)),
        ("classifier rule on -> off (fuse + match)", rule_off),
        (f"threshold change, median of {REPEATS} (precomputed)", statistics.median(live)),
        ("threshold change recomputing fusion + matching", naive),
    ]
    for name, ms in rows:
        print(f"{name:<52}{ms:>10.1f}")
    print(f"precomputed / recomputed threshold change: {naive / statistics.median(live):.0f}x faster")


if __name__ == "__main__":
    main()
