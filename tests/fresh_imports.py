"""Which modules a piece of code imports, seen from a fresh interpreter.

Import-boundary tests (common code never loads a study's modules, ``core/pacs`` needs no
built-in study for a toy one) must not see what earlier tests in the session imported.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_in_fresh_interpreter(code: str, modules: Sequence[str]) -> list[str]:
    """Run ``code`` in a new interpreter at the repository root; return those of
    ``modules`` that are imported afterwards."""
    probe = (
        f"{code}\nimport sys\nprint(','.join(m for m in {tuple(modules)!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return [m for m in out.stdout.strip().split(",") if m]
