"""The synthetic chest cohort: layout, DICOM and PNG files, determinism, frequencies,
readers, lesion placement, and that no whole-image statistic gives the answer away."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pydicom
import pytest

from core.__main__ import main as cli_main
from core.intake.dicom import decode_dicom
from core.metrics.binary import auroc
from core.studies.chest.classes import ALL_LABELS, CLASSES, NO_FINDING_ID, READERS, TRAIN_COLUMNS
from core.studies.chest.synth import (
    NORMAL_FRACTION,
    PNG_SIZE,
    generate_chest_cohort,
    image_id,
    render_image,
    sample_findings,
)
from core.studies.chest.synth.anatomy import render_anatomy
from core.studies.chest.synth.body import LEFT, RIGHT, Body
from core.studies.chest.synth.film import Film
from core.studies.chest.synth.lesions import GEOMETRY, draw_lesion
from core.studies.chest.synth.write import dicom_bytes

#: The shared cohort: large enough for frequencies and the leakage check, small films.
N_IMAGES, SIZE, SEED = 300, 256, 11
#: Bound on max(AUROC, 1 - AUROC) of any whole-image statistic for normal vs abnormal.
#: With ~90 abnormal and ~210 normal films a statistic that carries no signal has AUROC
#: 0.5 with a standard deviation of about 0.036, so 0.65 is four of those above chance: a
#: fair draw of no signal stays below it, while a statistic that could serve as a
#: classifier (0.7 or more) fails clearly.
LEAK_BOUND = 0.65


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_chest_cohort(tmp_path_factory.mktemp("chest") / "c", N_IMAGES, SEED,
                                 size=SIZE, workers=2)  # fmt: skip


@pytest.fixture(scope="module")
def table(cohort: Path) -> pd.DataFrame:
    return pd.read_csv(cohort / "train.csv")


@pytest.fixture(scope="module")
def truth(cohort: Path) -> dict:
    return json.loads((cohort / "truth.json").read_text())["images"]


@pytest.fixture(scope="module")
def decoded(cohort: Path, truth: dict) -> dict[str, np.ndarray]:
    """Every film through the intake's DICOM reader."""
    return {i: decode_dicom(t["file"], (cohort / t["file"]).read_bytes())[0]
            for i, t in truth.items()}  # fmt: skip


def _normal_by_readers(table: pd.DataFrame) -> pd.Series:
    return table.groupby("image_id")["class_id"].agg(lambda s: bool((s == NO_FINDING_ID).all()))


# -- layout -----------------------------------------------------------------------------
def test_train_csv_has_the_competition_columns_and_names(table: pd.DataFrame) -> None:
    assert tuple(table.columns) == TRAIN_COLUMNS
    assert (table["class_name"] == table["class_id"].map(lambda c: ALL_LABELS[c])).all()
    assert table["rad_id"].isin(READERS).all()


def test_no_finding_rows_have_empty_boxes_and_others_full(table: pd.DataFrame) -> None:
    boxes = table[["x_min", "y_min", "x_max", "y_max"]]
    normal = table["class_id"] == NO_FINDING_ID
    assert boxes[normal].isna().all().all()
    assert boxes[~normal].notna().all().all()


def test_three_distinct_readers_per_image_and_one_row_per_silent_reader(
    table: pd.DataFrame, truth: dict
) -> None:
    assert set(table["image_id"]) == set(truth)
    for iid, rows in table.groupby("image_id"):
        assert sorted(rows["rad_id"].unique()) == sorted(truth[iid]["readers"])
        assert rows["rad_id"].nunique() == 3
        for _, own in rows.groupby("rad_id"):
            if (own["class_id"] == NO_FINDING_ID).any():
                assert len(own) == 1  # "No finding" only when the reader marks nothing


def test_boxes_lie_within_their_film(table: pd.DataFrame, truth: dict) -> None:
    rows = table[table["class_id"] != NO_FINDING_ID]
    w = rows["image_id"].map(lambda i: truth[i]["width"])
    h = rows["image_id"].map(lambda i: truth[i]["height"])
    assert (rows["x_min"] >= 0).all() and (rows["y_min"] >= 0).all()
    assert (rows["x_max"] <= w).all() and (rows["y_max"] <= h).all()
    assert (rows["x_min"] < rows["x_max"]).all() and (rows["y_min"] < rows["y_max"]).all()
    for t in truth.values():
        for lesion in t["lesions"]:
            x0, y0, x1, y1 = lesion["box"]
            assert 0 <= x0 < x1 <= t["width"] and 0 <= y0 < y1 <= t["height"]
            assert lesion["class_name"] == CLASSES[lesion["class_id"]]


