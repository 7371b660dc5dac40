"""What every real-browser test shares: its marks (skipped, with the reason, where Debian's
Chromium is missing) and reading back what the app saved."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scripts.app_server import CHROMIUM

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing (make browser installs Debian's chromium; "
        "Playwright never downloads one)",
    ),
]


def saved_verdicts(data: Path) -> pd.DataFrame:
    """The latest verdicts in the data folder's SQLite verdict store."""
    from core.verdicts import VerdictStore

    store = VerdictStore.open(f"sqlite:///{data / 'verdicts.db'}")
    try:
        return store.all_latest()
    finally:
        store.close()
