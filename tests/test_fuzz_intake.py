"""Intake fuzzing in ``make test``: thousands of mutated zips, PNGs, JPEGs and DICOMs go
through ``case_from_files`` and ``case_from_zip``; none may crash, every file must become a
view or get a one-line reason, the good files beside it must load, and memory must stay
bounded. The engine, its mutations and why it uses hypothesis without shrinking are in
``scripts/fuzz_intake.py``, which runs the same fuzzing at a larger count.
"""

from __future__ import annotations

import logging

import pytest

from scripts.fuzz_intake import run_fuzz

#: Inputs per run: thousands, yet about 15 s on a shared 2-core machine.
COUNT = 2000
SEED = 2026
#: Largest tracemalloc peak (Python and numpy) of one intake call. The inputs are under
#: 20 KiB, and a header mutated to declare a large image is refused from the header, so
#: no call should come near this.
MAX_TRACED_MIB = 32
#: How far the process's peak RSS may rise over the run: PIL's and the codecs' own buffers
#: are not traced. Loading the codec libraries alone takes ~70 MiB; the bound is the decode
#: budget (``core.limits.MAX_DECODE_BYTES``), which a single refused header never reaches.
MAX_RSS_GROWTH_MIB = 256


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_mutated_files_never_crash_intake(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fuzz_intake")
    result = run_fuzz(COUNT, SEED)
    assert result["crashed"] == 0 and result["violations"] == 0, result["examples"]
    assert result["tried"] == COUNT == result["used"] + result["reported"]
    assert result["used"] > COUNT // 10 and result["reported"] > COUNT // 2  # both happen
    kinds = result["kinds"]
    assert isinstance(kinds, dict) and len(kinds) == 33 and min(kinds.values()) >= COUNT // 100
    assert result["peak_traced_mib"] < MAX_TRACED_MIB, result
    assert result["rss_growth_mib"] < MAX_RSS_GROWTH_MIB, result
    (record,) = [r for r in caplog.records if r.name == "fuzz_intake"]
    assert record.getMessage().startswith('intake fuzz: {"tried": 2000,')
