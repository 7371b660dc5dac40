"""Dataset EDA tables: exact counts and positions on hand-made labels, then the same code on
differently shaped sources (the chest generator's folder, a hand-written VinBigData
train.csv with odd film sizes, K-Ium cohorts with and without truth.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohort_fixtures import write_cohort
from PIL import Image

from core.cohort import eda as kium
from core.cohort.synthetic import synthetic_table
from core.intake.errors import BadFile
from core.schema import LOCATIONS, TRAIN_COLUMNS
from core.studies.chest import eda
from core.studies.chest import eda_figures as figs
from core.studies.chest.annotations import Annotations, check_rows
from core.studies.chest.classes import ALL_LABELS, CLASS_IDS, NO_FINDING
from core.studies.chest.classes import TRAIN_COLUMNS as CHEST_COLUMNS
from core.studies.chest.layout import read_vinbigdata

CARDIO, AORTIC = CLASS_IDS["Cardiomegaly"], CLASS_IDS["Aortic enlargement"]


def _row(image: str, reader: str, class_id: int, box: tuple | None = None) -> dict:
    coords = dict(zip(("x_min", "y_min", "x_max", "y_max"), box or ("",) * 4))
    return dict(image_id=image, class_name=ALL_LABELS[class_id], class_id=str(class_id),
                rad_id=reader, **coords)  # fmt: skip


@pytest.fixture
def hand_made() -> Annotations:
    """Film A 1000x500, B 200x400, C 100x100 (no row); readers R1, R2, R10."""
    rows = [
        _row("A", "R1", CARDIO, (0, 0, 500, 250)),  # centre (.25, .25), area .25
        _row("A", "R1", AORTIC, (900, 400, 1000, 500)),  # centre (.95, .9), 0.1 x 0.2
        _row("A", "R2", CARDIO, (100, 50, 600, 300)),  # centre (.35, .35); IoU .47 with R1's
        _row("A", "R10", 14),
        _row("B", "R1", 14),
        _row("B", "R2", 14),
        _row("B", "R10", CARDIO, (0, 0, 200, 400)),  # the whole film
    ]
    ann = check_rows(pd.DataFrame(rows), {"A": (1000, 500), "B": (200, 400), "C": (100, 100)})
    assert ann.errors.empty
    return ann


def test_tidy_boxes_normalise_by_each_film(hand_made: Annotations) -> None:
    tidy = eda.reader_boxes(hand_made)
    assert tuple(tidy.columns) == eda.TIDY_COLUMNS and len(tidy) == 7
    aortic = tidy[tidy["class_id"] == AORTIC].iloc[0]
    assert (aortic.cx, aortic.cy, aortic.w, aortic.h) == pytest.approx((0.95, 0.9, 0.1, 0.2))
    assert aortic.area == pytest.approx(0.02)
    whole = tidy[(tidy["image_id"] == "B") & (tidy["class_id"] == CARDIO)].iloc[0]
    assert whole.area == pytest.approx(1.0)
    assert tidy.loc[tidy["class_name"] == NO_FINDING, "area"].isna().all()


def test_class_frequencies_readers_and_fused(hand_made: Annotations) -> None:
    freq = eda.class_frequencies(eda.reader_boxes(hand_made), eda.fused_boxes(hand_made))
    assert len(freq) == 2 * len(ALL_LABELS)
    got = freq.set_index(["source", "class_name"])[["boxes", "images"]]
    assert tuple(got.loc[("readers", "Cardiomegaly")]) == (3, 2)
    assert tuple(got.loc[("readers", "Aortic enlargement")]) == (1, 1)
    assert tuple(got.loc[("readers", NO_FINDING)]) == (3, 2)  # calls, on films A and B
    assert tuple(got.loc[("fused", "Cardiomegaly")]) == (2, 2)  # R1 + R2 merge on film A
    assert tuple(got.loc[("fused", NO_FINDING)]) == (1, 1)  # film C, which has no row
    assert got.loc["readers", "boxes"].sum() == 7 and got.loc[("readers", "ILD"), "boxes"] == 0


def test_labels_per_image_counts_every_film(hand_made: Annotations) -> None:
    per = eda.labels_per_image(eda.reader_boxes(hand_made), hand_made.image_ids)
    assert dict(zip(per["image_id"], per["n_classes"])) == {"A": 2, "B": 1, "C": 0}
    assert eda.normal_share(per) == pytest.approx(1 / 3)
    assert eda.normal_share(per.iloc[:0]) is None


def test_sizes_and_positions(hand_made: Annotations) -> None:
    tidy = eda.reader_boxes(hand_made)
    sizes = eda.size_summary(tidy).set_index("class_name")
    assert list(sizes.index) == ["Aortic enlargement", "Cardiomegaly"]  # class order
    assert sizes.loc["Cardiomegaly", "boxes"] == 3
    assert sizes.loc["Cardiomegaly", "area"] == pytest.approx(0.25)
    assert (sizes.loc["Aortic enlargement", "w"], sizes.loc["Aortic enlargement", "h"]) == (
        pytest.approx(0.1), pytest.approx(0.2))  # fmt: skip
    # 2x2: two centres top-left, the whole-film box's centre (.5, .5) in the last bin.
    assert eda.position_grid(tidy, CARDIO, bins=2).tolist() == [[2, 0], [0, 1]]
    grid = eda.position_grid(tidy, AORTIC)
    assert grid.shape == (10, 10) and grid[9, 9] == 1 and grid.sum() == 1
    assert eda.position_grid(tidy, CLASS_IDS["ILD"]).sum() == 0


def test_reader_habits(hand_made: Annotations) -> None:
    tidy = eda.reader_boxes(hand_made)
    habits = eda.reader_habits(tidy).set_index("rad_id")
    assert list(habits.index) == ["R1", "R2", "R10"]  # numeric order, not R1, R10, R2
    assert habits["films"].tolist() == [2, 2, 2] and habits["boxes"].tolist() == [2, 1, 1]
    assert habits["boxes_per_film"].tolist() == [1.0, 0.5, 0.5]
    assert habits["no_finding_share"].tolist() == [0.5, 0.5, 0.5]
    assert habits["median_area"].tolist() == pytest.approx([0.135, 0.25, 1.0])
    mix = eda.reader_class_mix(tidy)
    assert mix.loc["R1"].tolist() == [0.5, 0.5] and mix.loc["R2", "Aortic enlargement"] == 0
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    med = eda.reader_box_sizes(tidy)
    assert med.loc["R1", "Aortic enlargement"] == pytest.approx(0.02)
    assert np.isnan(med.loc["R2", "Aortic enlargement"])


def test_figures_carry_the_tables(hand_made: Annotations) -> None:
    tidy, fused = eda.reader_boxes(hand_made), eda.fused_boxes(hand_made)
    freq = eda.class_frequencies(tidy, fused)
    fig = figs.class_frequency_figure(freq, "images")
    assert [t.name for t in fig.data] == ["readers", "fused"]
    assert list(fig.data[0].y) == freq.loc[freq["source"] == "readers", "images"].tolist()
    with pytest.raises(ValueError):
        figs.class_frequency_figure(freq, "area")
    per = {"readers": eda.labels_per_image(tidy, hand_made.image_ids)}
    assert "readers 33%" in figs.labels_per_image_figure(per).layout.title.text
    assert figs.box_size_figure(tidy).layout.yaxis.type == "log"
    heat = figs.position_figure(eda.position_grid(tidy, CARDIO, bins=2), "Cardiomegaly")
    assert heat.data[0].z.tolist() == [[2, 0], [0, 1]] and "3 centres" in heat.layout.title.text
    assert list(figs.reader_habits_figure(eda.reader_habits(tidy)).data[0].x) == ["R1", "R2", "R10"]
    mix = figs.reader_matrix_figure(eda.reader_class_mix(tidy), "mix")
    assert list(mix.data[0].y) == ["R1", "R2", "R10"]


def test_all_normal_folder_gives_empty_tables() -> None:
    rows = [_row("A", r, 14) for r in ("R1", "R2", "R3")]
    ann = check_rows(pd.DataFrame(rows), {"A": (10, 10)})
    tidy = eda.reader_boxes(ann)
    assert eda.size_summary(tidy).empty and eda.reader_class_mix(tidy).empty
    assert eda.reader_habits(tidy)["no_finding_share"].tolist() == [1.0, 1.0, 1.0]
    assert eda.labels_per_image(eda.fused_boxes(ann), ann.image_ids)["normal"].all()
    assert len(figs.box_size_figure(tidy).data) == 0


def test_generator_folder(tiny_chest_cohort: Path) -> None:
    """The chest generator's folder: three readers per film, all rows accounted for."""
    ann = read_vinbigdata(tiny_chest_cohort)
    truth = json.loads((tiny_chest_cohort / "truth.json").read_text())["images"]
    tidy = eda.reader_boxes(ann)
    assert len(tidy) == len(ann.boxes)
    readers = tidy.groupby("image_id")["rad_id"].agg(set)
    assert {k: set(v["readers"]) for k, v in truth.items()} == readers.to_dict()
    habits = eda.reader_habits(tidy)
    assert habits["films"].sum() == 3 * len(truth)
    freq = eda.class_frequencies(tidy, eda.fused_boxes(ann))
    assert freq.loc[freq["source"] == "readers", "boxes"].sum() == len(tidy)
    fused_normal = freq.set_index(["source", "class_name"]).loc[("fused", NO_FINDING), "images"]
    per = eda.labels_per_image(eda.fused_boxes(ann), ann.image_ids)
    assert int(per["normal"].sum()) == fused_normal
    found = tidy.dropna(subset=["area"])
    assert found[["cx", "cy"]].stack().between(0, 1).all()
    assert found["area"].between(0, 1, inclusive="right").all()


