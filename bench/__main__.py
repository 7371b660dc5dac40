"""``python -m bench [NAME ...]``: run the benchmarks, print their tables, and (on a full
run) write ``bench/results.json``.

Each module in :data:`BENCHES` exposes ``main() -> None``, which prints its own table with
absolute figures and a ratio against a reference run in the same process; those that
report a figure of :data:`bench.results.FIGURES` also expose ``results() -> dict[str,
float]`` (computed once per process, shared with ``main``). A module that fails is
reported and the others still run; the exit status is then 1. ``make bench`` runs
``python -m bench.readme`` afterwards to regenerate the README's table.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time

from bench.results import compose, machine, write_results

BENCHES = [
    "bench.preprocess",
    "bench.inference",
    "bench.precision",
    "bench.case_page",
    "bench.cohort",
    "bench.full_profile",
    "bench.chest_synth",
    "bench.chest_models",
    "bench.chest_page",
    "bench.chest_cohort",
]

log = logging.getLogger("bench")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    # AppTest runs pages without a server; Streamlit's "missing ScriptRunContext" warnings
    # about that are noise in a benchmark table.
    os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")
    wanted = [b for b in BENCHES if not argv or b.split(".")[-1] in argv]
    print(f"# machine: {machine()}", flush=True)
    start = time.perf_counter()
    figures: dict[str, dict[str, float]] = {}
    failed = []
    for n, name in enumerate(wanted, 1):
        print(f"\n## {name}", flush=True)
        print(f"[bench {n}/{len(wanted)} at {time.perf_counter() - start:.0f} s] {name}…",
              file=sys.stderr, flush=True)  # fmt: skip
        try:
            module = importlib.import_module(name)
            module.main()
            if hasattr(module, "results"):
                figures[name] = module.results()
        except Exception:  # one broken bench must not hide the others' figures
            log.exception("%s failed", name)
            failed.append(name)
        sys.stdout.flush()
    print(f"\n# {len(wanted)} benches in {time.perf_counter() - start:.0f} s", flush=True)
    if not argv:  # a partial run would mix this run's numbers with an older file's
        results = compose(figures)
        write_results(results)
        if results["missing"]:
            print(f"# not measured: {', '.join(results['missing'])}", flush=True)
    if failed:
        print(f"# failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
