"""Chest augmentation sets and rare-class oversampling, checked on hand-drawn films.

These films are not the project's synthetic generator: a flat grey background with bright
rectangles at known places, so where an object went after a transform can be measured in
the pixels and compared with where its box went.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from core.studies.chest.augment import (
    AUG_SETS,
    INTENSITY_LIMIT,
    MIN_BOX_PX,
    Augmenter,
    Sample,
    check_aug,
    clip_to_region,
    cutmix,
    gentle_clahe,
    geometry,
    mosaic,
    subtract_region,
)
from core.studies.chest.classes import NO_FINDING_ID
from core.studies.chest.fusion import FUSED_COLUMNS, iou_matrix
from core.studies.chest.sampling import (
    REPEAT_THRESHOLD,
    class_image_frequency,
    oversample_weights,
    repeat_indices,
)

SIDE, BACKGROUND = 96, 40


def drawn(rects: list[tuple[int, int, int, int]], levels: list[int], side: int = SIDE) -> Sample:
    """A flat film with each rectangle (xyxy, pixel edges) filled with its level; label k."""
    image = np.full((side, side), BACKGROUND, np.uint8)
    for (x0, y0, x1, y1), level in zip(rects, levels, strict=True):
        image[y0:y1, x0:x1] = level
    return Sample(image, np.array(rects, np.float32).reshape(-1, 4), np.arange(len(rects)))


def extent(mask: np.ndarray) -> np.ndarray:
    """The box (pixel edges) around a mask's pixels."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


def inside(boxes: np.ndarray, side: int = SIDE) -> bool:
    b = np.asarray(boxes).reshape(-1, 4)
    return bool(np.all(b >= 0) and np.all(b <= side) and np.all(b[:, 2:] > b[:, :2]))


def test_the_four_sets_are_cumulative_and_unknown_names_refused() -> None:
    assert AUG_SETS == ("original", "flip-rot-zoom", "+mix", "+oversample")
    assert [check_aug(a) for a in AUG_SETS] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown augmentation set"):
        check_aug("rot90")
    film = drawn([(10, 20, 30, 50)], [220])
    out = Augmenter("original")(film, np.random.default_rng(0))
    assert out is film


def test_horizontal_flip_moves_the_box_exactly_and_keeps_every_grey_level() -> None:
    film = drawn([(10, 20, 31, 50), (60, 5, 90, 12)], [220, 180])
    flip = geometry(flip_p=1.0, affine_p=0.0)
    r = flip(image=film.image, bboxes=film.boxes, labels=film.labels)
    np.testing.assert_array_equal(r["image"], np.fliplr(film.image))
    expected = np.array([[SIDE - 31, 20, SIDE - 10, 50], [SIDE - 90, 5, SIDE - 60, 12]])
    np.testing.assert_allclose(np.asarray(r["bboxes"]), expected, atol=1e-4)
    assert list(r["labels"]) == [0, 1]
    for k, level in enumerate((220, 180)):  # the box is where the object now is
        np.testing.assert_allclose(extent(r["image"] == level), expected[k])


@pytest.mark.parametrize("seed", range(12))
def test_rotation_and_zoom_keep_the_box_on_the_object(seed: int) -> None:
    film = drawn([(30, 25, 60, 70)], [230])
    warp = geometry(flip_p=0.0, affine_p=1.0)
    warp.set_random_seed(seed)
    r = warp(image=film.image, bboxes=film.boxes, labels=film.labels)
    boxes = np.asarray(r["bboxes"]).reshape(-1, 4)
    assert len(boxes) == 1 and list(r["labels"]) == [0] and inside(boxes)
    truth = extent(r["image"] > (BACKGROUND + 230) / 2)  # the object's extent after the warp
    assert iou_matrix(boxes, truth)[0, 0] >= 0.7
    # the box covers the object (largest_box), give or take the interpolated edge pixel
    assert np.all(boxes[0, :2] <= truth[:2] + 1) and np.all(boxes[0, 2:] >= truth[2:] - 1)
    # a 10 % zoom and a 10 degree turn change the object's area by little
    area = np.count_nonzero(r["image"] > (BACKGROUND + 230) / 2)
    assert 0.75 * 30 * 45 <= area <= 1.3 * 30 * 45


def test_a_box_pushed_mostly_out_of_the_film_is_dropped() -> None:
    film = drawn([(0, 40, 3, 60)], [230])  # 3 px wide on the left edge
    warp = geometry(flip_p=0.0, affine_p=1.0)
    kept = []
    for seed in range(30):
        warp.set_random_seed(seed)
        r = warp(image=film.image, bboxes=film.boxes, labels=film.labels)
        boxes = np.asarray(r["bboxes"]).reshape(-1, 4)
        assert inside(boxes)
        assert np.all(boxes[:, 2] - boxes[:, 0] >= MIN_BOX_PX)
        kept.append(len(boxes))
    assert 0 in kept  # zooming in pushes it out at least once, and it is then dropped


