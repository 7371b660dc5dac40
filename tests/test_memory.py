"""core.memory: a finished case's cyclic garbage is collected and the first call freezes."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

from core import memory


def _join_release_timers() -> None:
    """A page test just before may leave an idle-time release pending (its timer fires
    1 s after a new case). One full run saw the freeze count move by 25 objects during
    this file's first test, after a page test; whatever froze them, no release but the
    test's own may run while these tests count."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.join(timeout=30)


@pytest.fixture
def fresh() -> Iterator[None]:
    """Each test starts unfrozen and leaves the process unfrozen (pytest's own objects
    must stay collectable for the rest of the run)."""
    _join_release_timers()
    gc.unfreeze()
    memory._frozen = False
    yield
    gc.unfreeze()
    memory._frozen = False


class _Node:
    def __init__(self) -> None:
        self.pixels = np.ones((512, 512), np.float32)
        self.me = self  # a reference cycle: reference counting alone never frees it


def test_cyclic_garbage_made_after_the_first_call_is_freed(fresh: None) -> None:
    memory.release_memory()
    frozen = gc.get_freeze_count()
    assert frozen > 0  # what was alive at the first call is frozen
    gc.disable()  # no automatic collection may free it behind the test's back
    try:
        node = _Node()
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # the cycle keeps it
        memory.release_memory()
        assert alive() is None
    finally:
        gc.enable()
    assert gc.get_freeze_count() == frozen  # the second call froze nothing new


def test_trim_is_reported_where_glibc_has_it(fresh: None) -> None:
    trimmed = memory.release_memory()
    assert trimmed is (memory._malloc_trim() is not None)


def test_the_mmap_threshold_is_pinned_where_glibc_allows() -> None:
    assert memory.pin_mmap_threshold() is (memory._glibc("mallopt") is not None)


def test_a_release_asked_for_soon_runs_once_off_the_page_thread(fresh: None) -> None:
    ran_on: list[str] = []
    real = memory.release_memory

    def spy() -> bool:
        ran_on.append(threading.current_thread().name)
        return real()

    before = len(memory.release_ms)
    memory.release_memory = spy  # type: ignore[assignment]
    try:
        memory.release_memory_soon(0.05)
        memory.release_memory_soon(0.05)  # joins the pending one
        assert not memory.wait_idle(0)  # pending: a benchmark would wait here
        assert memory.wait_idle(5)
    finally:
        memory.release_memory = real  # type: ignore[assignment]
    assert len(ran_on) == 1 and ran_on[0] != threading.current_thread().name
    assert len(memory.release_ms) == before + 1 and gc.get_freeze_count() > 0