def test_hand_written_train_csv_with_odd_sizes(tmp_path: Path) -> None:
    """PNG copies with sizes.csv: a 5000x300 strip and a 37x4096 sliver; one bad row; a
    reader named without a number."""
    for key in ("wide", "tall"):
        Image.new("L", (8, 8)).save(tmp_path / f"{key}.png")
    (tmp_path / "sizes.csv").write_text("image_id,width,height\nwide,5000,300\ntall,37,4096\n")
    lines = [
        ",".join(CHEST_COLUMNS),
        "wide,Nodule/Mass,8,R3,4000,0,5000,300",  # centre (.9, .5), w .2, h 1
        "wide,Nodule/Mass,8,reader_x,0,150,50,300",  # centre (.005, .75), area .01 * .5
        "tall,Pleural effusion,10,R3,0,0,37,1024",  # w 1, h .25
        "tall,Pleural effusion,10,R3,0,0,38,10",  # outside the 37-px film: reported
        "tall,No finding,14,reader_x,,,,",
    ]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    ann = read_vinbigdata(tmp_path)
    assert len(ann.errors) == 1 and ann.errors["line"].tolist() == [5]
    tidy = eda.reader_boxes(ann)
    nodules = tidy[tidy["class_name"] == "Nodule/Mass"].sort_values("cx")
    np.testing.assert_allclose(nodules[["cx", "cy"]], [[0.005, 0.75], [0.9, 0.5]])
    assert nodules["area"].tolist() == pytest.approx([0.005, 0.2])
    effusion = tidy[tidy["class_name"] == "Pleural effusion"].iloc[0]
    assert (effusion.w, effusion.h) == pytest.approx((1.0, 0.25))
    habits = eda.reader_habits(tidy).set_index("rad_id")
    assert list(habits.index) == ["R3", "reader_x"]
    assert habits.loc["reader_x", "no_finding_share"] == 0.5  # a box on "wide", normal "tall"
    assert habits.loc["R3", "boxes_per_film"] == 1.0  # 2 good boxes, 2 films
    assert eda.position_grid(tidy, CLASS_IDS["Nodule/Mass"], bins=4).tolist() == [
        [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0],
    ]  # fmt: skip


