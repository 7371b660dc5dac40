"""WBF ensembling of chest detectors on hand-built boxes: averages computed by hand,
classes kept apart, weights, empty members, pixel <-> [0, 1] and the settings' checks."""

from __future__ import annotations

import numpy as np
import pytest

from core.studies.chest.ensemble import (
    DEFAULT_ENSEMBLE,
    EnsembleError,
    EnsembleSettings,
    fuse_members,
)
from core.studies.chest.fusion import FusionError, FusionSettings, fuse_boxes

SIZE = (1000, 500)  # width, height
A = np.array([100.0, 50.0, 500.0, 250.0])  # [0.1, 0.1, 0.5, 0.5] normalised
B = np.array([120.0, 60.0, 520.0, 260.0])  # [0.12, 0.12, 0.52, 0.52]; IoU with A 0.82
EMPTY = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int))
PX = 1e-3  # ensemble-boxes averages in float32


def _member(box: np.ndarray, score: float, label: int) -> tuple:
    return np.array([box]), np.array([score]), np.array([label])


def test_two_members_average_into_one_box() -> None:
    boxes, scores, labels = fuse_members([_member(A, 0.8, 3), _member(B, 0.4, 3)], SIZE)
    # coordinates weighted by score: (0.8 A + 0.4 B) / 1.2 = A + (B - A) / 3;
    # "avg" score: (0.8 + 0.4) / 2 members
    np.testing.assert_allclose(boxes, [A + (B - A) / 3], atol=PX)
    np.testing.assert_allclose(boxes, [[106.6667, 53.3333, 506.6667, 253.3333]], atol=PX)
    np.testing.assert_allclose(scores, [0.6], atol=1e-6)
    assert labels.tolist() == [3] and labels.dtype.kind == "i"


def test_weights_shift_the_average() -> None:
    settings = EnsembleSettings(weights=(3.0, 1.0))
    boxes, scores, _ = fuse_members([_member(A, 0.8, 3), _member(B, 0.4, 3)], SIZE, settings)
    # (3 * 0.8 A + 1 * 0.4 B) / 2.8 = A + (B - A) / 7; score (3 * 0.8 + 1 * 0.4) / (3 + 1)
    np.testing.assert_allclose(boxes, [A + (B - A) / 7], atol=PX)
    np.testing.assert_allclose(scores, [0.7], atol=1e-6)


def test_different_classes_do_not_fuse() -> None:
    boxes, scores, labels = fuse_members([_member(A, 0.8, 3), _member(B, 0.4, 5)], SIZE)
    # each box alone, its score over both members' weight: 0.8 / 2 and 0.4 / 2
    assert labels.tolist() == [3, 5]
    np.testing.assert_allclose(boxes, [A, B], atol=PX)
    np.testing.assert_allclose(scores, [0.4, 0.2], atol=1e-6)


def test_empty_members() -> None:
    boxes, scores, labels = fuse_members([EMPTY, EMPTY], SIZE)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and labels.shape == (0,)
    boxes, scores, labels = fuse_members([EMPTY, _member(A, 0.8, 3)], SIZE)
    np.testing.assert_allclose(boxes, [A], atol=PX)
    np.testing.assert_allclose(scores, [0.4], atol=1e-6)  # the member that saw nothing counts
    with pytest.raises(EnsembleError, match="no members"):
        fuse_members([], SIZE)


def test_pixels_round_trip_through_normalised_coordinates() -> None:
    box = np.array([[37.0, 11.0, 401.0, 287.0], [500.0, 300.0, 639.0, 479.0]])
    boxes, scores, labels = fuse_members([(box, [0.9, 0.3], [1, 2])], (640, 480))
    np.testing.assert_allclose(boxes, box, atol=PX)
    np.testing.assert_allclose(scores, [0.9, 0.3], atol=1e-6)
    assert labels.tolist() == [1, 2]


