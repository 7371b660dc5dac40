"""The synthetic K-Ium generator: files, truth, determinism, label statistics, overlays."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from core.__main__ import main as cli_main
from core.schema import LOCATIONS, TRAIN_COLUMNS, VIEW_SHOWS, VIEWS, validate_train_table
from core.synth import cohort_labels, generate_cohort, generate_patient, patient_streams
from core.synth.anatomy import build_view
from core.synth.aneurysm import shows
from core.synth.builder import Physique
from core.synth.cohort import write_patients
from core.synth.labels import LOCATION_COUNTS
from core.synth.overlays import KIND_MIX, draw_border_lines, draw_ruler, sample_layout
from core.synth.samples import SAMPLE_CASES, SAMPLE_SEED, write_sample_set
from core.synth.text import TextStyle, burn_text

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"


def _inside(box: list[int], outer: list[int]) -> bool:
    return outer[0] <= box[0] < box[2] <= outer[2] and outer[1] <= box[1] < box[3] <= outer[3]


def _overlaps(a: list[int], b: list[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two patients: one with every location positive (stresses placement), one negative."""
    every = {"Index": 7, "Aneurysm": 1, **dict.fromkeys(LOCATIONS, 1)}
    none = {"Index": 8, "Aneurysm": 0, **dict.fromkeys(LOCATIONS, 0)}
    table = pd.DataFrame([every, none], columns=list(TRAIN_COLUMNS))
    return write_patients(tmp_path_factory.mktemp("cohort"), table, seed=5, pad_width=4)


def test_train_csv_has_exactly_the_kium_columns(cohort: Path) -> None:
    df = pd.read_csv(cohort / "train.csv")
    assert tuple(df.columns) == TRAIN_COLUMNS
    validate_train_table(df)
    assert df["Index"].tolist() == [7, 8]


def test_truth_covers_every_image_and_matches_pixels(cohort: Path) -> None:
    truth = json.loads((cohort / "truth.json").read_text())
    files = sorted(p.name for p in cohort.glob("*.jpg"))
    assert files == sorted(truth["images"]) and len(files) == 16
    assert files[0] == "0007LI-A.jpg"
    for name, t in truth["images"].items():
        img = cv2.imread(str(cohort / name), cv2.IMREAD_UNCHANGED)
        assert img.ndim == 2 and [img.shape[1], img.shape[0]] == t["size"]
        assert name == f"{t['patient']:04d}{t['view']}.jpg"


def test_truth_boxes_are_consistent(cohort: Path) -> None:
    truth = json.loads((cohort / "truth.json").read_text())
    for name, t in truth["images"].items():
        w, h = t["size"]
        crop = t["crop"]
        assert 720 <= w <= 1670 and 720 <= h <= 1000, name
        assert _inside(crop, [0, 0, w, h]), name
        assert (crop == [0, 0, w, h]) == (t["kind"] == "clean"), name
        assert bool(t["text_boxes"]) == (t["kind"] == "margin_text"), name
        assert len(t["text"]) == len(t["text_boxes"])
        for box in t["text_boxes"]:
            assert _inside(box, crop), (name, box)
            assert box[3] - box[1] < 0.1 * (crop[3] - crop[1]), (name, box)  # one line tall
        if t["ruler"] is not None:
            assert _inside(t["ruler"], [0, 0, w, h]) and not _overlaps(t["ruler"], crop), name
        if t["kind"] == "clean":
            assert t["ruler"] is None and not t["border_lines"], name


def test_aneurysms_only_on_views_that_show_their_location(cohort: Path) -> None:
    truth = json.loads((cohort / "truth.json").read_text())
    table = pd.read_csv(cohort / "train.csv").set_index("Index")
    for name, t in truth["images"].items():
        labels = truth["patients"][str(t["patient"])]
        assert labels == {c: int(v) for c, v in table.loc[t["patient"]].items()}
        expected = {c for c in LOCATIONS if labels[c] and shows(t["view"], c)}
        drawn = [a["location"] for a in t["aneurysms"]]
        assert sorted(drawn) == sorted(expected), name
        x0, y0, x1, y1 = t["crop"]
        for a in t["aneurysms"]:
            (x, y), r = a["center"], a["radius"]
            assert x0 + r <= x <= x1 - r and y0 + r <= y <= y1 - r, (name, a)
            assert 2.0 <= r <= 60.0, (name, a)
    # The all-positive patient shows every location somewhere; the negative one none.
    seen = {a["location"] for t in truth["images"].values() for a in t["aneurysms"]}
    assert seen == set(LOCATIONS)
    assert all(not t["aneurysms"] for t in truth["images"].values() if t["patient"] == 8)