def test_subtract_and_clip_trim_at_the_seams_and_drop_slivers() -> None:
    box, lab = np.array([[10, 10, 30, 30]], np.float32), np.array([5])
    b, _ = subtract_region(box, lab, (0, 0, 20, 40))  # covers the left half, top to bottom
    np.testing.assert_allclose(b, [[20, 10, 30, 30]])
    b, _ = subtract_region(box, lab, (0, 11, 20, 40))  # ... all but a 1-px sliver at the top
    np.testing.assert_allclose(b, [[20, 10, 30, 30]])
    b, _ = subtract_region(box, lab, (0, 15, 20, 40))  # a 5-px strip stays: the box too
    np.testing.assert_allclose(b, box)
    b, _ = subtract_region(box, lab, (15, 0, 18, 40))  # a strip through the middle: two pieces
    np.testing.assert_allclose(b, box)
    b, _ = subtract_region(box, lab, (12, 12, 28, 28))  # the middle gone: 36 % left
    np.testing.assert_allclose(b, box)
    assert len(subtract_region(box, lab, (0, 0, 26, 40))[0]) == 0  # 20 % left
    assert len(subtract_region(box, lab, (0, 0, 50, 50))[0]) == 0
    b, lab_out = clip_to_region(box, lab, (0, 0, 24, 40))
    np.testing.assert_allclose(b, [[10, 10, 24, 30]])
    assert list(lab_out) == [5]
    assert len(clip_to_region(box, lab, (0, 0, 14, 40))[0]) == 0  # 20 % of it: a sliver
    assert len(clip_to_region(box, lab, (0, 0, 40, 11))[0]) == 0  # 1 px high
    assert clip_to_region(np.zeros((0, 4)), np.zeros(0), (0, 0, 5, 5))[0].shape == (0, 4)


LEVELS = [120, 160, 200, 240]


def check_boxes_match_content(out: Sample, scale: float) -> None:
    """Every box is the extent of its film's visible object (within a pixel); an object
    that is mostly visible has a box."""
    assert out.image.shape == (SIDE, SIDE) and out.image.dtype == np.uint8
    assert inside(out.boxes) and len(out.boxes) == len(out.labels)
    for k, level in enumerate(LEVELS):
        mask = (np.abs(out.image.astype(int) - level) <= 2).astype(np.uint8)
        # a resized edge of a brighter object can blend to this level too, but only in a
        # line one pixel wide, which an opening removes
        # (2x2 opening; the anchors keep OpenCV's even kernel from shifting it a pixel)
        two = np.ones((2, 2), np.uint8)
        seen = cv2.dilate(cv2.erode(mask, two, anchor=(0, 0)), two, anchor=(1, 1)).astype(bool)
        mine = out.boxes[out.labels == k]
        if len(mine):
            assert len(mine) == 1
            # the object near the box (stray blends elsewhere are another object's edges)
            x0, y0 = np.maximum(np.floor(mine[0, :2]).astype(int) - 3, 0)
            x1, y1 = np.ceil(mine[0, 2:]).astype(int) + 3
            near = np.zeros_like(seen)
            near[y0:y1, x0:x1] = seen[y0:y1, x0:x1]
            assert near.any()
            truth = extent(near)
            assert iou_matrix(mine, truth)[0, 0] >= 0.7
            assert np.all(np.abs(mine[0] - truth) <= 1.5)  # covers it, and tightly
        else:
            _, _, stats, _ = cv2.connectedComponentsWithStats(seen.astype(np.uint8), connectivity=4)
            biggest = stats[1:, cv2.CC_STAT_AREA].max(initial=0)
            assert biggest < 0.5 * 24 * 24 * scale**2, f"object {k} is mostly visible, no box"


def four_films() -> list[Sample]:
    spots = [(8, 8, 32, 32), (60, 10, 84, 34), (12, 58, 36, 82), (56, 56, 80, 80)]
    films = []
    for k, (rect, level) in enumerate(zip(spots, LEVELS, strict=True)):
        s = drawn([rect], [level])
        films.append(Sample(s.image, s.boxes, np.array([k])))
    return films


@pytest.mark.parametrize("seed", range(10))
def test_mosaic_boxes_stay_in_the_film_and_sit_on_the_pasted_objects(seed: int) -> None:
    rng = np.random.default_rng(seed)
    out = mosaic(four_films(), rng)
    check_boxes_match_content(out, scale=0.6)
    assert len(out.boxes) >= 1


