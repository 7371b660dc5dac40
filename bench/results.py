"""``bench/results.json``: every figure of one ``make bench`` run in one JSON object.

Why a fixed list: the README's table (:mod:`bench.readme`) and whoever compares two runs
need the same names, units and targets every time. Each figure comes from the
``results() -> dict[str, float]`` of the bench module named below, whose docstring holds
its full definition next to the code that measures it; a module that fails or does not
report a figure leaves it out of the file (listed under ``missing``), never a made-up
value. Targets are issue 16's.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

__all__ = ["Figure", "FIGURES", "RESULTS_PATH", "metadata", "compose", "write_results", "machine"]

log = logging.getLogger(__name__)

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
Check = Callable[[Mapping[str, Any]], bool | None]


@dataclass(frozen=True)
class Figure:
    """One reported number: where it comes from, its unit, its target and what it means."""

    key: str
    module: str
    unit: str
    target: str  # as the README shows it; "" when the issue sets none
    check: Check | None  # met? from the whole results object; None: no target
    definition: str


def _at_most(key: str, limit: float) -> Check:
    return lambda r: r[key] <= limit if key in r else None


def _at_least(key: str, limit: float) -> Check:
    return lambda r: r[key] >= limit if key in r else None


def _speedup(r: Mapping[str, Any]) -> bool | None:
    """The original-style case against ours, both measured by :mod:`bench.inference`."""
    if "reference_case_ms" not in r or "inference_case_ms" not in r:
        return None
    return r["reference_case_ms"] >= 4 * r["inference_case_ms"]


FIGURES: tuple[Figure, ...] = (
    Figure("preprocess_ms_per_view", "bench.preprocess", "ms", "≤ 10", _at_most("preprocess_ms_per_view", 10),
           "preprocessing step per 1000² view, decode excluded, one thread"),
    Figure("reference_preprocess_ms_per_view", "bench.preprocess", "ms", "", None,
           "the original-style preprocessing loop on the same views [reference]"),
    Figure("case_warm_ms", "bench.case_page", "ms", "≤ 600", _at_most("case_warm_ms", 600),
           "case page, time to result, warm (models loaded, a new case), server side, demo bundle, 8 views"),
    Figure("reference_case_ms", "bench.inference", "ms", "≥ 4× ours", _speedup,
           "original-style case (one image at a time, stock Grad-CAM per view) against ours in the same run"),
    Figure("control_change_ms", "bench.case_page", "ms", "≤ 100", _at_most("control_change_ms", 100),
           "display-control change (opacity, scale, enlarge), server side, no forward pass"),
    Figure("whatif_ms", "bench.cohort", "ms", "≤ 100", _at_most("whatif_ms", 100),
           "threshold change on a 200-patient cohort: what-if, error lists, curves (the fragment)"),
    Figure("rss_growth_pct_100_cases", "bench.case_page", "%", "≤ 5", _at_most("rss_growth_pct_100_cases", 5),
           "peak RSS after case 100 over the peak after case 5, minus 1, one session"),
    Figure("rss_mib_loaded", "bench.case_page", "MiB", "≤ 2048", _at_most("rss_mib_loaded", 2048),
           "memory of the app with the models loaded"),
    Figure("batch_patients_per_s", "bench.cohort", "patients/s", "≥ 1.6", _at_least("batch_patients_per_s", 1.6),
           "cohort batch inference (the page's and predict's path: decode, preprocess, 3 models, cache)"),
    Figure("full_profile_case_ms", "bench.full_profile", "ms", "", None,
           "full profile (724-px ResNet18, SwinV2-CR-tiny 224, ResNet18 224; random weights), warm case, CPU, 8 views"),
    Figure("full_profile_floor_ms", "bench.full_profile", "ms", "", None,
           "that case's FLOPs (FlopCounterMode) over this CPU's measured fp32 matmul peak"),
    Figure("bf16_max_abs_dp", "bench.precision", "", "", None,
           "demo bundle, 40 held-out patients: largest probability difference, bf16 (ours) vs fp32"),
    Figure("bf16_decision_flips", "bench.precision", "decisions", "", None,
           "of those patients' gate and 21 location decisions, how many differ between bf16 and fp32"),
    Figure("bf16_speedup", "bench.precision", "×", "", None,
           "fp32 wall time over bf16 wall time, same patients, decode and preprocessing included"),
    Figure("chest_image_warm_ms", "bench.chest_page", "ms", "", None,
           "chest film page, time to result, warm (a new film, models loaded), server side"),
    Figure("chest_whatif_ms", "bench.chest_cohort", "ms", "", None,
           "class-threshold change on a 500-film chest cohort (fusion and matching kept)"),
)  # fmt: skip


def machine() -> str:
    """One line naming the machine."""
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def metadata() -> dict[str, Any]:
    """When and where the run happened."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def compose(per_module: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """One object from each module's ``results()``: metadata, every number reported (the
    figures above first), and the names of the figures nobody reported."""
    numbers: dict[str, float] = {}
    for module, figures in per_module.items():
        for key, value in figures.items():
            if key in numbers:
                raise ValueError(f"{module} reports {key!r} a second time")
            numbers[key] = float(value)
    wanted = [f.key for f in FIGURES]
    out: dict[str, Any] = metadata()
    out.update({k: numbers[k] for k in wanted if k in numbers})
    out.update({k: v for k, v in sorted(numbers.items()) if k not in wanted})
    out["missing"] = [k for k in wanted if k not in numbers]
    return out


def write_results(results: Mapping[str, Any], path: Path = RESULTS_PATH) -> Path:
    path.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", path)
    return path
