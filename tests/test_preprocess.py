"""Preprocessing: crop, text detection and fill, the CLI, the model transforms, scoring.

Two kinds of data: a tiny synthetic cohort from ``core.synth`` (accuracy against the
generator's truth), and hand-built images (grey field, dark curves, black border, putText)
for the cases a cohort may not happen to contain: black text, a grey margin, a ruler and
border lines, thick vessels at the edge, a near-black vessel broken into pieces.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from core import limits
from core.case import CleanView, SourceInfo, ViewImage
from core.preprocess import preprocess_image, preprocess_view, stage1_input, to_model_tensor
from core.preprocess import cli
from core.preprocess import text as text_module
from core.preprocess.labelling import label_boxes
from core.preprocess.metrics import box_iou, box_mask
from core.preprocess.params import (
    DEFAULT_PARAMS,
    PreprocessParams,
    PreprocessParamsError,
    recorded_params,
)
from core.preprocess.reference import reference_crop, reference_preprocess
from core.preprocess.regions import TILE, candidate_rects
from core.preprocess.score import score_dirs
from core.synth import generate_cohort

# --------------------------------------------------------------------------- helpers


def _field(w: int, h: int, seed: int, bg: int = 175) -> np.ndarray:
    """A DSA-like field: light grey with noise and a few dark, blurred, curvy vessels."""
    rng = np.random.default_rng(seed)
    vessels = np.zeros((h, w), np.uint8)
    for i in range(6):
        t = np.linspace(0, 1, 60)
        x = w * (0.15 + 0.7 * t) if i % 2 else w * (0.3 + 0.4 * np.sin(3 * t + i))
        y = h * (0.2 + 0.6 * np.sin(2 * t + i) ** 2) if i % 2 else h * t
        pts = np.stack([x, y], axis=1).astype(np.int32)
        cv2.polylines(vessels, [pts], False, 255, int(rng.integers(2, 9)), cv2.LINE_AA)
    opacity = cv2.GaussianBlur(vessels, (0, 0), 1.0).astype(np.float32) / 255
    field = bg * (1 - 0.85 * opacity) + rng.normal(0, 3, (h, w))
    return np.clip(field, 0, 255).astype(np.uint8)


def _framed(field: np.ndarray, margin: tuple[int, int, int, int], level: int = 5) -> np.ndarray:
    """``field`` inside a near-black border of (left, top, right, bottom) px."""
    left, top, right, bottom = margin
    h, w = field.shape
    rng = np.random.default_rng(1)
    out = np.clip(rng.normal(level, 2, (h + top + bottom, w + left + right)), 0, 255)
    out = out.astype(np.uint8)
    out[top : top + h, left : left + w] = field
    return out


def _put_lines(img: np.ndarray, origin: tuple[int, int], lines: list[str], value: int) -> list:
    """Burn ``lines`` of text at ``origin`` (x, y of the first baseline); truth boxes."""
    boxes = []
    x, y = origin
    for text in lines:
        mask = np.zeros(img.shape, np.uint8)
        cv2.putText(mask, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2, cv2.LINE_AA)
        alpha = mask.astype(np.float32) / 255
        img[:] = np.rint(img * (1 - alpha) + value * alpha).astype(np.uint8)
        ys, xs = np.nonzero(mask)
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
        y += 28
    return boxes


def _jpeg_roundtrip(img: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def _covered(boxes: tuple, truth: list) -> bool:
    """Every truth box lies inside the union of the predicted boxes."""
    union = box_mask((2000, 2000), tuple(boxes))
    return all(union[y0:y1, x0:x1].all() for x0, y0, x1, y1 in truth)


def _outside_unchanged(raw: np.ndarray, cleaned: np.ndarray, record) -> bool:
    x0, y0, x1, y1 = record.crop
    crop = raw[y0:y1, x0:x1]
    outside = ~box_mask(crop.shape, record.text_boxes, (x0, y0))
    return cleaned.shape == crop.shape and np.array_equal(cleaned[outside], crop[outside])


# --------------------------------------------------------------------------- hand-built kinds


def test_clean_image_is_left_whole() -> None:
    raw = _jpeg_roundtrip(_field(400, 360, seed=0))
    cleaned, record = preprocess_image(raw)
    assert record.image_type == "clean"
    assert record.crop == (0, 0, 400, 360)
    assert record.text_boxes == ()
    assert record.original_size == (400, 360)
    assert np.array_equal(cleaned, raw)


@pytest.mark.parametrize("margin", [(40, 25, 60, 10), (0, 30, 0, 30), (12, 0, 0, 0)])
def test_margin_is_cropped(margin: tuple[int, int, int, int]) -> None:
    field = _field(420, 380, seed=1)
    raw = _jpeg_roundtrip(_framed(field, margin))
    cleaned, record = preprocess_image(raw)
    left, top = margin[:2]
    truth = (left, top, left + 420, top + 380)
    assert record.image_type == "margin"
    assert box_iou(record.crop, truth) >= 0.98
    assert max(abs(a - b) for a, b in zip(record.crop, truth)) <= 2
    assert cleaned.shape == (record.crop[3] - record.crop[1], record.crop[2] - record.crop[0])


def test_grey_noisy_margin_is_found() -> None:
    """A margin at ~35 grey with JPEG noise is still margin, not picture."""
    raw = _jpeg_roundtrip(_framed(_field(400, 400, seed=2), (30, 30, 30, 30), level=35), 70)
    _, record = preprocess_image(raw)
    assert box_iou(record.crop, (30, 30, 430, 430)) >= 0.98


def test_ruler_and_border_lines_do_not_fool_the_crop() -> None:
    img = _framed(_field(400, 400, seed=3), (40, 40, 40, 40))
    cv2.rectangle(img, (36, 36), (443, 443), 200, 1)  # border line 4 px outside the field
    for i, x in enumerate(range(40, 440, 10)):  # ruler below the field, ticks in the margin
        cv2.line(img, (x, 446), (x, 446 + (14 if i % 5 == 0 else 7)), 230, 1)
    cv2.line(img, (40, 446), (439, 446), 230, 1)
    _, record = preprocess_image(_jpeg_roundtrip(img))
    assert box_iou(record.crop, (40, 40, 440, 440)) >= 0.98


def test_dark_vessels_at_the_edge_do_not_over_crop() -> None:
    field = _field(400, 400, seed=4)
    cv2.line(field, (4, 0), (4, 260), 15, 9)  # a thick near-black vessel along the left edge
    cv2.line(field, (0, 330), (60, 399), 15, 9)  # one leaving through a corner
    cv2.line(field, (0, 200), (399, 200), 20, 7)  # one right across the middle row
    cv2.line(field, (200, 0), (200, 399), 20, 7)  # and one along the middle column
    _, record = preprocess_image(_jpeg_roundtrip(field))
    assert record.crop == (0, 0, 400, 400)
    assert record.image_type == "clean"


@pytest.mark.parametrize("value", [250, 10], ids=["white", "black"])
def test_text_is_found_and_filled_from_its_surroundings(value: int) -> None:
    img = _framed(_field(500, 460, seed=5), (30, 20, 30, 20))
    # The short last line is text only as part of the block (core.preprocess.lines).
    truth = _put_lines(img, (45, 50), ["L ICA AP 12.5 fps", "Frame 14/30", "DS"], value)
    raw = _jpeg_roundtrip(img)
    cleaned, record = preprocess_image(raw)
    assert record.image_type == "margin_text"
    assert _covered(record.text_boxes, truth)
    assert _outside_unchanged(raw, cleaned, record)
    # The strokes are gone: inside the truth boxes nothing is near the text's grey any more.
    x0, y0 = record.crop[:2]
    for bx0, by0, bx1, by1 in truth:
        patch = cleaned[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0].astype(int)
        assert np.mean(np.abs(patch - value) < 40) < 0.02


def test_a_near_black_vessel_in_pieces_is_not_text() -> None:
    """Dark pieces lined up along a paler vessel look like characters, but are anatomy."""
    field = _field(500, 400, seed=6)
    cv2.line(field, (30, 200), (470, 200), 70, 14)  # the vessel
    for x in range(40, 460, 22):  # its near-black core, broken into character-sized bits
        cv2.rectangle(field, (x, 195), (x + 14, 206), 12, -1)
    raw = _jpeg_roundtrip(field)
    cleaned, record = preprocess_image(raw)
    assert record.text_boxes == ()
    assert np.array_equal(cleaned, raw)


def test_label_boxes_matches_opencv_stats() -> None:
    rng = np.random.default_rng(0)
    for density in (0.0, 0.05, 0.3, 0.6):
        mask = (rng.random((40, 70)) < density).astype(np.uint8)
        labels, boxes = label_boxes(mask)
        n, ref_labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        x, y, w, h, area = (stats[1:, i] for i in range(5))
        assert np.array_equal(labels, ref_labels)
        assert np.array_equal(boxes, np.stack([x, y, x + w, y + h, area], axis=1))


def test_candidate_rects_hold_every_seed_with_room_and_never_overlap() -> None:
    seeds = np.zeros((300, 500), np.uint8)
    assert candidate_rects(seeds) == ()
    seeds[[20, 22, 150, 290], [30, 60, 250, 495]] = 1
    rects = candidate_rects(seeds)
    ys, xs = np.nonzero(seeds)
    for y, x in zip(ys, xs):  # each seed, with at least a tile of room inside the picture
        assert any(max(0, x - TILE) >= x0 and min(500, x + TILE) <= x1
                   and max(0, y - TILE) >= y0 and min(300, y + TILE) <= y1
                   for x0, y0, x1, y1 in rects)  # fmt: skip
    union = box_mask((300, 500), rects)
    assert union.sum() == sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects)
    assert union.mean() < 0.2  # a few rectangles, not the picture
    # Seeds on a grid every second pixel give rectangles in picture pixels.
    half = cv2.resize(seeds, (250, 150), interpolation=cv2.INTER_NEAREST)
    assert all(x1 <= 500 and y1 <= 300 for _, _, x1, y1 in candidate_rects(half, (500, 300), 2))
    seeds[:] = 1  # dense seeds: the whole picture
    assert candidate_rects(seeds) == ((0, 0, 500, 300),)


def test_text_found_in_candidate_rects_is_what_the_whole_picture_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Labelling only around seeds is an optimisation: it must find the same lines."""
    img = _field(640, 480, seed=21)
    _put_lines(img, (40, 60), ["LAO 12 CRA 5", "F 12/30"], 250)
    _put_lines(img, (360, 400), ["DSA 15 fps", "RUN 4"], 5)
    picture = _jpeg_roundtrip(img)
    fast = text_module.detect_text(picture)
    monkeypatch.setattr(text_module, "candidate_rects",
                        lambda seeds, size, step: ((0, 0, *size),) if seeds.any() else ())  # fmt: skip
    whole = text_module.detect_text(picture)
    assert len(fast.lines) >= 4 and {ln.polarity for ln in fast.lines} == {"bright", "dark"}
    assert sorted(fast.lines, key=lambda ln: ln.box) == sorted(whole.lines, key=lambda ln: ln.box)


