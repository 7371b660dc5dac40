"""Scratch folders for one bench process, removed when it exits.

A bench that trains or saves random-initialised bundles writes hundreds of MB; left in
``/tmp`` after every ``make bench`` they filled a disk.  Folders a measurement must keep
for the whole process (an AppTest session reads from them to the end) come from here.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def scratch_dir(prefix: str) -> Path:
    """A new empty folder under the system temp dir, deleted at interpreter exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