# --- the aneurysm cohort --------------------------------------------------------------


def _kium_csv(folder: Path, positives: dict[int, tuple[str, ...]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, locs in positives.items():
        row = dict.fromkeys(TRAIN_COLUMNS, 0) | {"Index": index, "Aneurysm": int(bool(locs))}
        rows.append(row | dict.fromkeys(locs, 1))
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(folder / "train.csv", index=False)
    return folder


def test_aneurysm_counts_without_truth(tmp_path: Path) -> None:
    folder = _kium_csv(tmp_path / "c", {5: ("L_ICA",), 1: ("L_ICA", "R_MCA"), 2: (), 3: ("BA",)})
    labels = kium.label_frame(folder)
    assert labels["Index"].tolist() == [1, 2, 3, 5]
    counts = kium.location_counts(labels)
    assert counts["location"].tolist() == list(LOCATIONS)
    got = counts.set_index("location")
    assert (got.loc["L_ICA", "positives"], got.loc["R_MCA", "positives"]) == (2, 1)
    assert got.loc["BA", "share"] == 0.25 and got["positives"].sum() == 4
    assert got.loc["L_PCOM", "circulation"] == "posterior"  # the original grouping
    per = kium.positives_per_patient(labels)
    assert per.to_dict("list") == {"locations": [0, 1, 2], "patients": [1, 2, 1]}
    assert kium.read_cohort_sacs(folder) is None
    fig = kium.location_count_figure(counts)
    assert [t.name for t in fig.data] == ["anterior", "posterior"]
    assert list(fig.layout.xaxis.categoryarray) == list(LOCATIONS)


def test_aneurysm_counts_on_the_cohort_fixture(tmp_path: Path) -> None:
    table = synthetic_table(40, seed=3)
    labels = kium.label_frame(write_cohort(tmp_path / "cohort", table))
    pd.testing.assert_frame_equal(labels, table[list(TRAIN_COLUMNS)], check_dtype=False)
    counts = kium.location_counts(labels)
    assert counts["positives"].tolist() == table[list(LOCATIONS)].sum().tolist()
    per = kium.positives_per_patient(labels)
    assert per["patients"].sum() == 40
    assert per.loc[per["locations"] == 0, "patients"].item() == int((table["Aneurysm"] == 0).sum())


def test_unusable_kium_folders(tmp_path: Path) -> None:
    with pytest.raises(BadFile, match="no such folder"):
        kium.label_frame(tmp_path / "missing")
    (tmp_path / "unlabelled").mkdir()
    with pytest.raises(BadFile, match="no train.csv"):
        kium.label_frame(tmp_path / "unlabelled")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.csv").write_text("Index,Aneurysm\n1,2\n")
    with pytest.raises(BadFile, match="23 K-Ium columns"):
        kium.label_frame(tmp_path / "bad")
    (tmp_path / "unlabelled" / "truth.json").write_text("{not json")
    with pytest.raises(ValueError, match="truth.json cannot be read"):
        kium.read_cohort_sacs(tmp_path / "unlabelled")


def test_sac_sizes_hand_written_truth(tmp_path: Path) -> None:
    def image(patient: int, view: str, *sacs: tuple[str, float]) -> dict:
        found = [{"location": loc, "center": [50, 50], "radius": r} for loc, r in sacs]
        return {"patient": patient, "view": view, "aneurysms": found}

    images = [
        image(3, "LV-A", ("BA", 5.0)), image(3, "RV-A", ("BA", 7.0)), image(3, "RV-B", ("BA", 9.0)),
        image(1, "LI-A", ("L_ICA", 10.0)), image(1, "LI-B", ("L_ICA", 14.0)), image(1, "RI-A"),
    ]  # fmt: skip
    truth = {"images": {f"{r['patient']}{r['view']}.jpg": r for r in images}}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    sizes = kium.sac_sizes(kium.read_cohort_sacs(tmp_path))
    assert sizes.to_dict("list") == {
        "Index": [1, 3], "location": ["L_ICA", "BA"], "radius_px": [12.0, 7.0], "views": [2, 3],
    }  # fmt: skip
    fig = kium.sac_size_figure(sizes)
    assert [t.name for t in fig.data] == ["L_ICA", "BA"] and fig.layout.barmode == "stack"
    assert kium.sac_sizes({(1, "LI-A"): ()}).empty


def test_sac_sizes_from_the_generator(tmp_path: Path) -> None:
    """One rendered patient with L_MCA and BA: MCA on its side's two ICA views, BA on all
    four vertebral views, radii within the generator's range at these image sizes."""
    from core.synth.cohort import write_patients

    folder = _kium_csv(tmp_path / "gen", {7: ("L_MCA", "BA")})
    write_patients(folder, pd.read_csv(folder / "train.csv"), seed=1)
    sizes = kium.sac_sizes(kium.read_cohort_sacs(folder)).set_index("location")
    assert list(sizes.index) == ["L_MCA", "BA"] and set(sizes["Index"]) == {7}
    assert sizes["views"].to_dict() == {"L_MCA": 2, "BA": 4}
    assert sizes["radius_px"].between(3, 70).all()
    assert kium.location_counts(kium.label_frame(folder))["positives"].sum() == 2