def test_preprocess_view_wraps_a_view() -> None:
    raw = _framed(_field(300, 300, seed=7), (20, 20, 20, 20))
    view = ViewImage("LI-A", raw, SourceInfo("1LI-A.jpg", "jpeg"))
    clean = preprocess_view(view)
    assert isinstance(clean, CleanView) and clean.view == "LI-A"
    assert clean.record.image_type == "margin"


def test_rejects_non_grey_input() -> None:
    with pytest.raises(ValueError):
        preprocess_image(np.zeros((10, 10, 3), np.uint8))


def test_tiny_and_blank_images_do_not_crash() -> None:
    tiny, white, black = np.zeros((3, 3)), np.full((50, 40), 255), np.zeros((64, 64))
    for img in (a.astype(np.uint8) for a in (tiny, white, black)):
        cleaned, record = preprocess_image(img)
        x0, y0, x1, y1 = record.crop
        assert cleaned.shape == (y1 - y0, x1 - x0) and cleaned.size > 0


# --------------------------------------------------------------------------- synthetic cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two synthetic patients (16 views) and the CLI's output for them."""
    root = tmp_path_factory.mktemp("preprocess")
    raw_dir = generate_cohort(root / "raw", patients=2, seed=7)
    out_dir = root / "out"
    rc = cli.run(argparse.Namespace(input=raw_dir, output=out_dir))
    assert rc == 0
    return raw_dir, out_dir


