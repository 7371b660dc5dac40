"""Hand a finished case's memory back to the operating system.

A case page allocates hundreds of megabytes of short-lived arrays (eight full-resolution
views, their crops, model activations). Python frees them, but glibc's allocator keeps the
freed pages in its arenas, fragmented, so a long session's resident memory climbs case
after case although nothing is retained (measured: +15 MiB a case over 30 cases with the
demo bundle; trimming alone did not stop it, collecting reference cycles did). A full
collection walks every object the process holds, hundreds of milliseconds with torch, timm,
plotly and Streamlit loaded, so the first call freezes what is alive then (modules, loaded
models: :func:`gc.freeze`) and later collections walk only what came after: ~20 ms a case.
A third cause: glibc serves large blocks (a view is ~1 MB) from mmap only above a
threshold it raises as blocks are freed, after which views come from the heap and leave it
fragmented; :func:`pin_mmap_threshold` (app.py calls it first thing, and the first
:func:`release_memory` again) pins that threshold at :data:`MMAP_THRESHOLD`, so such
blocks go back to the system as soon as they are freed (measured with ``MALLOC_MMAP_THRESHOLD_``:
peak growth over 100 cases +7.6 % without, +4.2 % with).
``bench/case_page.py`` measures the result over 100 cases.

The collection still walks every object made since the freeze (caches, figures, session
state): tens of milliseconds. That is housekeeping, not the next case's work, so the page
asks for it with :func:`release_memory_soon`: it runs on a timer thread once the page has
had :data:`IDLE_DELAY_S` to finish, while the reader looks at the result (a young-only
collection instead left +39 % growth over 100 cases). :func:`wait_idle` lets a benchmark
start its next case only after it, as a reader's next case would.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import threading
import time

__all__ = [
    "IDLE_DELAY_S",
    "MMAP_THRESHOLD",
    "pin_mmap_threshold",
    "release_memory",
    "release_memory_soon",
    "wait_idle",
]

#: Seconds after a new case before its predecessor's garbage is collected.
IDLE_DELAY_S = 1.0

#: Blocks at least this large are mmap-ed and returned to the system when freed.
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number

log = logging.getLogger(__name__)

_lock = threading.Lock()
_frozen = False
_pending: threading.Timer | None = None
_idle = threading.Event()
_idle.set()


@functools.cache
def _glibc(function: str) -> object | None:
    """A glibc function, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), function)
    except (OSError, AttributeError):
        log.debug("no %s in %s: freed memory stays with the allocator", function, name)
        return None


def _malloc_trim() -> object | None:
    return _glibc("malloc_trim")


def pin_mmap_threshold() -> bool:
    """Serve blocks of :data:`MMAP_THRESHOLD` and more from mmap from now on (glibc only:
    elsewhere False). Early is better: blocks already on the heap stay there."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))  # type: ignore[operator]


def release_memory() -> bool:
    """Collect reference cycles, then return free heap pages to the OS where glibc allows.

    Objects alive at the first call are frozen, never scanned again (nor collected: a
    cycle among them that dies later stays; by then they are the process's long-lived
    modules and models). Returns whether the allocator was asked to trim (False off glibc).
    """
    global _frozen
    with _lock:
        gc.collect()
        if not _frozen:
            gc.freeze()
            _frozen = True
            pin_mmap_threshold()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)  # type: ignore[operator]
    return True


#: Milliseconds each idle-time release took (the last 100), for benchmarks.
release_ms: list[float] = []


def _release_then_idle() -> None:
    global _pending
    start = time.perf_counter()
    try:
        release_memory()
    finally:
        release_ms.append((time.perf_counter() - start) * 1e3)
        del release_ms[:-100]
        with _lock:
            _pending = None
            _idle.set()


def release_memory_soon(delay_s: float = IDLE_DELAY_S) -> None:
    """:func:`release_memory` on a timer thread ``delay_s`` from now; one at a time (a
    request while one is pending joins it)."""
    global _pending
    with _lock:
        if _pending is not None:
            return
        _idle.clear()
        _pending = threading.Timer(delay_s, _release_then_idle)
        _pending.daemon = True
        _pending.start()


def wait_idle(timeout_s: float | None = None) -> bool:
    """Block until no release is pending (benchmarks); False on timeout."""
    return _idle.wait(timeout_s)
