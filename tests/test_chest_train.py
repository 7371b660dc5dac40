"""Chest part 2 end to end on a tiny synthetic cohort: train each kind of chest bundle,
ensemble them, predict, evaluate with and without the classifier rule, resume, refuse
tampered bundles, the augmentation study's budget, and a 2-process CPU DDP run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.models.bundle import BundleError, clear_bundle_cache, load_bundle
from core.models.manifest import read_manifest
from core.studies.chest.ensemble import EnsembleSettings
from core.studies.chest.ensemble_cli import build_ensemble
from core.studies.chest.synth import generate_chest_cohort
from core.studies.chest.train import ChestTrainOptions, split_films, train_chest

ROOT = Path(__file__).resolve().parents[1]
ENV = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_chest_cohort(
        tmp_path_factory.mktemp("chest") / "train", 16, 3, size=256, workers=1
    )


@pytest.fixture(scope="module")
def bundles(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bundles")
    made = {}
    for model, side in (("frcnn", 64), ("classifier", 32)):
        opts = ChestTrainOptions(
            model=model, aug="flip-rot-zoom", side=side, epochs=1, batch_size=4, seed=1
        )
        made[model] = train_chest(cohort, out / model, opts)
    made["ensemble"] = build_ensemble(
        out / "ens", [made["frcnn"], made["classifier"]], EnsembleSettings(iou_thr=0.35), fit=cohort
    )
    return made


def test_split_is_stratified_and_repeatable(cohort: Path) -> None:
    from core.studies.chest.fusion import fuse_readers
    from core.studies.chest.layout import read_vinbigdata

    ann = read_vinbigdata(cohort)
    fused = fuse_readers(ann)
    a = split_films(fused, ann.image_ids, 0.25, 0)
    assert a == split_films(fused, ann.image_ids, 0.25, 0)
    assert (
        not set(a[0]) & set(a[1])
        and len(a[1]) == 4
        and sorted(a[0] + a[1]) == sorted(ann.image_ids)
    )


def test_trained_bundles_record_what_made_them(bundles: dict[str, Path]) -> None:
    det = read_manifest(bundles["frcnn"])
    assert det.study == "chest" and det.roles == ("detector",)
    assert det.settings["family"] == "frcnn" and det.settings["augmentation"] == "flip-rot-zoom"
    assert det.settings["reader_fusion"]["method"] == "wbf" and det.settings["side"] == 64
    assert len(det.raw["training_data"]["val_ids"]) == 3
    assert set(det.thresholds.labels) == set(det.schema.labels) and len(det.thresholds.labels) == 15
    cls = read_manifest(bundles["classifier"])
    assert cls.roles == ("classifier",) and "val_auroc" in cls.raw["metrics"]
    ens = read_manifest(bundles["ensemble"])
    assert set(ens.roles) == {"detector_frcnn", "classifier"}
    members = ens.settings["members"]
    assert [m["bundle_sha256"] for m in members] == [det.sha256, cls.sha256]
    assert ens.settings["ensemble"]["iou_thr"] == 0.35 and ens.settings["rule"] is not None
    assert (
        "val_map_iou40" in ens.raw["metrics"] and "val_map_iou40_without_rule" in ens.raw["metrics"]
    )


def test_predict_and_evaluate_show_the_rule(
    bundles: dict[str, Path], cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pred.csv"
    run = subprocess.run([sys.executable, "-m", "core", "predict", str(bundles["ensemble"]), str(cohort), str(out)],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    sub = pd.read_csv(out)
    from core.studies.chest.submission import parse_prediction_string

    assert len(sub) == 16
    for image_id, text in sub.itertuples(index=False):  # the rule adds "No finding" to every film
        assert 14 in {p.class_id for p in parse_prediction_string(text, image_id)}
    films = pd.read_csv(tmp_path / "pred.films.csv")
    assert (
        films["p_abnormal"].between(0, 1).all() and films["action"].str.contains("No finding").all()
    )
    assert (tmp_path / "pred.without_rule.csv").is_file()
    ev = subprocess.run([sys.executable, "-m", "core", "evaluate", str(out), str(cohort), "--bootstrap", "20"],
                        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ev.returncode == 0, ev.stderr[-2000:]
    report = json.loads(ev.stdout)
    assert 0 <= report["map_iou40"] <= 1 and 0 <= report["without_rule"]["map_iou40"] <= 1


def test_a_bad_film_gets_a_reason_and_the_rest_are_predicted(
    bundles: dict[str, Path], cohort: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(cohort, data)
    victim = sorted(data.glob("*.dicom"))[0]
    victim.write_bytes(victim.read_bytes()[:400])
    out = tmp_path / "p.csv"
    run = subprocess.run([sys.executable, "-m", "core", "predict", str(bundles["frcnn"]), str(data), str(out)],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 1, run.stderr[-2000:]
    assert len(pd.read_csv(out)) == 15
    films = pd.read_csv(tmp_path / "p.films.csv", dtype={"problem": "string"})
    problems = films.set_index("image_id")["problem"].dropna()
    assert list(problems.index) == [victim.stem] and problems.iloc[0].strip()


def test_tampered_bundles_are_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    for name, damage in {
        "weights": lambda d: (d / "detector.safetensors").write_bytes(
            (d / "detector.safetensors").read_bytes()[:-8] + b"\0" * 8
        ),
        "pickle": lambda d: (d / "extra.pth").write_bytes(b"\x80\x04N."),
        "settings": lambda d: _edit(d, lambda m: m["settings"].update(surprise=1)),
        "role": lambda d: _edit(d, lambda m: m["models"].update(mystery=m["models"]["detector"])),
        "labels": lambda d: _edit(
            d, lambda m: m["models"]["detector"]["spec"].update(labels=["a"] * 14)
        ),
    }.items():
        d = tmp_path / name
        shutil.copytree(bundles["frcnn"], d)
        damage(d)
        clear_bundle_cache()
        with pytest.raises(BundleError):
            load_bundle(d, device="cpu")


def _edit(folder: Path, change) -> None:  # noqa: ANN001
    manifest = json.loads((folder / "bundle.json").read_text())
    change(manifest)
    (folder / "bundle.json").write_text(json.dumps(manifest))


def test_resume_continues_from_the_checkpoint(cohort: Path, tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    opts = ChestTrainOptions(model="classifier", side=32, epochs=1, seed=2, checkpoints=ck)
    train_chest(cohort, tmp_path / "a", opts)
    longer = ChestTrainOptions(
        model="classifier", side=32, epochs=2, seed=2, checkpoints=ck, resume=True
    )
    history = read_manifest(train_chest(cohort, tmp_path / "b", longer)).raw["metrics"]["history"]
    assert [row["epoch"] for row in history] == [0, 1]


def test_the_study_budget_trims_the_grid(cohort: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "core", "study", str(cohort), str(tmp_path), "--study", "chest",
         "--models", "frcnn", "--augs", "original", "+mix", "--epochs", "1", "--side", "64",
         "--bootstrap", "10", "--budget-min", "0.001"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    doc = json.loads((tmp_path / "chest_study.json").read_text())
    assert [c["status"] for c in doc["cells"]] == ["done", "skipped (budget)"]
    assert "| frcnn | original |" in (tmp_path / "chest_study.md").read_text()


def test_two_process_cpu_ddp_trains_a_detector(cohort: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
           "-m", "core", "train", str(cohort), str(tmp_path / "b"), "--study", "chest", "--model", "frcnn",
           "--side", "64", "--epochs", "1", "--threads", "1"]  # fmt: skip
    run = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rank 1/2" in run.stderr and "rank 0/2" in run.stderr
    assert run.stderr.count("saved bundle") == 1
    assert read_manifest(tmp_path / "b").raw["metrics"]["world"] == 2


def test_predict_on_a_real_cr_film_we_did_not_generate(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    """pydicom-data's RG1_UNCR.dcm (CR, MONOCHROME1, 15-bit, 1841 x 1955 px) through the
    folder path: the trained ensemble predicts it (its "No finding" at least), and an
    untrained detector, which keeps boxes on anything, puts every box inside the film in
    its original pixels."""
    import shutil

    from pydicom.data import get_testdata_file

    from core.models.build import build_model
    from core.models.bundle import save_bundle
    from core.models.registry import get_spec
    from core.studies import get_study
    from core.studies.chest.layout import header_size
    from core.studies.chest.submission import parse_prediction_string
    from core.studies.chest.train_eval import fixed_thresholds

    data = tmp_path / "films"
    data.mkdir()
    shutil.copy(get_testdata_file("RG1_UNCR.dcm"), data / "rg1.dcm")
    w, h = header_size(data / "rg1.dcm")
    assert sorted((w, h)) == [1841, 1955]
    spec = get_spec("chest_frcnn", size=64)
    raw = save_bundle(tmp_path / "raw", {"detector": build_model(spec, seed=0)}, {"detector": spec},
                      fixed_thresholds(), schema=get_study("chest").schema, preprocessing={},
                      settings={"family": "frcnn"})  # fmt: skip
    for bundle, want_boxes in ((bundles["ensemble"], False), (raw, True)):
        out = tmp_path / f"{bundle.name}.csv"
        run = subprocess.run([sys.executable, "-m", "core", "predict", str(bundle), str(data), str(out)],
                             cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        ((image_id, text),) = pd.read_csv(out).itertuples(index=False)
        preds = parse_prediction_string(text, image_id)
        assert image_id == "rg1" and any(p.class_id == 14 for p in preds)
        boxes = [p for p in preds if p.class_id != 14]
        assert bool(boxes) or not want_boxes
        if want_boxes:  # mapped from the 64-px input back to the film, not left at 64 px
            assert max(p.x_max for p in boxes) > 64 and max(p.y_max for p in boxes) > 64
        assert all(0 <= p.x_min < p.x_max <= w and 0 <= p.y_min < p.y_max <= h for p in boxes)