def test_accuracy_against_generator_truth(cohort: tuple[Path, Path]) -> None:
    raw_dir, out_dir = cohort
    result = score_dirs(raw_dir, out_dir, reference=False)
    ours = result["ours"]
    assert result["n_missing_predictions"] == 0 and ours["images"] == 16
    assert ours["crop_iou_ge_0.98"] >= 0.95
    assert ours["kind_accuracy"] >= 0.9
    if ours["text_pixels"]:
        assert ours["text_pixels_masked"] >= 0.95
    # Nothing outside the reported boxes may change.
    assert ours["outside_boxes_changed_images"] == 0
    assert ours["outside_boxes_max_abs_diff"] == 0


def test_cli_outputs(cohort: tuple[Path, Path]) -> None:
    raw_dir, out_dir = cohort
    with (out_dir / "preprocess.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == (
        "file", "image_type", "crop_x0", "crop_y0", "crop_x1", "crop_y1", "text_boxes",
        "surround", "field_shape",
    )  # fmt: skip
    assert len(rows) == 16
    for row in rows:
        png = cv2.imread(str(out_dir / f"{Path(row['file']).stem}.png"), cv2.IMREAD_GRAYSCALE)
        w = int(row["crop_x1"]) - int(row["crop_x0"])
        h = int(row["crop_y1"]) - int(row["crop_y0"])
        assert png.shape == (h, w)
        assert all(len(b) == 4 for b in json.loads(row["text_boxes"]))
    assert (out_dir / "errors.csv").read_text().strip() == "file,reason"


