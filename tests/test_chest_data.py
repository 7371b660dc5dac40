"""Chest study data: VinBigData intake, PNG copies + sizes.csv, the real pydicom-data film,
COCO through pycocotools, YOLO labels and the submission format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pydicom
import pytest
from intake_fixtures import PATIENT_ID, PATIENT_NAME, dicom, dicom_claiming, ramp
from pycocotools.coco import COCO
from pydicom.data import get_testdata_file

from core.__main__ import main
from core.intake.assemble import case_from_files
from core.studies.chest.annotations import ERROR_COLUMNS, AnnotationError
from core.studies.chest.classes import ALL_LABELS, BOX_COLUMNS, TRAIN_COLUMNS
from core.studies.chest.coco import coco_boxes, to_coco, write_coco
from core.studies.chest.layout import (
    chest_case,
    image_path,
    list_images,
    load_film,
    read_vinbigdata,
    write_errors,
)
from core.studies.chest.submission import (
    Prediction,
    SubmissionError,
    format_prediction_string,
    no_finding,
    parse_prediction_string,
    read_submission,
    write_submission,
)
from core.studies.chest.yolo import read_yolo, write_yolo

REAL = ("RG1_UNCR.dcm", "RG1_J2KR.dcm", "RG1_J2KI.dcm")
REAL_SIZE = (1841, 1955)  # (width, height): Columns 1841, Rows 1955


def row(image_id: str, class_id: object, rad: object = "R1", box=(None,) * 4, name=None) -> dict:
    cid = class_id if isinstance(class_id, int) else None
    label = name if name is not None else (ALL_LABELS[cid] if cid is not None and cid < 15 else "x")
    return dict(zip(TRAIN_COLUMNS, (image_id, label, class_id, rad, *box), strict=True))


def png_bytes(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


def write_folder(root: Path, images: dict[str, bytes], rows: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(root / "train.csv", index=False)
    return root


# --- intake: every bad-row kind reported, every good row kept ---------------------------

GOOD = [
    row("a", 3, "R1", (10, 5, 50, 40)),
    row("a", 3, "R2", (12, 6, 52, 41)),
    row("a", 14, "R3"),
    row("b", 8, "R1", (0, 0, 40, 30)),  # touches the edges of the 40x30 PNG: inside
    row("c", 14, "R4"),
]
#: (row, what its reason says), each one kind of bad row.
BAD = [
    (row("a", 0, "R1", (10, 5, 65, 40)), "outside the 64x48 image"),
    (row("a", 1, "R1", (30, 5, 30, 40)), "x_max <= x_min"),
    (row("a", 1, "R1", (10, 40, 30, 20)), "y_max <= y_min"),
    (row("a", 15, "R1", (10, 5, 20, 15), name="Nothing"), "unknown class id"),
    (row("a", 3, "R1", (10, 5, 20, 15), name="Atelectasis"), "does not match id 3"),
    (row("a", 14, "R2", (0, 0, 1, 1)), "class 14 (No finding) with a box"),
    (row("a", 5, "R2"), "without a complete box"),
    (row("ghost", 5, "R2", (1, 1, 2, 2)), "no image for this image_id"),
    (row("b", 5, "R2", ("abc", 1, 2, 2)), "not a number"),
    (row("b", 5, "", (1, 1, 2, 2)), "no reader"),
    (row("broken", 5, "R2", (1, 1, 2, 2)), "image unusable"),
    (row("huge", 14, "R2"), "image unusable"),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = {
        "a.dicom": dicom(ramp(48, 64, hi=4095, dtype=np.uint16), bits_stored=12),
        "a.png": png_bytes(ramp(48, 64)),  # a second file for "a": reported, .dicom used
        "train/b.png": png_bytes(ramp(30, 40)),
        "c.dcm": dicom(ramp(20, 24), photometric="MONOCHROME1"),
        "broken.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
        "huge.dcm": dicom_claiming(20000, 20000),
        "unlabelled.dcm": dicom(ramp(8, 8)),
    }
    rows = [r for pair in zip(GOOD, [b for b, _ in BAD]) for r in pair] + GOOD[len(BAD) :]
    rows += [b for b, _ in BAD[len(GOOD) :]]
    return write_folder(tmp_path / "vbd", images, rows)


def test_every_bad_row_is_reported_and_every_good_row_kept(folder: Path, tmp_path: Path) -> None:
    ann = read_vinbigdata(folder)
    assert ann.sizes.loc["a"].tolist() == [64, 48] and ann.sizes.loc["b"].tolist() == [40, 30]
    assert ann.image_ids == ["a", "b", "c"]
    kept = ann.boxes[["image_id", "class_id", "rad_id"]].apply(tuple, axis=1).tolist()
    assert sorted(kept) == sorted((g["image_id"], g["class_id"], g["rad_id"]) for g in GOOD)
    raw = pd.read_csv(folder / "train.csv", dtype=str)
    rows_errors = ann.errors[ann.errors["line"] > 0]
    assert len(rows_errors) == len(BAD) and len(ann.boxes) + len(BAD) == len(raw)
    for (bad, why), (_, err) in zip(BAD, rows_errors.sort_values("line").iterrows()):
        line = int(err["line"])
        assert raw.iloc[line - 2]["image_id"] == bad["image_id"]
        assert why in err["reason"], (why, err["reason"])
    folder_level = dict(zip(ann.errors.loc[ann.errors["line"] == 0, "image_id"],
                            ann.errors.loc[ann.errors["line"] == 0, "reason"]))  # fmt: skip
    assert "a second file" in folder_level["a"]
    assert "no row in train.csv" in folder_level["unlabelled"]
    assert "longest side" in rows_errors.set_index("image_id").loc["huge", "reason"]
    report = pd.read_csv(write_errors(ann, tmp_path / "errors.csv"))
    assert tuple(report.columns) == ERROR_COLUMNS and len(report) == len(ann.errors)


def test_a_film_over_the_chest_pixel_cap_is_reported_from_its_header(tmp_path: Path) -> None:
    """5000 x 5000 = 25 MP passes the generic side and pixel limits but not the chest
    study's 16.8 MP cap: its rows are reported with the cap named, and nothing is decoded
    (the file holds 16 pixels)."""
    rows = [row("big", 3, "R1", (10, 10, 200, 200)), row("ok", 14, "R1")]
    root = write_folder(
        tmp_path / "cap",
        {"big.dicom": dicom_claiming(5000, 5000), "ok.dicom": dicom(ramp(8, 8))},
        rows,
    )
    ann = read_vinbigdata(root)
    assert ann.image_ids == ["ok"] and len(ann.boxes) == 1
    reasons = " ".join(ann.errors["reason"])
    assert "25.0 MP" in reasons and "chest study takes at most 16.8 MP" in reasons


def test_folder_listing_and_unusable_folders(folder: Path, tmp_path: Path) -> None:
    assert image_path(folder, "a").name == "a.dicom"
    assert image_path(folder, "b") == folder / "train" / "b.png"
    assert list_images(folder)["a"].name == "a.dicom"
    with pytest.raises(FileNotFoundError):
        image_path(folder, "ghost")
    with pytest.raises(AnnotationError, match="no train.csv"):
        read_vinbigdata(tmp_path)
    (tmp_path / "train.csv").write_text("image_id,class_id\nx,1\n")
    with pytest.raises(AnnotationError, match="lacks the columns"):
        read_vinbigdata(tmp_path)


def test_png_copies_map_back_to_original_pixels(tmp_path: Path) -> None:
    """512-px copies (here 32 px) + sizes.csv: boxes stay in original pixels and checks use
    the original size; a PNG missing from sizes.csv is reported with its rows."""
    rows = [row("p", 3, "R1", (100, 50, 600, 450)), row("q", 14, "R1"), row("lost", 14, "R1")]
    images = {f"images/{k}.png": png_bytes(ramp(32, 32)) for k in ("p", "q", "lost")}
    images["d.dicom"] = dicom(ramp(10, 12))  # a DICOM named in sizes.csv: sizes.csv wins
    rows.append(row("d", 0, "R1", (0, 0, 100, 100)))
    root = write_folder(tmp_path / "png", images, rows)
    pd.DataFrame({"image_id": ["p", "q", "d"], "width": [640, 320, 120],
                  "height": [480, 240, 100]}).to_csv(root / "sizes.csv", index=False)  # fmt: skip
    ann = read_vinbigdata(root)
    assert ann.sizes.loc["p"].tolist() == [640, 480] and ann.sizes.loc["d"].tolist() == [120, 100]
    assert ann.boxes.set_index("image_id").loc["p", list(BOX_COLUMNS)].tolist() == [
        100, 50, 600, 450,
    ]  # fmt: skip
    lost = ann.errors[ann.errors["image_id"] == "lost"]
    assert len(lost) == 1 and "no row in sizes.csv" in lost["reason"].iloc[0]
    film = load_film(image_path(root, "p"), original_size=(640, 480))
    assert film.size == (32, 32) and film.scale == (20.0, 15.0)
    assert film.to_original([[5, 10, 30, 30]]).tolist() == [[100, 150, 600, 450]]


# --- the real chest film from pydicom-data ---------------------------------------------


@pytest.fixture(scope="module", params=REAL)
def real(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    src = Path(get_testdata_file(request.param))
    root = tmp_path_factory.mktemp("real")
    shutil.copy(src, root / "rg1.dicom")
    # Heart box, and one reaching row 1950: inside only if width/height are not swapped.
    rows = [row("rg1", 3, r, (620 + d, 1000, 1350 + d, 1500)) for r, d in (("R1", 0), ("R2", 8))]
    rows += [row("rg1", 10, "R1", (1500, 1700, 1830, 1950)), row("rg1", 14, "R3")]
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(root / "train.csv", index=False)
    return src, root


def test_real_film_loads_with_its_size_and_spacing_unknown(real) -> None:
    _, root = real
    ann = read_vinbigdata(root)
    assert ann.errors.empty and ann.sizes.loc["rg1"].tolist() == list(REAL_SIZE)
    film = load_film(image_path(root, "rg1"))
    assert film.size == film.original_size == REAL_SIZE and film.scale == (1.0, 1.0)
    assert film.photometric == "MONOCHROME1" and film.bits == 15
    assert film.pixel_spacing is None and film.spacing_text == "unknown"  # PixelSpacing 0\0
    assert film.windows == ((15000.0, 30000.0),)
    assert "MONOCHROME1 inverted" in film.image.source.notes
    assert 30 < film.pixels.std() and (film.pixels == 255).mean() < 0.05  # not clipped flat


def test_real_film_shows_the_right_way_round(real) -> None:
    """Windowed by its own 15000/30000 (DICOM linear), inverted, rows and columns as stored."""
    src, _ = real
    px = load_film(src).pixels.astype(float)
    stored = pydicom.dcmread(src).pixel_array.astype(float)
    centre, width = 15000.0, 30000.0
    windowed = np.clip(((stored - (centre - 0.5)) / (width - 1) + 0.5) * 255, 0, 255)
    assert np.abs(px - (255 - windowed)).max() <= 1.0
    h, w = px.shape
    mediastinum = px[h // 4 : 3 * h // 4, int(w * 0.45) : int(w * 0.55)].mean()
    lungs = [px[h // 4 : int(h * 0.55), int(w * a) : int(w * b)].mean()
             for a, b in ((0.2, 0.33), (0.67, 0.8))]  # fmt: skip
    assert mediastinum > max(lungs) + 40  # lungs dark, mediastinum bright: inverted
    raw = stored[::4, ::4]
    corr = np.corrcoef(px[::4, ::4].ravel(), raw.ravel())[0, 1]
    flipped = np.corrcoef(px[::4, ::4].ravel(), raw[::-1].ravel())[0, 1]
    assert corr < -0.99 and abs(flipped) < 0.5  # inverted as stored, rows not flipped


def test_real_film_box_survives_coco_through_pycocotools(real, tmp_path: Path) -> None:
    _, root = real
    ann = read_vinbigdata(root)
    path = write_coco(to_coco(ann, source="reader", reader="R1"), tmp_path / "r1.json")
    coco = COCO(str(path))
    (img,) = coco.loadImgs(coco.getImgIds())
    assert (img["width"], img["height"]) == REAL_SIZE
    boxes = sorted(a["bbox"] for a in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])))
    assert boxes == [[620.0, 1000.0, 730.0, 500.0], [1500.0, 1700.0, 330.0, 250.0]]
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}[3] == "Cardiomegaly"
    back = coco_boxes(json.loads(path.read_text())).sort_values("x_min")
    assert back[list(BOX_COLUMNS)].to_numpy().tolist() == [[620, 1000, 1350, 1500],
                                                            [1500, 1700, 1830, 1950]]  # fmt: skip


def test_evaluate_scores_a_submission_on_the_real_film(
    real, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """evaluate takes the real film's folder with boxes in original pixels: the fused truth
    (two readers' hearts fused, one reader's effusion kept) found exactly scores mAP 1, a
    submission shifted by half a heart scores 0."""
    _, root = real
    heart, effusion = (624, 1000, 1354, 1500), (1500, 1700, 1830, 1950)

    def score(boxes: str) -> dict:
        sub = tmp_path / "sub.csv"
        sub.write_text(f"image_id,PredictionString\nrg1,{boxes}\n")
        assert main(["evaluate", str(sub), str(root), "--bootstrap", "0"]) == 0
        return json.loads(capsys.readouterr().out)

    exact = score(f"3 0.9 {' '.join(map(str, heart))} 10 0.8 {' '.join(map(str, effusion))}")
    assert exact["map_iou40"] == pytest.approx(1.0)
    assert "ground_truth" in exact
    shifted = score(f"3 0.9 {heart[0] + 365} 1000 {heart[2] + 365} 1500")
    assert shifted["map_iou40"] == pytest.approx(0.0)


# --- COCO: fused, normal images, the CLI ------------------------------------------------


def test_coco_fused_and_normal_images(folder: Path, tmp_path: Path) -> None:
    ann = read_vinbigdata(folder)
    data = to_coco(ann)  # fused readers (fusion's defaults)
    coco = COCO(str(write_coco(data, tmp_path / "fused.json")))
    by_name = {im["file_name"]: im["id"] for im in coco.dataset["images"]}
    assert set(by_name) == {"a", "b", "c"}
    assert coco.getAnnIds(imgIds=[by_name["c"]]) == []  # No finding: an image, no box
    a_boxes = coco.loadAnns(coco.getAnnIds(imgIds=[by_name["a"]]))
    assert len(a_boxes) == 1 and a_boxes[0]["category_id"] == 3  # R1 and R2 fused into one
    assert all(a["iscrowd"] == 0 and a["area"] > 0 for a in coco.dataset["annotations"])
    every = to_coco(ann, source="reader")
    assert [a["rad_id"] for a in every["annotations"]] == ["R1", "R2", "R1"]


def test_coco_cli(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.json"
    assert main(["coco", str(folder), str(out), "--reader", "R2", "--errors",
                 str(tmp_path / "e.csv")]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 1 and summary["annotations"] == 1 and summary["errors"] > 0
    assert COCO(str(out)).dataset["images"][0]["file_name"] == "a.dicom"
    assert len(pd.read_csv(tmp_path / "e.csv")) == summary["errors"]
    assert main(["coco", str(folder), str(out), "--fused"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]  # pycocotools prints too
    assert json.loads(last)["source"] == "readers fused"
    assert main(["coco", str(folder), str(out), "--reader", "R17"]) == 2


# --- YOLO -------------------------------------------------------------------------------


def test_yolo_write_read_round_trip(folder: Path, tmp_path: Path) -> None:
    ann = read_vinbigdata(folder)
    out = write_yolo(ann, tmp_path / "yolo", source=folder, image_size=32)
    assert cv2.imread(str(out / "images" / "a.png"), cv2.IMREAD_UNCHANGED).shape == (32, 32)
    assert (out / "labels" / "c.txt").read_text() == ""
    back = read_yolo(out)
    assert back.errors.empty and back.sizes.equals(ann.sizes)
    key = ["image_id", "class_id", *BOX_COLUMNS]
    want = ann.findings()[key].sort_values(key).to_numpy()
    got = back.findings()[key].sort_values(key).to_numpy()
    assert (want[:, :2] == got[:, :2]).all()
    np.testing.assert_allclose(want[:, 2:].astype(float), got[:, 2:].astype(float), atol=0.01)
    assert set(back.boxes.loc[back.boxes["class_id"] == 14, "image_id"]) == {"c"}


def test_yolo_malformed_lines_are_reported_with_file_and_line(folder: Path, tmp_path: Path) -> None:
    out = write_yolo(read_vinbigdata(folder), tmp_path / "yolo", source=folder, image_size=32)
    lines = [
        "3 0.5 0.5 0.2 0.2",
        "3 0.5 0.5 0.2",
        "x 0.5 0.5 0.2 0.2",
        "15 0.5 0.5 0.2 0.2",
        "3 0.95 0.5 0.2 0.2",
        "3 0.5 0.5 0 0.2",
        "14 0.5 0.5 0.2 0.2",
        "2 0.1 0.1 0.1 0.1",
    ]
    (out / "labels" / "a.txt").write_text("\n".join(lines) + "\n")
    back = read_yolo(out)
    a = back.boxes[back.boxes["image_id"] == "a"]
    assert len(a) == 2  # lines 1 and 8
    np.testing.assert_allclose(a.iloc[0][list(BOX_COLUMNS)].astype(float), [25.6, 19.2, 38.4, 28.8])
    errors = back.errors.set_index("line")["reason"].to_dict()
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    expected = {2: "expected 5 values", 3: "not a number", 4: "unknown class id",
                5: "outside the 64x48 image", 6: "x_max <= x_min", 7: "class 14"}  # fmt: skip
    for line, why in expected.items():
        assert errors[line].startswith(f"labels/a.txt line {line}") and why in errors[line]


# --- single uploads -----------------------------------------------------------------------


def test_chest_case_single_upload_and_bad_files() -> None:
    good = dicom(ramp(24, 32, hi=1023, dtype=np.uint16), bits_stored=10)
    case = chest_case([("film.dcm", good)])
    assert list(case.views) == ["image"] and case.expected_views == ("image",)
    assert case.problems == [] and case.case_id.startswith("upload-")
    film = load_film(good, "film.dcm")
    assert PATIENT_NAME not in repr(film.image.source) and PATIENT_ID not in repr(film.windows)
    bad = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
    chest = chest_case([("x.png", bad), ("film.dcm", good), ("again.dcm", good)], "c1")
    aneurysm = case_from_files([("LI-A.png", bad)])
    assert chest.case_id == "c1" and list(chest.views) == ["image"]
    assert [p.kind for p in chest.problems] == ["bad_file", "duplicate"]
    reason = chest.problems[0].message.split(": ", 1)[1]
    assert reason == aneurysm.problems[0].message.split(": ", 1)[1]
    empty = chest_case([("x.png", bad)])
    assert [p.kind for p in empty.problems] == ["bad_file", "missing"] and not empty.views


# --- submission format --------------------------------------------------------------------


def test_prediction_string_round_trip(tmp_path: Path) -> None:
    text = "14 1 0 0 1 1 3 0.25 620.5 1000 1350 1500.125"
    preds = parse_prediction_string(text, "rg1")
    assert preds[0] == no_finding() and preds[1] == Prediction(3, 0.25, 620.5, 1000, 1350, 1500.125)
    assert format_prediction_string(preds) == text
    assert parse_prediction_string("", "x") == [] and parse_prediction_string(float("nan")) == []
    frame = pd.DataFrame(
        [("a", 14, 0.9, 0, 0, 1, 1), ("b", 3, 0.5, 10, 20, 30.5, 40), ("b", 0, 1e-5, 1, 2, 3, 4)],
        columns=["image_id", "class_id", "score", *BOX_COLUMNS],
    )
    back = read_submission(write_submission(frame, tmp_path / "sub.csv"))
    pd.testing.assert_frame_equal(back, frame.astype(back.dtypes.to_dict()))
    assert pd.read_csv(tmp_path / "sub.csv").columns.tolist() == ["image_id", "PredictionString"]
    write_submission({"n": [no_finding(0.7)]}, tmp_path / "n.csv")
    assert pd.read_csv(tmp_path / "n.csv")["PredictionString"][0] == "14 0.7 0 0 1 1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3 0.5 10 10 20", ("5 tokens are not groups of 6 (class score x_min y_min x_max y_max):"
                            " expected a number for y_max at token 6")),
        ("14 1 0 0 1 1 x 0.5 0 0 1 1", "token 7: expected a class id 0-14, got 'x'"),
        ("15 0.5 0 0 1 1", "token 1: expected a class id 0-14, got '15'"),
        ("2.5 0.5 0 0 1 1", "token 1: expected a class id 0-14, got '2.5'"),
        ("3 1.5 0 0 1 1", "token 2: expected a score in [0, 1], got '1.5'"),
        ("3 -0.1 0 0 1 1", "token 2: expected a score in [0, 1], got '-0.1'"),
        ("3 nan 0 0 1 1", "token 2: expected a score in [0, 1], got 'nan'"),
        ("3 0.5 0 abc 1 1", "token 4: expected a number for y_min, got 'abc'"),
        ("3 0.5 0 0 inf 1", "token 5: expected a number for x_max, got 'inf'"),
        ("3 0.5 10 0 5 1", "token 5: expected x_max > x_min (10), got '5'"),
        ("3 0.5 0 10 1 10", "token 6: expected y_max > y_min (10), got '10'"),
    ],
)  # fmt: skip
def test_malformed_prediction_strings(text: str, message: str) -> None:
    with pytest.raises(SubmissionError) as err:
        parse_prediction_string(text, "img7")
    assert str(err.value) == f"image img7: {message}"


def test_read_submission_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    path.write_text("image_id,PredictionString\na,14 1 0 0 1 1\nb,3 2 0 0 1 1\na,14 1 0 0 1 1\n"
                    ",14 1 0 0 1 1\n")  # fmt: skip
    with pytest.raises(SubmissionError) as err:
        read_submission(path)
    assert err.value.problems == [
        "image a: duplicate rows (lines 2, 4)",
        "line 3, image b: token 2: expected a score in [0, 1], got '2'",
        "line 5: no image_id",
    ]
    (tmp_path / "cols.csv").write_text("id,PredictionString\na,\n")
    with pytest.raises(SubmissionError, match="missing the columns"):
        read_submission(tmp_path / "cols.csv")
    with pytest.raises(SubmissionError, match="value 1: expected a class id"):
        write_submission(pd.DataFrame([("a", 3.5, 0.5, 0, 0, 1, 1)],
                                      columns=["image_id", "class_id", "score", *BOX_COLUMNS]),
                         tmp_path / "w.csv")  # fmt: skip


def test_a_single_upload_over_the_chest_pixel_cap_gets_a_reason() -> None:
    """The single-film path (no folder, no sizes table) applies the same chest cap."""
    case = chest_case([("big.dcm", dicom_claiming(5000, 5000))])
    assert not case.views
    assert any(p.kind == "too_large" and "chest study takes at most" in p.message
               for p in case.problems)  # fmt: skip


def test_fusion_does_not_depend_on_the_row_index(tmp_path: Path) -> None:
    """One film's rows taken out of a bigger table keep their old index (say 7, 8, 9):
    fusion must give the same boxes as for the same rows indexed 0..n-1 (it once gave none)."""
    from core.studies.chest.annotations import Annotations
    from core.studies.chest.fusion import fuse_readers
    from core.studies.chest.synth import generate_chest_cohort

    ann = read_vinbigdata(generate_chest_cohort(tmp_path / "c", 3, 2, size=256, workers=1))
    boxes = ann.boxes[ann.boxes["class_id"] != 14]
    film = str(boxes["image_id"].iloc[0])
    rows = boxes[boxes["image_id"].astype(str) == film]
    shifted = rows.set_axis(np.arange(len(rows)) + 1000)
    one = [
        Annotations(r, ann.sizes.loc[[film]], ann.errors.iloc[0:0])
        for r in (rows.reset_index(drop=True), shifted)
    ]
    plain, moved = (fuse_readers(a) for a in one)
    assert len(plain) > 0
    pd.testing.assert_frame_equal(plain.reset_index(drop=True), moved.reset_index(drop=True))