def test_image_ids_are_vinbigdata_like_hex_and_files_exist(cohort: Path, truth: dict) -> None:
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in truth)
    assert len(set(truth)) == N_IMAGES
    assert all((cohort / f"{i}.dicom").is_file() for i in truth)
    assert image_id(SEED, 0) in truth and image_id(SEED, 0) != image_id(SEED + 1, 0)


# -- DICOM -----------------------------------------------------------------------------
def test_dicom_tags_are_consistent_synthetic_and_varied(cohort: Path, truth: dict) -> None:
    seen: dict[str, set] = {k: set() for k in ("pi", "bits", "signed", "window", "spacing", "mod")}
    for iid, t in list(truth.items())[:120]:
        ds = pydicom.dcmread(cohort / t["file"])
        assert ds.Modality in ("DX", "CR")
        assert ds.PhotometricInterpretation in ("MONOCHROME1", "MONOCHROME2")
        assert ds.BitsAllocated == 16 and 12 <= ds.BitsStored <= 16
        assert ds.HighBit == ds.BitsStored - 1
        assert ds.PixelRepresentation in (0, 1)
        assert (ds.Rows, ds.Columns) == (t["height"], t["width"])
        assert ds.pixel_array.shape == (t["height"], t["width"])
        assert "RescaleSlope" in ds and "RescaleIntercept" in ds
        assert str(ds.PatientName) == "SYNTHETIC^CHEST" and ds.PatientID == f"SYN-{iid[:12]}"
        assert "PatientBirthDate" not in ds and "StudyDate" not in ds
        film = t["film"]
        assert ds.PhotometricInterpretation == film["photometric"]
        assert ds.BitsStored == film["bits_stored"]
        seen["pi"].add(ds.PhotometricInterpretation)
        seen["bits"].add(int(ds.BitsStored))
        seen["signed"].add(int(ds.PixelRepresentation))
        seen["window"].add("WindowCenter" in ds)
        seen["spacing"].add("PixelSpacing" in ds)
        seen["mod"].add(ds.Modality)
    assert seen["pi"] == {"MONOCHROME1", "MONOCHROME2"}
    assert seen["bits"] == {12, 14, 15, 16}
    assert seen["signed"] == {0, 1}
    assert seen["window"] == seen["spacing"] == {True, False}
    assert seen["mod"] == {"DX", "CR"}


def test_every_film_decodes_through_the_intake_reader(decoded: dict, truth: dict) -> None:
    for iid, pixels in decoded.items():
        assert pixels.dtype == np.uint8
        assert pixels.shape == (truth[iid]["height"], truth[iid]["width"])
        assert pixels.std() > 10  # a film, not a flat field


@pytest.mark.parametrize("windowed", [False, True])
def test_monochrome1_reads_with_the_polarity_of_monochrome2(windowed: bool) -> None:
    """One body exposed both ways: after the reader, the two look alike (lungs dark)."""

    def film(pi: str) -> Callable[[Film], Film]:
        return lambda f: replace(f, photometric=pi, rescale=(1.0, 0.0), signed=False,
                                 window_pct=(0.5, 99.5) if windowed else None)  # fmt: skip

    shown = {}
    for pi in ("MONOCHROME1", "MONOCHROME2"):
        r = render_image(3, 5, SIZE, adjust=film(pi))
        shown[pi] = decode_dicom("x.dcm", dicom_bytes(r.stored, r.film, r.window, r.image_id))[0]
    m1, m2 = (shown[k].astype(float) for k in ("MONOCHROME1", "MONOCHROME2"))
    assert np.corrcoef(m1.ravel(), m2.ravel())[0, 1] > 0.97
    for img in (m1, m2):  # lungs (left and right thirds, mid height) darker than mediastinum
        h, w = img.shape
        band = img[int(0.3 * h) : int(0.5 * h)]
        lungs = np.r_[band[:, int(0.2 * w) : int(0.33 * w)].ravel(),
                      band[:, int(0.67 * w) : int(0.8 * w)].ravel()]  # fmt: skip
        assert lungs.mean() + 20 < band[:, int(0.46 * w) : int(0.54 * w)].mean()


