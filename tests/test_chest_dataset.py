"""Chest training data: the film cache, the detector and classifier datasets, collate.

Two sources: the project's synthetic DICOM cohort (the real intake path, three readers,
fused), and hand-drawn PNG copies with a ``sizes.csv`` and bright rectangles at known
places, where how a box must scale can be worked out by hand.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from core.studies.chest.augment import AUG_SETS
from core.studies.chest.classes import ALL_LABELS, NO_FINDING_ID, TRAIN_COLUMNS
from core.studies.chest.dataset import (
    ChestClassifySet,
    ChestDetectionSet,
    FilmCache,
    collate,
    load_training_films,
)
from core.studies.chest.fusion import fuse_readers, iou_matrix
from core.studies.chest.layout import read_vinbigdata
from core.studies.chest.synth import generate_chest_cohort

SIDE = 64
#: Hand-drawn films: 64x48 PNG copies of 640x480 originals; a rectangle per film in copy
#: pixels (None: a normal film) and its class.
DRAWN = {"d0": ((16, 12, 40, 36), 3), "d1": ((40, 6, 60, 30), 12), "d2": (None, NO_FINDING_ID)}
COPY, ORIGINAL = (64, 48), (640, 480)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, list[str]]:
    folder = generate_chest_cohort(tmp_path_factory.mktemp("cx") / "c", 10, 5, size=256, workers=1)
    annotations = read_vinbigdata(folder)
    return folder, fuse_readers(annotations), [str(i) for i in annotations.image_ids]


@pytest.fixture(scope="module")
def synth_films(synth: tuple[Path, pd.DataFrame, list[str]]) -> FilmCache:
    folder, _, ids = synth
    return load_training_films(folder, ids, SIDE, progress=False)


def write_drawn(folder: Path, corrupt: bool = True) -> Path:
    """PNG copies, sizes.csv and train.csv (three readers agreeing), plus a corrupt PNG."""
    folder.mkdir(parents=True)
    rows, sizes = [], []
    scale = np.array([ORIGINAL[0] / COPY[0], ORIGINAL[1] / COPY[1]] * 2)
    for key, (rect, cls) in DRAWN.items():
        image = np.full(COPY[::-1], 50, np.uint8)
        if rect is not None:
            x0, y0, x1, y1 = rect
            image[y0:y1, x0:x1] = 230
        assert cv2.imwrite(str(folder / f"{key}.png"), image)
        sizes.append((key, *ORIGINAL))
        box = (None,) * 4 if rect is None else tuple(np.array(rect) * scale)
        rows += [(key, ALL_LABELS[cls], cls, f"R{r}", *box) for r in (1, 2, 3)]
    if corrupt:
        (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(folder / "train.csv", index=False)
    pd.DataFrame(sizes, columns=["image_id", "width", "height"]).to_csv(
        folder / "sizes.csv", index=False
    )
    return folder


def test_a_corrupt_or_missing_film_is_skipped_with_a_reason_and_the_rest_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_drawn(tmp_path / "d")
    with caplog.at_level(logging.WARNING, logger="core.studies.chest.dataset"):
        films = load_training_films(folder, ["d0", "bad", "d1", "gone", "d2"], 32, progress=False)
    assert films.image_ids == ["d0", "d1", "d2"] and len(films) == 3
    assert films.pixels.shape == (3, 32, 32) and films.pixels.dtype == np.uint8
    assert set(films.problems) == {"bad", "gone"}
    assert "bad.png" in films.problems["bad"] and "gone" in films.problems["gone"]
    skipped = [r.getMessage() for r in caplog.records if "skipped film" in r.getMessage()]
    assert len(skipped) == 2 and all("\n" not in m for m in skipped)
    fused = fuse_readers(read_vinbigdata(folder))
    with caplog.at_level(logging.WARNING):
        ds = ChestDetectionSet(films, fused, ["d0", "bad", "d1", "d2"])
    assert ds.image_ids == ["d0", "d1", "d2"]
    assert "not in the film cache" in caplog.text


def test_a_png_copy_without_its_original_size_is_skipped(tmp_path: Path) -> None:
    folder = write_drawn(tmp_path / "d", corrupt=False)
    sizes = pd.read_csv(folder / "sizes.csv")
    sizes[sizes["image_id"] != "d1"].to_csv(folder / "sizes.csv", index=False)
    films = load_training_films(folder, list(DRAWN), 32, progress=False)
    assert "d1" not in films and "no original size" in films.problems["d1"]
    # sizes given by the caller win over the folder's
    films = load_training_films(folder, list(DRAWN), 32, sizes={k: ORIGINAL for k in DRAWN})
    assert len(films) == 3 and films.sizes["d1"] == ORIGINAL


def test_films_are_squashed_to_a_square_and_boxes_scale_per_axis(tmp_path: Path) -> None:
    folder = write_drawn(tmp_path / "d")
    annotations = read_vinbigdata(folder)
    fused = fuse_readers(annotations)
    films = load_training_films(folder, list(DRAWN), 32, sizes=annotations.sizes, progress=False)
    assert films.sizes["d0"] == ORIGINAL
    assert films.scale("d0") == pytest.approx((32 / 640, 32 / 480))
    ds = ChestDetectionSet(films, fused, list(DRAWN))
    for n, (key, (rect, cls)) in enumerate(DRAWN.items()):
        item = ds[n]
        assert item["image_id"] == key and item["image"].shape == (1, 32, 32)
        if rect is None:
            assert item["boxes"].shape == (0, 4) and item["labels"].shape == (0,)
            assert item["abnormal"] == 0.0
            continue
        expected = np.array(rect) * [32 / 64, 32 / 48, 32 / 64, 32 / 48]
        np.testing.assert_allclose(item["boxes"].numpy(), [expected], atol=1e-3)
        assert item["labels"].tolist() == [cls] and item["abnormal"] == 1.0
        bright = (item["image"][0].numpy() > 0.6).astype(np.uint8)
        ys, xs = np.nonzero(bright)
        seen = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert iou_matrix(item["boxes"].numpy(), seen)[0, 0] >= 0.85
    with pytest.raises(ValueError, match="side"):
        load_training_films(folder, list(DRAWN), 4)


@pytest.mark.parametrize("aug", AUG_SETS)
def test_detection_items_have_the_detector_format(
    synth: tuple[Path, pd.DataFrame, list[str]], synth_films: FilmCache, aug: str
) -> None:
    _, fused, ids = synth
    ds = ChestDetectionSet(synth_films, fused, ids, aug, seed=3)
    abnormal = {i for i in ids if (fused[fused.image_id == i].class_id != NO_FINDING_ID).any()}
    assert 0 < len(abnormal) < len(ids)
    for n in range(len(ds)):
        item = ds[n]
        image, boxes, labels = item["image"], item["boxes"], item["labels"]
        assert image.dtype == torch.float32 and image.shape == (1, SIDE, SIDE)
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        assert boxes.dtype == torch.float32 and boxes.shape == (len(labels), 4)
        assert labels.dtype == torch.int64 and bool(((labels >= 0) & (labels <= 13)).all())
        assert bool((boxes >= 0).all() and (boxes <= SIDE).all())
        assert bool((boxes[:, 2:] > boxes[:, :2]).all())
        assert item["abnormal"] == float(item["image_id"] in abnormal)
        if aug == "original":
            rows = fused[(fused.image_id == item["image_id"]) & (fused.class_id != NO_FINDING_ID)]
            sx, sy = synth_films.scale(item["image_id"])
            want = rows[["x_min", "y_min", "x_max", "y_max"]].to_numpy() * [sx, sy, sx, sy]
            np.testing.assert_allclose(boxes.numpy(), want, rtol=1e-5, atol=1e-3)
    if aug == "+oversample":
        assert ds.sample_weights is not None and len(ds.sample_weights) == len(ds)
        assert np.all(ds.sample_weights >= 1.0)
    else:
        assert ds.sample_weights is None
    images, targets, meta = collate([ds[0], ds[1], ds[2]])
    assert images.shape == (3, 1, SIDE, SIDE)
    assert [set(t) for t in targets] == [{"boxes", "labels"}] * 3
    assert [m["image_id"] for m in meta] == ds.image_ids[:3]


def _items(ds: ChestDetectionSet) -> list[dict]:
    return [ds[n] for n in range(len(ds))]


def _same(a: list[dict], b: list[dict]) -> bool:
    return all(
        torch.equal(x["image"], y["image"]) and torch.equal(x["boxes"], y["boxes"])
        for x, y in zip(a, b, strict=True)
    )


def test_augmentation_is_fixed_by_seed_epoch_and_index(
    synth: tuple[Path, pd.DataFrame, list[str]], synth_films: FilmCache
) -> None:
    _, fused, ids = synth
    one, two = (ChestDetectionSet(synth_films, fused, ids, "+mix", seed=7) for _ in range(2))
    epoch0 = _items(one)
    assert _same(epoch0, _items(two))  # another instance (another DDP rank): the same
    one.set_epoch(1)
    epoch1 = _items(one)
    assert not _same(epoch0, epoch1)
    two.set_epoch(1)
    assert _same(epoch1, _items(two)) and two.epoch == 1
    one.set_epoch(0)
    assert _same(epoch0, _items(one))  # a resumed run at epoch 0 sees epoch 0 again
    other_seed = ChestDetectionSet(synth_films, fused, ids, "+mix", seed=8)
    assert not _same(epoch0, _items(other_seed))
    with pytest.raises(ValueError):
        one.set_epoch(-1)


def test_set_epoch_reaches_persistent_dataloader_workers(
    synth: tuple[Path, pd.DataFrame, list[str]], synth_films: FilmCache
) -> None:
    _, fused, ids = synth
    ds = ChestDetectionSet(synth_films, fused, ids[:4], "flip-rot-zoom", seed=1)
    loader = DataLoader(
        ds, batch_size=4, num_workers=1, persistent_workers=True, collate_fn=collate
    )
    seen = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        seen.append(next(iter(loader))[0])
    ds.set_epoch(1)
    expected = torch.stack([ds[n]["image"] for n in range(4)])
    assert torch.equal(seen[1], expected) and not torch.equal(seen[0], seen[1])


def test_classifier_items_and_its_own_side(
    synth: tuple[Path, pd.DataFrame, list[str]], synth_films: FilmCache
) -> None:
    _, fused, ids = synth
    same = ChestClassifySet(synth_films, fused, ids)
    image, label = same[0]
    assert image.shape == (1, SIDE, SIDE) and label.dtype == torch.float32 and label.shape == ()
    expected = [float((fused[fused.image_id == i].class_id != NO_FINDING_ID).any()) for i in ids]
    assert same.labels.tolist() == expected
    small = ChestClassifySet(synth_films, fused, ids, "+mix", 2, side=32)  # aug, seed positional
    image, _ = small[0]
    assert image.shape == (1, 32, 32) and 0.0 <= float(image.min()) <= float(image.max()) <= 1.0
    batch = next(iter(DataLoader(small, batch_size=4)))
    assert batch[0].shape == (4, 1, 32, 32) and batch[1].shape == (4,)
    with pytest.raises(ValueError, match="augmentation"):
        ChestClassifySet(synth_films, fused, ids, "rot90")
