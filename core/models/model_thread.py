"""One long-lived thread for the network passes a server's script threads ask for.

Why: PyTorch's CPU build parallelises each operator with GNU OpenMP (libgomp), and
libgomp keeps one team of worker threads per thread that starts parallel work. While
more threads are managed than the machine has cores, every team's workers stop
spin-waiting between operators and sleep instead (libgomp's "throttled" spin count), so
each of the hundreds of small operators in a forward pass pays a futex wake-up. The
process's main thread already owns a team, so any other thread's work crosses that
line on a 2-core machine:

* a SwinV2 forward of 4 views took 58 ms in the main thread and 86-100 ms in any other
  thread once the main thread had run a parallel operator (same CPU time, half the
  overlap); 58 ms in a thread when no other team existed;
* a probe of 400 small parallel adds: 16 µs each alone, 120 µs with a second team.

Streamlit runs each rerun in a new script thread, so every case page paid both costs:
a new team per rerun and, with the main thread's team present (always, in tests and
benches), throttled workers. Passes asked for from any thread other than the main one
therefore run here, on one thread whose team is reused for the life of the process. It
also serialises passes between sessions, first come first served, which on a CPU is
what the cores do anyway; a long cohort run yields between its batches, as each batch is
one call.

The main thread runs its passes itself (command-line tools, training, tests): it
already owns the process's first team, and handing work to another thread there would
create the second one. Nothing here imports Streamlit; results and exceptions come back
to the caller unchanged.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["call_on_model_thread", "is_model_thread", "on_model_thread"]

P = ParamSpec("P")
R = TypeVar("R")

_NAME = "model-passes"
_LOCK = threading.Lock()
_EXECUTOR: ThreadPoolExecutor | None = None
_LOCAL = threading.local()


def _mark() -> None:
    _LOCAL.model_thread = True


def is_model_thread() -> bool:
    """Whether the calling thread is the model thread (its work runs inline)."""
    return bool(getattr(_LOCAL, "model_thread", False))


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(1, thread_name_prefix=_NAME, initializer=_mark)
        return _EXECUTOR


def call_on_model_thread(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``fn`` on the model thread and return its result (or raise its exception).

    Called from the model thread itself it runs inline, so decorated functions may call
    each other without deadlocking. Benchmarks use it to load models where the app does.
    """
    if is_model_thread():
        return fn(*args, **kwargs)
    return _executor().submit(fn, *args, **kwargs).result()


def on_model_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function that runs networks: from a thread other than the main one, it
    runs on the model thread; from the main thread, inline (see the module)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if threading.current_thread() is threading.main_thread():
            return fn(*args, **kwargs)
        return call_on_model_thread(fn, *args, **kwargs)

    return wrapper
