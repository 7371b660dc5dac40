"""Preprocessing on real-world framing (issue 15): white, grey and black surrounds, margins
on some sides, circular and rounded fields, vignetting, text of either polarity.

Two sources besides ``core.synth`` (which ``tests/test_preprocess.py`` covers): the
independent framing generator :mod:`scripts.framing_source` (a small seeded set scored with
the project's metric code) and hand-built OpenCV images below, each aimed at one case.
"""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.case import PreprocessRecord
from core.preprocess import preprocess_image
from core.preprocess.metrics import box_iou, box_mask
from core.preprocess.truth import load_predictions
from scripts import framing_source
from scripts.framing_score import score_framings
from ui.preprocess_panel import framing_caption

# --------------------------------------------------------------------------- helpers


def _field(w: int, h: int, seed: int, bg: float = 170.0, vignette: float = 0.0) -> np.ndarray:
    """Float field: ``bg`` with optional vignetting and a few dark vessels in its lower
    two thirds, clear of the text burned near the top (no noise yet)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rad = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
    img = bg * (1 - vignette * np.clip(rad, 0, 1.2) ** 2)
    ves = np.zeros((h, w), np.uint8)
    for i in range(5):
        pts = np.stack([np.linspace(0.1, 0.9, 40) * w,
                        (0.6 + 0.25 * np.sin(np.linspace(0, 3, 40) + i)) * h], 1)  # fmt: skip
        cv2.polylines(ves, [pts.astype(np.int32)], False, 255, int(rng.integers(2, 8)), cv2.LINE_AA)
    return img * (1 - 0.8 * cv2.GaussianBlur(ves, (0, 0), 1.0) / 255.0)


def _finish(img: np.ndarray, seed: int = 0) -> np.ndarray:
    """Noise and a JPEG round trip."""
    noisy = img + np.random.default_rng(seed).normal(0, 3, img.shape)
    ok, buf = cv2.imencode(".jpg", np.clip(noisy, 0, 255).astype(np.uint8))
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def _framed(w: int, h: int, box: tuple[int, int, int, int], level: float, shape: str,
            seed: int = 0, vignette: float = 0.0) -> np.ndarray:  # fmt: skip
    """A ``w`` x ``h`` image: the field inside ``box`` (rectangle, ellipse or rounded
    rectangle), ``level`` outside."""
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), np.uint8)
    if shape == "circular":
        cv2.ellipse(mask, (((x0 + x1) / 2, (y0 + y1) / 2), (x1 - x0, y1 - y0), 0), 1, -1)
    elif shape == "rounded":
        r = (x1 - x0) // 8
        cv2.rectangle(mask, (x0 + r, y0), (x1 - 1 - r, y1 - 1), 1, -1)
        cv2.rectangle(mask, (x0, y0 + r), (x1 - 1, y1 - 1 - r), 1, -1)
        for cx, cy in ((x0 + r, y0 + r), (x1 - 1 - r, y0 + r), (x0 + r, y1 - 1 - r),
                       (x1 - 1 - r, y1 - 1 - r)):  # fmt: skip
            cv2.circle(mask, (cx, cy), r, 1, -1)
    else:
        mask[y0:y1, x0:x1] = 1
    field = _field(w, h, seed, vignette=vignette)
    return np.where(mask > 0, field, level)


def _burn(img: np.ndarray, origin: tuple[int, int], lines: list[str], value: int) -> list:
    """Burn text lines (OpenCV Hershey) at ``origin``; their boxes."""
    boxes, (x, y) = [], origin
    for text in lines:
        mask = np.zeros(img.shape, np.uint8)
        cv2.putText(mask, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2, cv2.LINE_AA)
        alpha = mask / 255.0
        img[:] = img * (1 - alpha) + value * alpha
        ys, xs = np.nonzero(mask)
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
        y += 28
    return boxes


def _covered(pred: tuple, truth: list) -> bool:
    union = np.zeros((2000, 2000), bool)
    for x0, y0, x1, y1 in pred:
        union[y0:y1, x0:x1] = True
    return all(union[y0:y1, x0:x1].all() for x0, y0, x1, y1 in truth)


# --------------------------------------------------------------------------- hand-built


@pytest.mark.parametrize(
    ("level", "surround"), [(250, "white"), (235, "white"), (85, "grey"), (8, "black")]
)
def test_surrounds_of_any_level_are_cropped_and_named(level: int, surround: str) -> None:
    box = (50, 30, 470, 400)
    raw = _finish(_framed(520, 440, box, level, "rectangular", seed=1))
    _, record = preprocess_image(raw)
    assert box_iou(record.crop, box) >= 0.98
    assert max(abs(a - b) for a, b in zip(record.crop, box)) <= 2
    assert record.image_type == "margin"
    assert (record.surround, record.field_shape) == (surround, "rectangular")


@pytest.mark.parametrize(
    "box",
    [(60, 0, 500, 420), (0, 0, 450, 420), (0, 45, 500, 420), (0, 0, 500, 380)],
    ids=["left", "right", "top", "bottom"],
)
def test_a_margin_on_one_side_only(box: tuple[int, int, int, int]) -> None:
    raw = _finish(_framed(500, 420, box, 245, "rectangular", seed=2))
    _, record = preprocess_image(raw)
    assert box_iou(record.crop, box) >= 0.98 and record.surround == "white"


@pytest.mark.parametrize("level", [5, 240, 90])
def test_a_circular_field_is_cropped_to_its_bounding_box(level: int) -> None:
    # A circle of radius 230 centred in 560 x 500: its box is (50, 20, 510, 480).
    raw = _finish(_framed(560, 500, (50, 20, 510, 480), level, "circular", seed=3))
    _, record = preprocess_image(raw)
    assert box_iou(record.crop, (50, 20, 510, 480)) >= 0.98
    assert record.field_shape == "circular"


def test_a_circle_cut_by_the_image_is_cropped_to_what_shows() -> None:
    # Radius 260 centred at (300, 240) in 600 x 480: cut at the top and bottom.
    raw = _finish(_framed(600, 480, (40, -20, 560, 500), 10, "circular", seed=4))
    _, record = preprocess_image(raw)
    assert box_iou(record.crop, (40, 0, 560, 480)) >= 0.98
    assert record.field_shape == "circular"


def test_a_rounded_shutter() -> None:
    box = (40, 40, 480, 440)
    raw = _finish(_framed(520, 480, box, 20, "rounded", seed=5))
    _, record = preprocess_image(raw)
    assert box_iou(record.crop, box) >= 0.98 and record.field_shape == "rounded"


def test_vignetting_alone_is_not_a_surround() -> None:
    """A field darkening 25 % towards its edge, no surround: nothing to crop."""
    raw = _finish(_field(520, 480, seed=6, bg=190, vignette=0.25))
    cleaned, record = preprocess_image(raw)
    assert record.crop == (0, 0, 520, 480) and record.image_type == "clean"
    assert (record.surround, record.field_shape) == ("none", "full")
    assert np.array_equal(cleaned, raw)


def test_vignetting_inside_a_grey_surround() -> None:
    box = (40, 30, 500, 450)
    raw = _finish(_framed(540, 480, box, 70, "rectangular", seed=7, vignette=0.2))
    _, record = preprocess_image(raw)
    assert box_iou(record.crop, box) >= 0.98 and record.surround == "grey"


@pytest.mark.parametrize(("level", "value"), [(250, 0), (250, 255), (8, 0), (90, 0)])
def test_text_of_either_polarity_on_any_surround(level: int, value: int) -> None:
    box = (30, 20, 530, 460)
    img = _framed(560, 480, box, level, "rectangular", seed=8)
    truth = _burn(img, (50, 60), ["LAO 12 CRA 5", "F 12/30", "DS"], value)
    raw = _finish(img)
    cleaned, record = preprocess_image(raw)
    assert box_iou(record.crop, box) >= 0.98
    assert record.image_type == "margin_text"
    assert _covered(record.text_boxes, truth)


def test_black_text_in_the_corner_of_a_circle_on_white() -> None:
    """Consoles burn text into the surround at the corners of an intensifier's box."""
    img = _framed(560, 500, (50, 20, 510, 480), 245, "circular", seed=9)
    truth = _burn(img, (58, 48), ["RAO 30", "15 fps"], 0)
    raw = _finish(img)
    _, record = preprocess_image(raw)
    assert record.image_type == "margin_text" and record.surround == "white"
    assert _covered(record.text_boxes, truth)


