"""The pipeline version: what it covers, and that it is computed once per process."""

from __future__ import annotations

from pathlib import Path

import pytest

import core.pipeline_version as pv

CORE = Path(pv.__file__).resolve().parent


def test_version_covers_the_preprocessing_and_decision_modules() -> None:
    files = {p.relative_to(CORE).as_posix() for p in pv.pipeline_files()}
    assert {"preprocess/params.py", "preprocess/margin.py", "models/gating.py",
            "models/inference.py", "findings.py", "cohort/table.py", "schema.py"} <= files  # fmt: skip
    assert len(pv.pipeline_version()) == 64 and pv.pipeline_version() == pv.pipeline_version()


def test_version_changes_with_a_sources_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "core"
    (fake / "preprocess").mkdir(parents=True)
    step = fake / "preprocess" / "step.py"
    step.write_text("THRESHOLD = 1\n")
    monkeypatch.setattr(pv, "_CORE", fake)
    monkeypatch.setattr(pv, "PIPELINE_SOURCES", ("preprocess/*.py",))
    first = pv.pipeline_version.__wrapped__()
    step.write_text("THRESHOLD = 2\n")
    assert pv.pipeline_version.__wrapped__() != first


def test_a_pattern_that_matches_nothing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pv, "PIPELINE_SOURCES", ("models/renamed.py",))
    with pytest.raises(FileNotFoundError, match="core/models/renamed.py"):
        pv.pipeline_files()