def test_bad_files_are_listed_and_the_rest_processed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    good = _jpeg_roundtrip(_framed(_field(200, 200, seed=8), (10, 10, 10, 10)))
    cv2.imwrite(str(src / "1LI-A.jpg"), good)
    data = (src / "1LI-A.jpg").read_bytes()
    (src / "2LI-A.jpg").write_bytes(data[: len(data) // 2])  # truncated
    (src / "3LI-A.jpg").write_bytes(b"")  # empty
    (src / "4LI-A.jpg").write_text("not an image at all")
    cv2.imwrite(str(src / "5LI-A.png"), np.zeros((300, 90), np.uint8))  # over the patched limit
    (src / "notes.txt").write_text("ignored")
    monkeypatch.setattr(limits, "MAX_SIDE", 250)

    out = tmp_path / "out"
    rc = cli.run(argparse.Namespace(input=src, output=out))
    assert rc == 1
    with (out / "errors.csv").open(newline="") as fh:
        errors = {r["file"]: r["reason"] for r in csv.DictReader(fh)}
    assert set(errors) == {"2LI-A.jpg", "3LI-A.jpg", "4LI-A.jpg", "5LI-A.png"}
    assert "truncated" in errors["2LI-A.jpg"] and "empty" in errors["3LI-A.jpg"]
    assert "250" in errors["5LI-A.png"]
    assert (out / "1LI-A.png").exists() and not (out / "2LI-A.png").exists()
    with (out / "preprocess.csv").open(newline="") as fh:
        assert [r["file"] for r in csv.DictReader(fh)] == ["1LI-A.jpg"]
    assert "Traceback" not in caplog.text
    assert sum("2LI-A.jpg" in r.getMessage() for r in caplog.records) == 1


def test_missing_input_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    assert cli.run(argparse.Namespace(input=tmp_path / "nope", output=tmp_path / "o")) == 2


# --------------------------------------------------------------------------- transforms


def test_stage1_input_is_invert_then_median() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    before = img.copy()
    out = stage1_input(img)
    assert np.array_equal(out, cv2.medianBlur(255 - img, 3))
    assert np.array_equal(img, before)  # pure: the input is untouched
    flat = np.full((9, 9), 200, np.uint8)
    assert (stage1_input(flat) == 55).all()


def test_to_model_tensor_normalises_and_resizes() -> None:
    white, black = np.full((50, 60), 255, np.uint8), np.zeros((50, 60), np.uint8)
    t = to_model_tensor(white, 32)
    assert t.shape == (1, 32, 32) and t.dtype == np.float32
    assert np.allclose(t, 1.0)  # (1 - 0.5) / 0.5
    batch = to_model_tensor([white, black], 16)
    assert batch.shape == (2, 1, 16, 16)
    assert np.allclose(batch[1], -1.0)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    rgb = to_model_tensor(np.stack([black]), 8, mean, std, channels=3)
    assert rgb.shape == (1, 3, 8, 8)
    assert np.allclose(rgb[0, :, 0, 0], [-m / s for m, s in zip(mean, std)], atol=1e-6)
    # Shrinking uses INTER_AREA, the documented choice.
    img = np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)
    expect = cv2.resize(img, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    assert np.allclose(to_model_tensor(img, 16, 0.0, 1.0)[0], expect)
    with pytest.raises(ValueError):
        to_model_tensor(white, 8, (0.1, 0.2), 1.0, channels=3)


# --------------------------------------------------------------------------- reference


def test_reference_walks_from_the_centre_and_fills_a_fixed_box() -> None:
    field = np.full((200, 300), 170, np.uint8)
    img = _framed(field, (20, 10, 30, 40))
    assert reference_crop(img) == (20, 10, 320, 210)
    out, record = reference_preprocess(img)
    assert record.text_boxes and out.shape == (200, 300)
    # A vessel through the centre stops the walk: the original's known failure.
    img[:, 150:156] = 5
    assert reference_crop(img)[0] > 20


# --------------------------------------------------------------------------- recorded params


def test_params_round_trip_through_a_bundles_json() -> None:
    other = replace(DEFAULT_PARAMS, dark_clamp=(20, 90), min_char_px=8, line_gap=3)
    record = json.loads(json.dumps(other.to_record()))  # as bundle.json holds it
    assert isinstance(record["dark_clamp"], list)
    back = PreprocessParams.from_record(record)
    assert back == other and back.dark_clamp == (20, 90) and back.digest() == other.digest()
    assert other.digest() != DEFAULT_PARAMS.digest()
    assert PreprocessParams.from_record({**record, "line_gap": 3}).line_gap == 3.0  # int ok
    with pytest.raises(PreprocessParamsError, match="min_char_px must be an integer"):
        replace(DEFAULT_PARAMS, min_char_px=6.5)  # the constructor is as strict


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shiny": 1}, r"unknown fields \['shiny'\]"),
        ({"min_char_px": None}, "min_char_px must be a number"),
        ({"min_char_px": 6.5}, "min_char_px must be an integer"),
        ({"min_char_px": True}, "min_char_px must be a number"),
        ({"dark_clamp": [30]}, "dark_clamp must be 2 values"),
        ({"dark_clamp": [30, 100.5]}, "dark_clamp must be an integer"),
        ({"dark_fraction": "0.5"}, "dark_fraction must be a number"),
    ],
)
def test_params_from_a_record_are_strict(change: dict, message: str) -> None:
    record = {**DEFAULT_PARAMS.to_record(), **change}
    with pytest.raises(PreprocessParamsError, match=message):
        PreprocessParams.from_record(record)


def test_params_from_a_record_name_missing_fields() -> None:
    record = DEFAULT_PARAMS.to_record()
    del record["box_pad"]
    with pytest.raises(PreprocessParamsError, match=r"missing fields \['box_pad'\]"):
        PreprocessParams.from_record(record)
    with pytest.raises(PreprocessParamsError, match="must be an object"):
        PreprocessParams.from_record([1, 2])  # type: ignore[arg-type]


def test_recorded_params_read_the_manifests_entry() -> None:
    record = replace(DEFAULT_PARAMS, min_char_px=9).to_record()
    manifest = {
        "preprocessing": {"crop_text_fill": {"module": "core.preprocess", "params": record}}
    }
    assert recorded_params(manifest).min_char_px == 9
    assert recorded_params({"preprocessing": {}}, "old bundle") is DEFAULT_PARAMS
    with pytest.raises(PreprocessParamsError, match="^mine: preprocessing params"):
        recorded_params({"preprocessing": {"crop_text_fill": {"params": {}}}}, "mine")
