"""``predict`` across ranks and after an interruption: the same bytes as one process.

One tiny bundle, four small patients (one partial, one bad file), chunks of two patients.
The torchrun test launches two real CPU ranks (gloo); the others run in this process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from models_fixtures import dsa_like

import core.models.predict_cli as predict_cli
from core.__main__ import main as cli_main
from core.case import Case
from core.cohort.shard import chunk_plan, part_name, run_patients
from core.intake.folder import read_kium_folder
from core.models.predict_tables import output_paths
from core.models.result import CaseResult
from core.schema import VIEWS

ROOT = Path(__file__).resolve().parent.parent
PATIENTS = 4
CHUNK = ["--cases-per-batch", "2"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four patients of small DSA-like JPEGs: 4 lacks its R views, 2 has a bad file for RV-B."""
    out = tmp_path_factory.mktemp("shard-cohort")
    rng = np.random.default_rng(5)
    for i in range(1, PATIENTS + 1):
        for v in VIEWS:
            if i == 4 and v.startswith("R"):
                continue
            cv2.imwrite(str(out / f"{i}{v}.jpg"), dsa_like(rng, 72, 88, 6))
    (out / "2RV-B.jpg").write_bytes(b"not a JPEG at all")
    return out


@pytest.fixture(scope="module")
def reference(tiny_bundle: Path, cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-process run every other run must match byte for byte."""
    out = tmp_path_factory.mktemp("ref") / "sub.csv"
    assert cli_main(["predict", str(tiny_bundle), str(cohort), str(out), *CHUNK]) == 1
    assert not out.with_name("sub.parts").exists()  # parts go once the CSVs are written
    return out


def _same_bytes(a: Path, b: Path) -> None:
    for kind, path in output_paths(a).items():
        other = output_paths(b)[kind]
        assert path.read_bytes() == other.read_bytes(), kind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_cpu_ranks_write_the_one_process_bytes(
    tiny_bundle: Path, cohort: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sub.csv"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", "-m", "core", "predict",
           str(tiny_bundle), str(cohort), str(out), *CHUNK]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    # Exit 1 on rank 0: finished, with the partial case and the bad file reported.
    assert "rank 0/2" in run.stderr and "rank 1/2" in run.stderr, run.stderr[-3000:]
    assert run.stderr.count(f"{PATIENTS} cases (2 partial, 1 with file problems") == 1
    _same_bytes(reference, out)
    with open(out) as f:
        assert [line.split(",")[0] for line in f][1:] == [str(i) for i in range(1, PATIENTS + 1)]


class Interrupted(RuntimeError):
    pass


def test_an_interrupted_run_resumes_and_ends_identical(
    tiny_bundle: Path,
    cohort: Path,
    reference: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = predict_cli.bundle_predictor
    ran: list[list[str]] = []

    def crashing_after(chunks: int | None):
        def make(*args: object, **kwargs: object):
            predict = real(*args, **kwargs)

            def wrapped(cases: Sequence[Case]) -> Sequence[CaseResult]:
                if chunks is not None and len(ran) >= chunks:
                    raise Interrupted("simulated kill")
                ran.append([c.case_id for c in cases])
                return predict(cases)

            return wrapped

        return make

    out = tmp_path / "sub.csv"
    argv = ["predict", str(tiny_bundle), str(cohort), str(out), *CHUNK]
    monkeypatch.setattr(predict_cli, "bundle_predictor", crashing_after(1))
    with pytest.raises(Interrupted):
        cli_main(argv)
    assert ran == [["1", "2"]] and not out.exists()
    assert len(list(out.with_name("sub.parts").glob("*/*.json"))) == 1

    ran.clear()
    monkeypatch.setattr(predict_cli, "bundle_predictor", crashing_after(None))
    assert cli_main(argv) == 1
    assert ran == [["3", "4"]]  # only the chunk the crash left
    _same_bytes(reference, out)
    assert not out.with_name("sub.parts").exists()


class _Store:
    def __init__(self) -> None:
        self.parts: dict[str, list[int]] = {}

    def done(self) -> set[int]:
        return {i for part in self.parts.values() for i in part}

    def write(self, name: str, indices: Sequence[int], results: Sequence[CaseResult]) -> None:
        assert name not in self.parts, "a part was overwritten"
        self.parts[name] = list(indices)


def test_chunks_do_not_depend_on_the_number_of_ranks(cohort: Path) -> None:
    """Each rank takes every world-th fixed chunk, so the model sees the same groups."""
    folder = read_kium_folder(cohort)
    indices = [11, 3, 7, 1, 9, 5, 2]  # any order: chunks follow it
    assert chunk_plan(indices, 3) == [[11, 3, 7], [1, 9, 5], [2]]
    calls: list[list[int]] = []

    def predict(cases: Sequence[Case]) -> Sequence[CaseResult]:
        calls.append([int(c.case_id) for c in cases])
        return [None] * len(cases)  # type: ignore[list-item]

    folder.load_case = lambda i: Case(str(i), {}, expected_views=VIEWS)  # type: ignore[method-assign]
    one, two = _Store(), _Store()
    run_patients(folder, indices, predict, one, chunk_size=3)
    single = sorted(calls)
    calls.clear()
    runs = [
        run_patients(folder, indices, predict, two, rank=r, world=2, chunk_size=3) for r in (0, 1)
    ]
    assert sorted(calls) == single and two.parts == one.parts
    assert [(r.owned, r.ran) for r in runs] == [(4, 4), (3, 3)]
    assert list(one.parts) == [part_name(3, n) for n in range(3)]
    calls.clear()
    again = run_patients(folder, indices, predict, two, rank=1, world=2, chunk_size=3)
    assert calls == [] and (again.resumed, again.ran) == (3, 0)  # nothing left to run
    with pytest.raises(ValueError):
        run_patients(folder, indices, predict, two, rank=2, world=2)
