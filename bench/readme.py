"""``python -m bench.readme``: the README's benchmark table, generated from
``bench/results.json``.

Why generated: a hand-copied table drifts from the run it claims to show. This rewrites
only the block between :data:`START` and :data:`END` in ``README.md`` (the rest of the
Benchmarks section is prose), one row per :data:`bench.results.FIGURES` entry: figure,
value, target, met?, definition. ``make bench`` calls it last.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.results import FIGURES, RESULTS_PATH

__all__ = ["START", "END", "render", "replace_block", "main"]

log = logging.getLogger(__name__)

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


def _value(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return str(value)
    digits = 2 if unit == "patients/s" or abs(value) < 10 else 0
    return f"{value:,.{digits}f} {unit}"


def render(results: Mapping[str, Any]) -> str:
    """The Markdown table (with a line saying which run it is) for ``results``."""
    if "date" in results:
        run = (f"`make bench` on {results.get('machine')}, {results['date']}, torch "
               f"{results.get('torch_version')}, {results.get('threads')} threads")  # fmt: skip
    else:
        run = "No `make bench` run has written `bench/results.json` yet"
    lines = [
        f"{run} (generated from `bench/results.json` by `python -m bench.readme`):",
        "",
        "| figure | value | target | met? | definition |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for f in FIGURES:
        value = _value(float(results[f.key]), f.unit) if f.key in results else "not measured"
        met = f.check(results) if f.check is not None else None
        verdict = "—" if met is None else ("yes" if met else "**no**")
        lines.append(f"| `{f.key}` | {value} | {f.target or '—'} | {verdict} | {f.definition} |")
    if "full_profile_floor_ratio" in results:
        lines += ["", f"Full profile: case time / FLOP floor = "
                      f"{results['full_profile_floor_ratio']:.2f}× "
                      f"({results.get('full_profile_flops', float('nan')) / 1e9:,.0f} GFLOP at "
                      f"a measured {results.get('cpu_peak_gflops', float('nan')):,.0f} GFLOP/s)."]  # fmt: skip
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """``text`` with everything between the markers replaced by ``block``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {START} ... {END} block")
    return f"{text[: start + len(START)]}\n{block}\n{text[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.readme", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = json.loads(args.results.read_text())
    args.readme.write_text(replace_block(args.readme.read_text(), render(results)))
    log.info("README table rewritten from %s", args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