def test_boxes_are_clipped_and_boxes_without_area_dropped() -> None:
    box = np.array([[-10.0, -10.0, 100.0, 100.0], [700.0, 10.0, 800.0, 50.0],
                    [50.0, 60.0, 50.0, 90.0]])  # fmt: skip
    boxes, scores, _ = fuse_members([(box, [0.9, 0.8, 0.7], [0, 0, 0])], (640, 480))
    np.testing.assert_allclose(boxes, [[0.0, 0.0, 100.0, 100.0]], atol=PX)
    np.testing.assert_allclose(scores, [0.9], atol=1e-6)


def test_results_are_ranked_by_score() -> None:
    far = np.array([700.0, 300.0, 900.0, 450.0])
    members = [(np.array([A, far]), np.array([0.2, 0.9]), np.array([3, 3]))]
    _, scores, _ = fuse_members(members, SIZE)
    assert scores.tolist() == sorted(scores.tolist(), reverse=True)


@pytest.mark.parametrize(
    ("member", "message"),
    [((np.array([A]), [0.5], [14]), "finding classes"),
     ((np.array([A]), [0.5, 0.2], [3]), "differ"),
     ((np.array([[np.nan, 0, 1, 1]]), [0.5], [3]), "finite"),
     ((np.array([A]), [1.5], [3]), "scores must be in")],
)  # fmt: skip
def test_bad_members_are_refused(member: tuple, message: str) -> None:
    with pytest.raises(EnsembleError, match=message):
        fuse_members([member], SIZE)


def test_settings_are_checked_and_round_trip() -> None:
    assert (DEFAULT_ENSEMBLE.iou_thr, DEFAULT_ENSEMBLE.skip_box_thr) == (0.4, 1e-4)
    s = EnsembleSettings(iou_thr=0.33, weights=[2, 1])  # type: ignore[arg-type]
    assert s.weights == (2.0, 1.0) and EnsembleSettings.from_dict(s.to_dict()) == s
    assert s.to_dict()["weights"] == [2.0, 1.0]
    bad = [
        ({"iou_thr": 1.5}, "iou_thr"), ({"skip_box_thr": 1.0}, "skip_box_thr"),
        ({"conf_type": "median"}, "conf_type"), ({"weights": [1, -1]}, "positive"),
        ({"weights": []}, "positive"), ({"weights": "11"}, "list of numbers"),
        ({"iou": 0.4}, "unknown ensemble fields"), ({"iou_thr": "0.4"}, "number"),
    ]  # fmt: skip
    for data, message in bad:
        with pytest.raises(EnsembleError, match=message):
            EnsembleSettings.from_dict(data)
    with pytest.raises(EnsembleError, match="3 weights for 2 members"):
        fuse_members([EMPTY, EMPTY], SIZE, EnsembleSettings(weights=(1, 1, 1)))
    with pytest.raises(EnsembleError, match="size"):
        fuse_members([EMPTY], (0, 500))


def test_fuse_boxes_weights_stay_optional_and_checked() -> None:
    norm = [np.array([[0.1, 0.1, 0.5, 0.5]]), np.array([[0.12, 0.12, 0.52, 0.52]])]
    scores, labels = [np.array([0.8]), np.array([0.4])], [np.array([3]), np.array([3])]
    plain = fuse_boxes(norm, scores, labels)  # unchanged call, default WBF
    np.testing.assert_allclose(plain[1], [0.6], atol=1e-6)
    with pytest.raises(FusionError, match="weights"):
        fuse_boxes(norm, scores, labels, weights=[1.0])
    with pytest.raises(FusionError, match="no weights"):
        fuse_boxes(norm, scores, labels, FusionSettings("union"), weights=[1.0, 1.0])
    kept = fuse_boxes(norm, scores, labels, FusionSettings("nms", 0.4), weights=[1.0, 3.0])
    np.testing.assert_allclose(kept[1], [0.4 * 3 / 4], atol=1e-6)  # B's score x 3/4 wins
