"""``python -m bench [NAME ...]``: run the benchmarks and print their tables.

Each module in :data:`BENCHES` exposes ``main() -> None`` and prints its own table, with
absolute figures, the machine, and a ratio against a reference run in the same process.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import sys

BENCHES = [
    "bench.preprocess",
    "bench.inference",
    "bench.case_page",
    "bench.cohort",
    "bench.chest_synth",
    "bench.chest_models",
    "bench.chest_page",
    "bench.chest_cohort",
]


def machine() -> str:
    """One line naming the machine, printed above every table."""
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    # AppTest runs pages without a server; Streamlit's "missing ScriptRunContext" warnings
    # about that are noise in a benchmark table.
    os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")
    wanted = [b for b in BENCHES if not argv or b.split(".")[-1] in argv]
    print(f"# machine: {machine()}")
    for name in wanted:
        print(f"\n## {name}")
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
