"""End to end on a tiny synthetic cohort: the data cache, one epoch of tiny models, a bundle
that ``load_bundle`` accepts, ``predict`` + ``evaluate`` on it, and a 2-process CPU DDP run
through ``torchrun``."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.intake.folder import read_kium_folder
from core.models.bundle import load_bundle
from core.models.inference import run_case
from core.models.registry import get_spec
from core.schema import VIEWS, groups_of, training_tables
from core.synth.cohort import generate_cohort
from core.training.data import input_key, load_training_data
from core.training.distributed import DistInfo
from core.training.groups import GROUPINGS
from core.training.options import TrainOptions
from core.training.profiles import get_profile
from core.training.trainer import train_bundle

ROOT = Path(__file__).resolve().parent.parent
CPU = DistInfo(0, 1, 0, torch.device("cpu"))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six patients, at least one positive (seed chosen once, checked below)."""
    out = generate_cohort(tmp_path_factory.mktemp("cohort") / "c", patients=6, seed=3)
    return out


def test_cache_rows_match_the_training_tables(cohort: Path) -> None:
    specs = {  # two inputs: the stage-1 transform, and the original grey input
        "stage1": get_spec("stage1_resnet18_tiny"),
        "anterior": get_spec("anterior_swinv2_cr_full", size=64),
    }
    data = load_training_data(cohort, specs, info=CPU, workers=1)  # type: ignore[arg-type]
    assert len(data.rows) == 6 * len(VIEWS)
    assert set(data.arrays) == {(64, 64, True), (64, 64, False)}
    truth = json.loads((cohort / "truth.json").read_text())["images"]
    assert data.sacs is not None and set(data.sacs) == set(data.rows) == set(data.crops)
    drawn = sum(len(t["aneurysms"]) for t in truth.values())
    assert drawn > 0 and sum(len(s) for s in data.sacs.values()) == drawn
    stage1 = data.arrays[input_key(specs["stage1"].input)]
    assert stage1.dtype == np.uint8 and stage1.shape == (48, 64, 64)
    ds = data.dataset(specs["anterior"], data.train["Index"])
    table = training_tables(data.train)["anterior"]
    assert len(ds) == len(table) and ds.labels.shape == (len(table), 5)
    assert ds.labels.numpy().sum() == table.iloc[:, 3:].to_numpy().sum()
    assert data.fingerprint["n_images"] == 48 and len(data.fingerprint["train_csv_sha256"]) == 64


def test_train_tiny_bundle_then_predict_and_evaluate(cohort: Path, tmp_path: Path) -> None:
    assert json.loads((cohort / "truth.json").read_text())["patients"]
    opts = TrainOptions(seed=1, groups=GROUPINGS["view-shows"], n_boot=20)
    out = train_bundle(cohort, tmp_path / "bundle", get_profile("tiny"), opts)
    assert out == tmp_path / "bundle"
    bundle = load_bundle(out, device="cpu")
    assert groups_of(bundle.schema) == GROUPINGS["view-shows"]
    assert bundle.study == "aneurysm"
    assert bundle.manifest["study"]["groups"] == GROUPINGS["view-shows"].to_dict()
    manifest = bundle.manifest
    assert manifest["thresholds"]["rule"] == "stage1=median; locations=percentile(q=90.0)"
    assert manifest["training_data"]["n_images"] == 48
    assert manifest["metrics"]["calibrated_on"] == "training-split patients"
    training = manifest["metrics"]["training"]
    assert all(training[r]["training"].startswith("localised") for r in training)  # truth.json
    assert training["anterior"]["init"].startswith("stem conv1..layer2 copied from")
    assert "applied" in training["stage1"]["platt"]
    assert len(training["stage1"]["history"]) == 2
    assert training["stage1"]["hard_negatives"]["places"] > 0  # mined before epoch 2
    assert manifest["combine"] == bundle.combine == "joint_max"  # the profile's rule, kept
    case = read_kium_folder(cohort).load_case(read_kium_folder(cohort).indices[0])
    result = run_case(bundle, case, cam=False)
    for col in ("L_MCA", "BA"):
        base = col.split("_")[-1]
        joint = [
            r.stage1_probability * r.stage2_probabilities[base]
            for v, r in result.views.items()
            if v in result.locations[col].sources
        ]
        assert result.locations[col].score == pytest.approx(max(joint))
    assert (
        not (out / "stage1.pt").exists()
        and (tmp_path / "bundle.checkpoints" / "stage1.pt").is_file()
    )
    pred = tmp_path / "pred" / "out.csv"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "core", "predict", str(out), str(cohort), str(pred)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    ev = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "evaluate",
            str(pred),
            str(cohort),
            "--bundle",
            str(out),
            "--bootstrap",
            "20",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ev.returncode == 0, ev.stderr[-2000:]
    report = json.loads(ev.stdout)
    for key in (
        "aneurysm",
        "location_accuracy",
        "locations",
        "location_macro_auroc",
        "weighted_auroc",
        "pointing_game",
        "bootstrap",
        "n_patients",
    ):
        assert key in report
    assert report["n_patients"] == 6
    assert report["aneurysm"]["operating_points"][0]["threshold"] == pytest.approx(
        bundle.thresholds.stage1
    )
    assert set(report["locations"]) == set(bundle.thresholds.labels)
    assert "margin_frac" in report["pointing_game"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_process_cpu_ddp_writes_one_bundle(cohort: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "-m",
        "core",
        "train",
        str(cohort),
        str(tmp_path / "b"),
        "--profile",
        "tiny",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--bootstrap",
        "0",
    ]
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rank 1/2" in run.stderr and "rank 0/2" in run.stderr
    assert run.stderr.count("saved bundle") == 1  # rank 0 alone writes
    assert run.stderr.count("stage1: localised") == 2  # each rank trains on crops
    # Both ranks apply rank 0's Platt fit, so their stage-1 heads stay identical.
    fits = re.findall(r"Platt scaling on \d+ validation views: (a=\S+ b=\S+)", run.stderr)
    assert len(fits) == 2 and fits[0] == fits[1], fits
    assert load_bundle(tmp_path / "b", device="cpu").name == "b"
