"""Network passes asked for by other threads run on the one model thread; the main
thread runs its own. Results and exceptions come back unchanged (core.models.model_thread)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from models_fixtures import dsa_like, write_tiny_bundle

from core.models.bundle import load_bundle
from core.models.model_thread import call_on_model_thread, is_model_thread, on_model_thread
from core.models.runner import cam_logits, logits


@on_model_thread
def _where(value: int) -> tuple[str, bool, int]:
    return threading.current_thread().name, is_model_thread(), value


@on_model_thread
def _nested() -> tuple[bool, tuple[str, bool, int]]:
    return is_model_thread(), _where(2)  # a decorated call inside one: inline, no deadlock


@on_model_thread
def _fails() -> None:
    raise KeyError("no such role")


def _in_other_thread(fn, *args):  # noqa: ANN001, ANN202
    with ThreadPoolExecutor(1, thread_name_prefix="script-like") as pool:
        return pool.submit(fn, *args).result()


def test_the_main_thread_runs_inline() -> None:
    assert threading.current_thread() is threading.main_thread()
    assert _where(1) == ("MainThread", False, 1)


def test_other_threads_use_one_model_thread() -> None:
    names = {_in_other_thread(_where, i)[0] for i in range(3)}
    assert len(names) == 1 and names.pop().startswith("model-passes")
    assert _in_other_thread(_where, 5)[1:] == (True, 5)


def test_nested_calls_run_inline_on_the_model_thread() -> None:
    on_model, inner = _in_other_thread(_nested)
    assert on_model and inner[1] and inner[0].startswith("model-passes")


def test_exceptions_reach_the_caller_unchanged() -> None:
    with pytest.raises(KeyError, match="no such role"):
        _in_other_thread(_fails)
    with pytest.raises(KeyError, match="no such role"):
        call_on_model_thread(_fails.__wrapped__)  # type: ignore[attr-defined]
    assert _in_other_thread(_where, 7)[2] == 7  # the thread survives a failed call


def test_passes_from_a_script_thread_match_the_main_threads(tmp_path: Path) -> None:
    bundle = load_bundle(write_tiny_bundle(tmp_path / "b"))
    rng = np.random.default_rng(3)
    images = [dsa_like(rng) for _ in range(3)]
    here = logits(bundle, "posterior", images)
    there = _in_other_thread(logits, bundle, "posterior", images)
    np.testing.assert_array_equal(here, there)
    s1_here, maps_here, _ = cam_logits(bundle, "stage1", images, method="gradcam")
    s1_there, maps_there, _ = _in_other_thread(
        lambda: cam_logits(bundle, "stage1", images, method="gradcam")
    )
    np.testing.assert_allclose(s1_here, s1_there, rtol=0, atol=1e-6)
    for a, b in zip(maps_here, maps_there):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