# -- PNG 512 ---------------------------------------------------------------------------
def test_png512_copies_match_the_dicom_and_the_size_table(tmp_path: Path) -> None:
    png = generate_chest_cohort(tmp_path / "png", 4, 5, size=SIZE, png512=True, workers=1)
    dcm = generate_chest_cohort(tmp_path / "dcm", 4, 5, size=SIZE, workers=1)
    sizes = pd.read_csv(png / "sizes.csv")
    assert list(sizes.columns) == ["image_id", "width", "height"]
    truth = json.loads((png / "truth.json").read_text())
    assert truth["format"] == "png512"
    assert (png / "train.csv").read_bytes() == (dcm / "train.csv").read_bytes()
    for row in sizes.itertuples():
        t = truth["images"][row.image_id]
        assert (row.width, row.height) == (t["width"], t["height"])
        img = cv2.imread(str(png / f"{row.image_id}.png"), cv2.IMREAD_UNCHANGED)
        assert img.shape == (PNG_SIZE, PNG_SIZE) and img.dtype == np.uint8
        shown, _ = decode_dicom("x", (dcm / f"{row.image_id}.dicom").read_bytes())
        assert shown.shape == (row.height, row.width)
        assert np.array_equal(img, cv2.resize(shown, (PNG_SIZE, PNG_SIZE),
                                              interpolation=cv2.INTER_AREA))  # fmt: skip