@pytest.mark.parametrize(("level", "value"), [(245, 255), (8, 0)])
def test_a_caption_running_into_a_surround_of_its_own_colour(level: int, value: int) -> None:
    """Past a rounded shutter's corner the caption goes on, unseen, in the surround: its box
    must cover that part of the crop too (the fill changes nothing it finds no stroke on)."""
    img = _framed(600, 500, (40, 40, 560, 460), level, "rounded", seed=13)
    truth = _burn(img, (452, 70), ["LAO 12 CRA 5"], value)
    raw = _finish(img)
    cleaned, record = preprocess_image(raw)
    x0, y0, x1, y1 = record.crop
    assert record.image_type == "margin_text" and record.field_shape == "rounded"
    in_crop = [(max(a, x0), max(b, y0), min(c, x1), min(d, y1)) for a, b, c, d in truth]
    assert in_crop[0][2] == 560  # the text runs to the crop's edge, across the surround
    assert _covered(record.text_boxes, in_crop)
    # No pixel outside the strokes the fill found changed: the surround stays as it was.
    surround = np.asarray(raw[y0:y1, x0:x1], np.int16)[10:30, 505:520]
    assert np.array_equal(cleaned[10:30, 505:520], surround)


# --------------------------------------------------------------------------- framing source


def test_the_framing_source_shares_no_code_with_core() -> None:
    tree = ast.parse(Path(framing_source.__file__).read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [m for m in modules if m.split(".")[0] in ("core", "ui", "scripts")]


def test_the_framing_source_is_seeded_and_truthful() -> None:
    a, mask_a, truth_a = framing_source.draw_image(3, seed=5)
    b, _, truth_b = framing_source.draw_image(3, seed=5)
    c, _, _ = framing_source.draw_image(3, seed=6)
    assert np.array_equal(a, b) and truth_a == truth_b and not np.array_equal(a, c)
    kinds, surrounds, shapes = set(), set(), set()
    for i in range(40):
        img, mask, t = framing_source.draw_image(i, seed=5)
        h, w = img.shape
        x0, y0, x1, y1 = t.crop
        assert t.size == (w, h) and 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        for bx0, by0, bx1, by1 in t.text_boxes:  # text truth lies in the crop, on glyphs
            assert x0 <= bx0 < bx1 <= x1 and y0 <= by0 < by1 <= y1
            assert mask[by0:by1, bx0:bx1].any()
        kinds.add(t.kind)
        surrounds.add(t.surround)
        shapes.add(t.field_shape)
    assert kinds == {"clean", "margin", "margin_text"}
    assert surrounds == {"black", "white", "grey", "none"}
    assert shapes == {"rectangular", "circular", "rounded", "full"}


@pytest.fixture(scope="module")
def framing_score(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """60 framings (seed 2: neither the tuning seed 1 nor the README's seed 0), scored."""
    return score_framings(tmp_path_factory.mktemp("framing"), images=60, seed=2, reference=False)


def test_targets_on_the_framing_source(framing_score: dict) -> None:
    ours, extra = framing_score["ours"], framing_score["independent"]
    assert ours["images"] == 60 and framing_score["n_missing_predictions"] == 0
    assert ours["crop_iou_ge_0.98"] >= 0.99  # issue 15's target
    assert ours["kind_accuracy"] >= 0.98  # issue 15's target
    assert extra["surround_accuracy"] >= 0.95 and extra["field_shape_accuracy"] >= 0.95
    assert ours["outside_boxes_changed_images"] == 0
    # Text: the target (98 % of glyph pixels masked in 98 % of the text images) is not met
    # yet; these bounds hold today's level (README: Preprocessing; on these 60 images
    # 99.5 %, 99.6 % and 27 of 29, against 97.2 %, 96.1 % and 26 of 29 before the
    # background fixes) so that it cannot slip unseen.
    assert ours["text_pixels_masked"] >= 0.98
    assert extra["glyph_masked_mean"] >= 0.98
    assert extra["glyph_images_ge_0.98"] >= 0.9


@pytest.mark.parametrize("index", [77, 289, 303, 326, 64, 74, 398, 31, 61])
def test_framings_the_text_detector_used_to_get_wrong(index: int) -> None:
    """Development images (framing source, seed 1), JPEG-encoded as ``generate`` does.

    77, 289, 303, 326: black text near a vignetted corner, next to a soft field edge whose
    surround-coloured first row the local median spread as background (none found before).
    64, 74, 398: dark text near a rounded shutter's corner, where the surround dragged the
    field's envelopes down (76-93 % of the glyphs before). 31, 61: a circle on white with no
    text, whose edge must not pass for bright text once the field's background is measured
    from field samples only.
    """
    img, mask, truth = framing_source.draw_image(index, seed=1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=92)
    _, record = preprocess_image(np.asarray(Image.open(buf)).copy())
    assert record.image_type == truth.kind
    glyphs = (mask > 0) & box_mask(mask.shape, (truth.crop,))
    if truth.text_boxes:
        assert (glyphs & box_mask(mask.shape, record.text_boxes)).sum() >= 0.98 * glyphs.sum()


# --------------------------------------------------------------------------- record


def test_records_and_files_without_framing_read_as_before(tmp_path: Path) -> None:
    old = PreprocessRecord("margin", (1, 2, 30, 40), (), (50, 60))
    assert (old.surround, old.field_shape) == ("none", "full")
    with (tmp_path / "preprocess.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "image_type", "crop_x0", "crop_y0", "crop_x1", "crop_y1",
                         "text_boxes"])  # fmt: skip
        writer.writerow(["a.jpg", "margin", 1, 2, 30, 40, "[]"])
    (record,) = load_predictions(tmp_path).values()
    assert record.crop == (1, 2, 30, 40) and record.surround == "none"
    new = PreprocessRecord("margin", (1, 2, 30, 40), (), (50, 60), "white", "circular")
    assert new.to_row("b.jpg")["surround"] == "white"
    assert framing_caption(new) == "circular field in a white surround"
    assert framing_caption(old) == "no surround"