@pytest.mark.parametrize("seed", range(10))
def test_cutmix_boxes_stay_in_the_film_and_sit_on_the_pasted_objects(seed: int) -> None:
    films = four_films()
    other = films[3]._replace(image=np.where(films[3].image == BACKGROUND, 70, films[3].image))
    out = cutmix(films[0], other, np.random.default_rng(seed))
    check_boxes_match_content(out, scale=1.0)
    changed = out.image != films[0].image
    # one rectangle was pasted, from the other film at the same place
    x0, y0, x1, y1 = extent(changed).astype(int)
    assert changed.sum() == (x1 - x0) * (y1 - y0) >= 0.1 * SIDE * SIDE - SIDE
    np.testing.assert_array_equal(out.image[y0:y1, x0:x1], other.image[y0:y1, x0:x1])


def test_mosaic_needs_four_films() -> None:
    with pytest.raises(ValueError, match="4 films"):
        mosaic(four_films()[:3], np.random.default_rng(0))


def test_clahe_changes_local_contrast_but_no_pixel_by_more_than_five_percent() -> None:
    ramp = np.tile(np.linspace(30, 200, SIDE), (SIDE, 1))
    image = (ramp + 20 * np.sin(np.arange(SIDE) / 3.0)[:, None]).astype(np.uint8)
    image[30:60, 30:60] += 40
    out = gentle_clahe(image)
    delta = np.abs(out.astype(int) - image)
    assert delta.max() <= INTENSITY_LIMIT * 255
    assert delta.max() >= 5 and out.dtype == np.uint8  # it does something
    assert abs(out.mean() - image.mean()) <= INTENSITY_LIMIT * 255


def test_flip_rot_zoom_never_changes_intensity() -> None:
    film = drawn([(30, 25, 60, 70)], [230])
    for seed in range(6):
        out = Augmenter("flip-rot-zoom")(film, np.random.default_rng(seed))
        inner = out.image[20:-20, 20:-20]  # away from any replicated border
        assert set(np.unique(inner)) <= set(range(BACKGROUND, 231))
        assert out.image.max() <= 230 and out.image.min() >= BACKGROUND


def test_mix_sets_use_the_other_films_and_are_deterministic_per_generator() -> None:
    films = four_films()
    calls: list[int] = []

    def others(k: int) -> list[Sample]:
        calls.append(k)
        return films[1 : 1 + k]

    aug = Augmenter("+mix")
    runs = [aug(films[0], np.random.default_rng(s), others) for s in range(40)]
    assert 3 in calls and 1 in calls  # both mosaic and cutmix ran
    again = [aug(films[0], np.random.default_rng(s), others) for s in range(40)]
    for a, b in zip(runs, again, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.boxes, b.boxes)
    assert all(inside(r.boxes) for r in runs)


def fused_table(labels_per_image: list[list[int]]) -> pd.DataFrame:
    rows = []
    for n, classes in enumerate(labels_per_image):
        for c in classes or [NO_FINDING_ID]:
            box = (0, 0, 1, 1) if c == NO_FINDING_ID else (10, 10, 50, 50)
            rows.append((f"im{n}", c, "x", 1.0, *box, 3))
    return pd.DataFrame(rows, columns=list(FUSED_COLUMNS))


def test_oversample_weights_put_rare_classes_up_and_leave_normals_at_one() -> None:
    # 100 films: 60 normal, 35 with class 0 only, 5 with the rare class 12 (2 also with 0)
    labels = [[]] * 60 + [[0]] * 35 + [[12, 0]] * 2 + [[12]] * 3
    fused = fused_table(labels)
    ids = [f"im{n}" for n in range(100)]
    freq = class_image_frequency(fused, ids)
    assert freq[0] == pytest.approx(0.37) and freq[12] == pytest.approx(0.05)
    w = oversample_weights(fused, ids)
    rare = np.sqrt(REPEAT_THRESHOLD / 0.05)
    np.testing.assert_allclose(w[:95], 1.0)  # normals and the common class: never changed
    np.testing.assert_allclose(w[95:], rare)  # a film with a rare class takes its factor
    assert rare > 1.4
    # an id with no fused row is a normal film
    assert oversample_weights(fused, [*ids, "stray"])[-1] == 1.0
    with pytest.raises(ValueError, match="threshold"):
        oversample_weights(fused, ids, threshold=0)


def test_repeat_indices_follow_the_factors_and_the_seed() -> None:
    w = np.array([1.0, 1.0, 2.5, 4.0])
    a = repeat_indices(w, np.random.default_rng(3))
    np.testing.assert_array_equal(a, repeat_indices(w, np.random.default_rng(3)))
    counts = np.mean(
        [np.bincount(repeat_indices(w, np.random.default_rng(e)), minlength=4) for e in range(400)],
        axis=0,
    )
    np.testing.assert_allclose(counts, w, atol=0.1)
    with pytest.raises(ValueError):
        repeat_indices(np.array([1.0, -1.0]), np.random.default_rng(0))