# -- determinism -----------------------------------------------------------------------
def test_same_seed_gives_identical_files_whatever_the_process_count(tmp_path: Path) -> None:
    a = generate_chest_cohort(tmp_path / "a", 5, 42, size=160, workers=1)
    b = generate_chest_cohort(tmp_path / "b", 5, 42, size=160, workers=2)
    c = generate_chest_cohort(tmp_path / "c", 5, 43, size=160, workers=1)
    for name in ("train.csv", "truth.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() != (c / name).read_bytes()
    for f in sorted(a.glob("*.dicom")):
        assert np.array_equal(pydicom.dcmread(f).pixel_array,
                              pydicom.dcmread(b / f.name).pixel_array)  # fmt: skip
        assert f.read_bytes() == (b / f.name).read_bytes()


def test_a_film_does_not_depend_on_the_cohort_size(tmp_path: Path) -> None:
    small = generate_chest_cohort(tmp_path / "s", 2, 42, size=160, workers=1)
    large = generate_chest_cohort(tmp_path / "l", 4, 42, size=160, workers=1)
    ts, tl = (json.loads((p / "truth.json").read_text())["images"] for p in (small, large))
    assert all(ts[i] == tl[i] for i in ts)


# -- frequencies, readers, classes ----------------------------------------------------
def test_about_seventy_percent_normal(table: pd.DataFrame, truth: dict) -> None:
    by_truth = np.mean([t["normal"] for t in truth.values()])
    assert abs(by_truth - NORMAL_FRACTION) < 0.07  # ~2.7 binomial sd at 300 films
    assert 0.62 < _normal_by_readers(table).mean() < 0.77
    draws = [not sample_findings(np.random.default_rng([7, k])) for k in range(4000)]
    assert abs(np.mean(draws) - NORMAL_FRACTION) < 0.025


def test_every_class_appears_and_some_images_have_several(table: pd.DataFrame,
                                                          truth: dict) -> None:  # fmt: skip
    lesions = [les for t in truth.values() for les in t["lesions"]]
    assert {les["class_id"] for les in lesions} == set(range(len(CLASSES)))
    assert set(table["class_id"]) == set(range(len(CLASSES) + 1))
    classes_per_image = [len({les["class_id"] for les in t["lesions"]}) for t in truth.values()]
    assert sum(k >= 2 for k in classes_per_image) >= 0.25 * sum(k >= 1 for k in classes_per_image)
    counts = pd.Series([les["class_name"] for les in lesions]).value_counts()
    assert counts["Aortic enlargement"] > 4 * counts.get("Pneumothorax", 0)


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_reader_boxes_jitter_around_the_truth(table: pd.DataFrame, truth: dict) -> None:
    best = []
    for row in table[table["class_id"] != NO_FINDING_ID].itertuples():
        same = [les["box"] for les in truth[row.image_id]["lesions"]
                if les["class_id"] == row.class_id]  # fmt: skip
        if same:
            box = [row.x_min, row.y_min, row.x_max, row.y_max]
            best.append(max(_iou(box, s) for s in same))
    best = np.array(best)
    assert 0.6 < np.median(best) < 0.9
    assert ((best >= 0.5) & (best <= 0.92)).mean() > 0.75
    assert (best < 0.98).mean() > 0.9  # readers never copy the truth


def test_readers_miss_findings_and_add_some(table: pd.DataFrame, truth: dict) -> None:
    marked = table[table["class_id"] != NO_FINDING_ID].groupby("image_id").size()
    true_n = {i: len(t["lesions"]) for i, t in truth.items()}
    abnormal = [i for i, n in true_n.items() if n]
    missed = sum(3 * true_n[i] - marked.get(i, 0) > 0 for i in abnormal)
    assert missed > 0.5 * len(abnormal)
    added = [i for i, n in true_n.items() if n == 0 and marked.get(i, 0) > 0]
    assert 0 < len(added) < 0.15 * (len(true_n) - len(abnormal))


# -- lesion looks and places ----------------------------------------------------------
@pytest.mark.parametrize("class_id", range(len(CLASSES)))
def test_each_class_is_drawn_in_its_place(class_id: int) -> None:
    rng = np.random.default_rng(100 + class_id)
    body = Body.sample(rng, 480, 520, wide_heart=class_id == 3, big_knob=class_id == 0)
    layers = render_anatomy(body, rng)
    before = layers.density()
    lesion = draw_lesion(class_id, body, layers, rng)
    assert len(lesion.points)
    (x0, y0), (x1, y1) = lesion.points.min(0), lesion.points.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    lungs = np.array([body.lung_box(RIGHT), body.lung_box(LEFT)])
    assert lungs[:, 0].min() <= cx <= lungs[:, 2].max()
    assert lungs[:, 1].min() <= cy <= lungs[:, 3].max()
    change = np.abs(layers.density() - before)
    if class_id not in GEOMETRY:  # what a lesion visibly changes lies in its box
        seen = change > 0.2 * change.max()
        assert seen[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1].sum() > 0.85 * seen.sum()
    apex, dome = body.apex_y, body.apex_y + min(body.dome) * body.lh
    name = CLASSES[class_id]
    if name == "Pneumothorax":
        assert y0 < apex + 0.1 * body.lh and y1 < apex + 0.7 * body.lh
    if name == "Pleural effusion":
        assert y1 > dome
    if name == "Cardiomegaly":
        assert (x1 - x0) / (2 * body.a) > 0.5
    if name == "Aortic enlargement":
        assert cx > body.cx and y1 < apex + body.heart_top * body.lh


# -- statistics and the command line --------------------------------------------------
def test_no_whole_image_statistic_separates_normal_from_abnormal(
    cohort: Path, truth: dict, decoded: dict
) -> None:
    stats: dict[str, list[float]] = {k: [] for k in (
        "mean", "std", "p5", "p25", "median", "p75", "p95", "entropy", "gradient", "pixels",
        "stored mean", "stored std",
    )}  # fmt: skip
    abnormal = []
    for iid, t in truth.items():
        img = decoded[iid].astype(np.float64)
        abnormal.append(int(not t["normal"]))
        hist = np.bincount(decoded[iid].ravel(), minlength=256) / img.size
        hist = hist[hist > 0]
        gy, gx = np.gradient(img)
        stored = pydicom.dcmread(cohort / t["file"]).pixel_array.astype(np.float64)
        values = [img.mean(), img.std(), *np.percentile(img, [5, 25, 50, 75, 95]),
                  -(hist * np.log2(hist)).sum(), np.hypot(gx, gy).mean(), img.size,
                  stored.mean(), stored.std()]  # fmt: skip
        for k, v in zip(stats, values):
            stats[k].append(float(v))
    separation = {k: max(a, 1 - a) for k, v in stats.items() if (a := auroc(abnormal, v))}
    assert len(separation) == len(stats)
    worst = max(separation, key=separation.get)
    assert separation[worst] < LEAK_BOUND, f"{worst} separates normal films: {separation}"


def test_cli_writes_a_chest_cohort_and_refuses_chest_options_for_aneurysm(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    argv = ["synth", str(out), "--study", "chest", "--images", "3", "--seed", "9",
            "--size", "128", "--workers", "1"]  # fmt: skip
    assert cli_main(argv) == 0
    assert len(list(out.glob("*.dicom"))) == 3
    assert json.loads((out / "truth.json").read_text())["seed"] == 9
    with pytest.raises(SystemExit, match="--images"):
        cli_main(["synth", str(tmp_path / "a"), "--images", "3"])