def test_aneurysm_darkens_the_image_where_truth_says(cohort: Path) -> None:
    truth = json.loads((cohort / "truth.json").read_text())
    name, t = next((n, t) for n, t in truth["images"].items() if t["aneurysms"])
    img = cv2.imread(str(cohort / name), cv2.IMREAD_GRAYSCALE).astype(float)
    x0, y0, x1, y1 = t["crop"]
    background = np.median(img[y0:y1, x0:x1])
    for a in t["aneurysms"]:
        x, y = (int(round(v)) for v in a["center"])
        assert img[y - 1 : y + 2, x - 1 : x + 2].mean() < 0.6 * background, (name, a)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert cli_main(["synth", str(a), "--patients", "1", "--seed", "11", "--start-index", "4"]) == 0
    generate_cohort(b, 1, 11, start_index=4)
    generate_cohort(c, 1, 12, start_index=4)
    for f in ("train.csv", "truth.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    assert (a / "truth.json").read_bytes() != (c / "truth.json").read_bytes()
    for view in VIEWS:
        pa, pb, pc = (cv2.imread(str(d / f"4{view}.jpg"), cv2.IMREAD_GRAYSCALE) for d in (a, b, c))
        assert np.array_equal(pa, pb)
        assert pa.shape != pc.shape or not np.array_equal(pa, pc)


def test_generate_patient_api_returns_eight_grey_views() -> None:
    labels = {c: int(c == "BA") for c in LOCATIONS}
    views = generate_patient(3, labels, np.random.default_rng(0))
    assert list(views) == list(VIEWS)
    for view, (img, t) in views.items():
        assert img.dtype == np.uint8 and img.ndim == 2
        assert t["view"] == view and t["size"] == [img.shape[1], img.shape[0]]
        assert [a["location"] for a in t["aneurysms"]] == (["BA"] if "V" in view else [])


def test_patient_labels_do_not_depend_on_cohort_size() -> None:
    big = cohort_labels(6, seed=3)
    alone = cohort_labels(1, seed=3, start_index=5)
    assert big.iloc[4].tolist() == alone.iloc[0].tolist()
    assert not cohort_labels(40, seed=3).equals(cohort_labels(40, seed=4))


def test_label_statistics_follow_the_brief() -> None:
    df = cohort_labels(300, seed=0)
    assert abs(df["Aneurysm"].mean() - 0.46) < 0.08
    per_patient = df[list(LOCATIONS)].sum(axis=1)
    assert (df["Aneurysm"] == (per_patient > 0)).all()
    assert (per_patient >= 2).sum() >= 10 and per_patient.max() <= 5
    assert (per_patient[per_patient > 0] == 1).mean() > 0.6  # 402 of 523 have one location
    big = cohort_labels(3000, seed=1)[list(LOCATIONS)].sum()
    expected = pd.Series(LOCATION_COUNTS)[list(LOCATIONS)]
    assert np.corrcoef(big.to_numpy(), expected.to_numpy())[0, 1] > 0.95
    assert big["L_ICA"] > 10 * big["R_PCA"]


def test_prevalence_option_is_honoured() -> None:
    assert cohort_labels(200, seed=0, prevalence=0.0)["Aneurysm"].sum() == 0
    assert cohort_labels(200, seed=0, prevalence=1.0)["Aneurysm"].all()
    with pytest.raises(ValueError):
        cohort_labels(1, seed=0, prevalence=1.5)


def test_layouts_mix_all_kinds_within_size_limits() -> None:
    rng = np.random.default_rng(0)
    layouts = [sample_layout(rng) for _ in range(600)]
    kinds = pd.Series([lay.kind for lay in layouts]).value_counts(normalize=True)
    for kind, share in KIND_MIX.items():
        assert abs(kinds[kind] - share) < 0.07, kinds
    for lay in layouts:
        w, h = lay.size
        x0, y0, x1, y1 = lay.crop
        assert 720 <= w <= 1670 and 720 <= h <= 1000
        assert max(x0, w - x1) <= w // 4 and max(y0, h - y1) <= h // 4
        assert (lay.crop == (0, 0, w, h)) == (lay.kind == "clean")
        assert all(m == 0 or m >= 6 for m in (x0, y0, w - x1, h - y1))


def test_every_shown_location_has_a_site_in_every_view() -> None:
    rng = np.random.default_rng(1)
    physique = Physique.sample(rng)
    for view in VIEWS:
        anatomy = build_view(view, rng, physique)
        assert set(VIEW_SHOWS[view]) <= set(anatomy.sites), view


def test_text_boxes_are_tight_around_the_glyphs() -> None:
    rng = np.random.default_rng(2)
    for _ in range(6):
        style = TextStyle.sample(rng)
        img = np.full((800, 900), 128, np.uint8)
        crop = (50, 40, 870, 780)
        boxes, text = burn_text(img, crop, style, "RV-B", rng)
        assert boxes and len(boxes) == len(text)
        changed = img != 128
        covered = np.zeros_like(changed)
        for x0, y0, x1, y1 in boxes:
            ys, xs = np.nonzero(changed[y0:y1, x0:x1])
            glyphs = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert glyphs == (1, 1, x1 - x0 - 1, y1 - y0 - 1)  # one pixel of padding, no more
            covered[y0:y1, x0:x1] = True
        assert not (changed & ~covered).any()


def test_rulers_and_border_lines_stay_in_the_margin() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        img = np.zeros((720, 1100), np.uint8)
        crop = (int(rng.integers(0, 200)), int(rng.integers(0, 60)), 900, 700)
        clear = draw_border_lines(img, crop, rng)
        before = img.copy()
        box = draw_ruler(img, crop, rng, clear)
        x0, y0, x1, y1 = crop
        assert not img[y0:y1, x0:x1].any()
        ruler = img != before
        if box is None:
            assert not ruler.any()
            continue
        ys, xs = np.nonzero(ruler)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == box


@pytest.mark.skipif(not SAMPLES.exists(), reason="sample set not generated")
def test_committed_sample_set_is_complete_and_reproducible(tmp_path: Path) -> None:
    kinds, multi, negative, total = set(), False, False, 0
    for case in SAMPLE_CASES:
        folder = SAMPLES / case.name
        truth = json.loads((folder / "truth.json").read_text())
        assert truth["seed"] == SAMPLE_SEED and len(list(folder.glob("*.jpg"))) == 8
        assert tuple(pd.read_csv(folder / "train.csv").columns) == TRAIN_COLUMNS
        kinds |= {t["kind"] for t in truth["images"].values()}
        multi |= len(case.locations) > 1
        negative |= not case.locations
        total += sum(p.stat().st_size for p in folder.iterdir())
    assert kinds == set(KIND_MIX) and multi and negative
    assert total < 8 * 1024 * 1024
    # The documented command regenerates the set bit for bit (one case, to stay fast).
    (folder,) = write_sample_set(tmp_path, SAMPLE_CASES[:1])
    committed = SAMPLES / folder.name
    assert (folder / "truth.json").read_bytes() == (committed / "truth.json").read_bytes()
    for jpg in folder.glob("*.jpg"):
        fresh = cv2.imread(str(jpg), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(fresh, cv2.imread(str(committed / jpg.name), cv2.IMREAD_GRAYSCALE))


def test_patient_streams_are_independent_of_each_other() -> None:
    a = patient_streams(1, 1)[1].random(4)
    b = patient_streams(1, 2)[1].random(4)
    assert not np.allclose(a, b)
