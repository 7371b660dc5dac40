"""``bench/results.json`` and the README table generated from it (no benchmark runs)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench.readme import END, START, main as readme_main, render, replace_block
from bench.results import FIGURES, compose

SAMPLE = {
    "date": "2026-11-29T18:00:00+00:00", "machine": "box, 2 cores", "torch_version": "2.x",
    "threads": 2, "preprocess_ms_per_view": 8.4, "case_warm_ms": 712.0,
    "reference_case_ms": 4000.0, "inference_case_ms": 900.0, "batch_patients_per_s": 1.234,
    "rss_growth_pct_100_cases": 3.2, "full_profile_floor_ms": 1500.0,
    "full_profile_floor_ratio": 2.5, "full_profile_flops": 3.0e11, "cpu_peak_gflops": 200.0,
}  # fmt: skip


def _row(table: str, key: str) -> list[str]:
    line = next(ln for ln in table.splitlines() if ln.startswith(f"| `{key}`"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_render_shows_value_target_and_verdict_per_figure() -> None:
    table = render(SAMPLE)
    assert "box, 2 cores" in table and "2026-11-29T18:00:00+00:00" in table
    assert _row(table, "preprocess_ms_per_view")[1:4] == ["8.40 ms", "≤ 10", "yes"]
    assert _row(table, "case_warm_ms")[1:4] == ["712 ms", "≤ 600", "**no**"]
    assert _row(table, "reference_case_ms")[3] == "yes"  # 4000 >= 4 x 900
    assert _row(table, "batch_patients_per_s")[1:4] == ["1.23 patients/s", "≥ 1.6", "**no**"]
    assert _row(table, "whatif_ms")[1:4] == ["not measured", "≤ 100", "—"]
    assert _row(table, "full_profile_floor_ms")[1:4] == ["1,500 ms", "—", "—"]
    assert "2.50× (300 GFLOP at a measured 200 GFLOP/s)" in table
    assert len([ln for ln in table.splitlines() if ln.startswith("| `")]) == len(FIGURES)


def test_replace_block_keeps_the_rest_of_the_readme(tmp_path: Path) -> None:
    text = f"# T\nbefore\n{START}\nold table\n{END}\nafter\n"
    new = replace_block(text, "NEW")
    assert new == f"# T\nbefore\n{START}\nNEW\n{END}\nafter\n"
    assert replace_block(new, "NEW") == new  # idempotent
    with pytest.raises(ValueError):
        replace_block("# no markers\n", "NEW")
    readme, results = tmp_path / "README.md", tmp_path / "results.json"
    readme.write_text(text)
    results.write_text(json.dumps(SAMPLE))
    assert readme_main(["--results", str(results), "--readme", str(readme)]) == 0
    out = readme.read_text()
    assert out.startswith("# T\nbefore\n") and out.endswith(f"{END}\nafter\n")
    assert "old table" not in out and "| `case_warm_ms` | 712 ms |" in out


def test_compose_keeps_every_number_and_names_the_missing() -> None:
    out = compose({"bench.a": {"whatif_ms": 42, "extra_ms": 1.5}, "bench.b": {"case_warm_ms": 500}})
    assert out["whatif_ms"] == 42.0 and out["case_warm_ms"] == 500.0 and out["extra_ms"] == 1.5
    assert {"date", "machine", "torch_version", "threads"} <= set(out)
    assert "whatif_ms" not in out["missing"] and "batch_patients_per_s" in out["missing"]
    assert len(out["missing"]) == len(FIGURES) - 2
    with pytest.raises(ValueError, match="a second time"):
        compose({"bench.a": {"whatif_ms": 1}, "bench.b": {"whatif_ms": 2}})


def test_a_full_run_writes_one_object_from_every_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stub modules stand in for the real benches (which take minutes); one fails."""

    def stub(name: str, figures: dict[str, float] | None, fail: bool = False) -> str:
        module = types.ModuleType(name)

        def main() -> None:
            if fail:
                raise RuntimeError("broken bench")
            print(f"table of {name}")

        module.main = main  # type: ignore[attr-defined]
        if figures is not None:
            module.results = lambda: figures  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)
        return name

    benches = [stub("bench.stub_a", {"whatif_ms": 12.5, "batch_patients_per_s": 1.7}),
               stub("bench.stub_b", None), stub("bench.stub_c", {"case_warm_ms": 1.0}, fail=True),
               stub("bench.stub_d", {"chest_whatif_ms": 30.0})]  # fmt: skip
    monkeypatch.setattr(bench_main, "BENCHES", benches)
    written: list[dict] = []
    monkeypatch.setattr(bench_main, "write_results", lambda r: written.append(dict(r)))
    assert bench_main.main([]) == 1  # stub_c failed, the others still ran
    out = capsys.readouterr().out
    assert "table of bench.stub_a" in out and "table of bench.stub_d" in out
    assert "# failed: bench.stub_c" in out
    (results,) = written
    assert results["whatif_ms"] == 12.5 and results["chest_whatif_ms"] == 30.0
    assert "case_warm_ms" not in results and "case_warm_ms" in results["missing"]
    written.clear()
    assert bench_main.main(["stub_a"]) == 0 and written == []  # a partial run writes nothing


def test_the_preprocessing_bench_gives_the_threads_back() -> None:
    """It times on one thread; the benches after it in the same process must not."""
    import cv2
    import torch

    from bench.preprocess import _one_thread

    before = (cv2.getNumThreads(), torch.get_num_threads())
    with _one_thread():
        assert (cv2.getNumThreads(), torch.get_num_threads()) == (1, 1)
    assert (cv2.getNumThreads(), torch.get_num_threads()) == before
