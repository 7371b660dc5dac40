"""The aneurysm ``predict`` command's three tables, kept per chunk until the run ends.

Why JSON parts: a run under ``torchrun`` (or one that was interrupted) writes each chunk's
rows as they are made, and rank 0 writes the CSVs once every rank has finished. JSON
keeps every value exactly (a Python float round-trips through ``repr``), so the merged
CSVs are byte-identical to a one-process run, whatever the number of ranks or restarts.

Layout beside ``OUT.csv``::

    OUT.parts/<run id>/c0008-000012.json   one chunk: a record per patient

The run id digests what the rows depend on (bundle, data, code, CAM options, thresholds),
so a rerun with other inputs never reuses a part; the folder goes once the CSVs are
written.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.models.result import CaseResult
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS, TRAIN_COLUMNS

__all__ = [
    "PROB_COLUMNS",
    "VIEW_COLUMNS",
    "output_paths",
    "run_id",
    "case_record",
    "JsonParts",
    "MergeReport",
]

log = logging.getLogger(__name__)

PROB_COLUMNS = ("Index", "Aneurysm", "stage1_positive", "anterior_mean", "posterior_mean",
                *LOCATIONS, "missing_views", "notes")  # fmt: skip
VIEW_COLUMNS = ("Index", "View", "stage1_probability", "cam_peak_x", "cam_peak_y",
                "width", "height", "crop_x0", "crop_y0", "crop_x1", "crop_y1")  # fmt: skip


def output_paths(out: Path) -> dict[str, Path]:
    """``OUT.csv`` -> the submission, ``OUT.probabilities.csv`` and ``OUT.views.csv``."""
    return {
        "submission": out,
        "probabilities": out.with_name(f"{out.stem}.probabilities.csv"),
        "views": out.with_name(f"{out.stem}.views.csv"),
    }


def run_id(**inputs: Any) -> str:
    """A short digest of everything the rows depend on (JSON-serialisable values)."""
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def case_record(r: CaseResult) -> dict[str, Any]:
    """One patient: its row of each table, and what the final log line counts."""
    score = r.aneurysm_probability
    idx = int(r.case_id)
    sub = {"Index": idx, "Aneurysm": 0.0 if score is None else score} | r.decisions
    prob = {
        "Index": idx, "Aneurysm": score, "stage1_positive": int(r.gate.positive),
        "anterior_mean": r.gate.anterior_mean, "posterior_mean": r.gate.posterior_mean,
        **r.probabilities, "missing_views": " ".join(r.missing_views), "notes": " | ".join(r.notes),
    }  # fmt: skip
    views = []
    for v, vr in r.views.items():
        peak = vr.cam.peak_xy if vr.cam is not None else None
        x0, y0, x1, y1 = vr.record.crop
        width, height = vr.record.original_size
        views.append({
            "Index": idx, "View": v, "stage1_probability": vr.stage1_probability,
            "cam_peak_x": None if peak is None else peak[0],
            "cam_peak_y": None if peak is None else peak[1],
            "width": width, "height": height,
            "crop_x0": x0, "crop_y0": y0, "crop_x1": x1, "crop_y1": y1,
        })  # fmt: skip
    return {
        "index": idx,
        "sub": sub,
        "prob": prob,
        "views": views,
        "partial": bool(r.missing_views),
        "problems": any(not n.startswith("partial case") for n in r.notes),
        "empty": score is None,
    }


class MergeReport:
    """Counts for the final log line and the exit status."""

    def __init__(self, records: Sequence[dict[str, Any]]) -> None:
        self.cases = len(records)
        self.partial = sum(r["partial"] for r in records)
        self.problems = sum(r["problems"] for r in records)
        self.empty = sum(r["empty"] for r in records)


class JsonParts:
    """:class:`core.cohort.shard.PartStore` of ``predict``: one JSON file per chunk."""

    def __init__(self, out: Path, run: str, thresholds: Thresholds | None = None) -> None:
        self.parent = out.with_name(f"{out.stem}.parts")
        self.root = self.parent / run
        self.thresholds = thresholds

    def _records(self) -> list[dict[str, Any]]:
        parts = sorted(self.root.glob("*.json")) if self.root.is_dir() else []
        return [rec for p in parts for rec in json.loads(p.read_text())]

    def done(self) -> set[int]:
        return {rec["index"] for rec in self._records()}

    def write(self, name: str, indices: Sequence[int], results: Sequence[CaseResult]) -> None:
        records = []
        for r in results:
            if self.thresholds is not None:
                r = r.with_thresholds(self.thresholds)
            if r.missing_views:  # intake has already logged each problem
                log.info("Index %s: partial case, missing %s", r.case_id, " ".join(r.missing_views))
            if r.aneurysm_probability is None:
                log.warning("Index %s: no usable view; submitted as Aneurysm 0", r.case_id)
            records.append(case_record(r))
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{name}.json"
        tmp = path.with_name(path.name + ".tmp")  # renamed into place: whole parts only
        tmp.write_text(json.dumps(records))
        tmp.replace(path)

    def merge(self, indices: Sequence[int], out: Path) -> MergeReport:
        """Write the three CSVs in ``indices`` order, then drop the parts."""
        by_index: dict[int, dict[str, Any]] = {}
        for rec in self._records():
            by_index.setdefault(rec["index"], rec)  # a chunk rerun with another size
        missing = [i for i in indices if i not in by_index]
        if missing:
            raise RuntimeError(f"{len(missing)} patients have no stored result, e.g. {missing[:5]}")
        records = [by_index[i] for i in indices]
        tables = {
            "submission": (TRAIN_COLUMNS, [r["sub"] for r in records]),
            "probabilities": (PROB_COLUMNS, [r["prob"] for r in records]),
            "views": (VIEW_COLUMNS, [v for r in records for v in r["views"]]),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        for kind, path in output_paths(out).items():
            columns, rows = tables[kind]
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, columns)
                writer.writeheader()
                writer.writerows(rows)
            tmp.replace(path)
        shutil.rmtree(self.root, ignore_errors=True)
        if self.parent.is_dir() and not any(self.parent.iterdir()):
            self.parent.rmdir()
        return MergeReport(records)
