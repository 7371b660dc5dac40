"""What every chest detector family shares: the input, target and output contract.

Every family (torchvision Faster R-CNN and FCOS, effdet EfficientDet, YOLOX) is wrapped
to the torchvision detection contract, so one training loop, DDP and one evaluation path
serve them all:

* ``images``: a float tensor ``[B, 1, H, W]`` in ``[0, 1]`` at the spec's input size (or a
  list of ``[1, H, W]`` tensors of that size). The module normalises (spec mean/std) and
  pads internally as its family needs; it never resizes, so boxes stay in input pixels.
* train mode: ``model(images, targets)`` with ``targets[i] = {"boxes": (n, 4) float xyxy in
  input pixels, "labels": (n,) int64 class ids 0..13}`` (``n`` may be 0: a normal film)
  returns a dict of scalar loss tensors whose sum is the total loss.
* eval mode: ``model(images)`` returns one dict per image, ``{"boxes", "scores",
  "labels"}``, sorted by score, at most :data:`MAX_DETECTIONS`, scores down to
  :data:`SCORE_FLOOR` (the VinBigData mAP gains from many low-score boxes and never
  loses by them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import batched_nms, clip_boxes_to_image

__all__ = [
    "MAX_DETECTIONS",
    "NMS_IOU",
    "SCORE_FLOOR",
    "Detections",
    "DetectorContractError",
    "Targets",
    "check_targets",
    "finish_detections",
    "multilabel_nms",
    "normalise",
    "pad_to_multiple",
    "per_channel",
    "stack_images",
]

#: Most boxes returned per image (the competition's submissions keep 100 or fewer).
MAX_DETECTIONS = 100
#: Lowest score returned: low enough for mAP, high enough to drop the padding of effdet.
SCORE_FLOOR = 0.001
#: Per-class NMS IoU of the one-stage families' post-processing.
NMS_IOU = 0.5

Detections = list[dict[str, Tensor]]
Targets = Sequence[Mapping[str, Tensor]]


class DetectorContractError(ValueError):
    """Images or targets that do not follow the detector contract (the message says how)."""


def stack_images(images: Tensor | Sequence[Tensor], in_chans: int = 1) -> Tensor:
    """``[B, C, H, W]`` float from a batch tensor or a list of equal-size ``[C, H, W]``."""
    if isinstance(images, Tensor):
        batch = images
    else:
        if not images:
            raise DetectorContractError("no images")
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) != 1:
            raise DetectorContractError(f"images of different sizes {sorted(shapes)}: resize first")
        batch = torch.stack(list(images))
    if batch.ndim != 4 or batch.shape[1] != in_chans:
        raise DetectorContractError(
            f"images must be [B, {in_chans}, H, W], got {tuple(batch.shape)}"
        )
    if not batch.is_floating_point():
        raise DetectorContractError(f"images must be float in [0, 1], got {batch.dtype}")
    return batch


def check_targets(targets: Targets | None, batch: int, num_classes: int) -> list[dict[str, Tensor]]:
    """The targets of a training batch, checked: one dict per image, ``(n, 4)`` boxes and
    ``(n,)`` int64 labels in ``0..num_classes-1``; ``n = 0`` is a film without findings."""
    if targets is None:
        raise DetectorContractError("train mode needs targets (call model.eval() to predict)")
    if len(targets) != batch:
        raise DetectorContractError(f"{len(targets)} targets for {batch} images")
    out = []
    for i, t in enumerate(targets):
        boxes, labels = t["boxes"], t["labels"]
        if boxes.ndim != 2 or boxes.shape[1] != 4 or labels.shape != (boxes.shape[0],):
            raise DetectorContractError(
                f"target {i}: boxes {tuple(boxes.shape)} / labels {tuple(labels.shape)} "
                "must be (n, 4) / (n,)"
            )
        labels = labels.to(torch.int64)
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise DetectorContractError(f"target {i}: labels must be 0..{num_classes - 1}")
        boxes = boxes.to(torch.float32)
        if boxes.numel() and not bool((boxes[:, 2:] > boxes[:, :2]).all()):
            raise DetectorContractError(f"target {i}: boxes must be xyxy with positive size")
        out.append({"boxes": boxes, "labels": labels})
    return out


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Zero-pad right and bottom to a multiple of ``multiple`` (feature pyramids need it);
    the top-left origin is kept, so boxes need no shift."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


def per_channel(values: Sequence[float], chans: int) -> list[float]:
    """A spec's mean or std for each of ``chans`` channels (one value serves them all)."""
    return list(values) * chans if len(values) == 1 else list(values)


def normalise(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """``(x - mean) / std`` per channel; ``mean``/``std`` are ``[C]`` buffers."""
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def finish_detections(
    boxes: Tensor, scores: Tensor, labels: Tensor, size: tuple[int, int],
    *, max_det: int = MAX_DETECTIONS, floor: float = SCORE_FLOOR,
) -> dict[str, Tensor]:  # fmt: skip
    """One image's output: clipped to ``size = (H, W)``, empty boxes and scores under the
    floor dropped, sorted by score, at most ``max_det``."""
    boxes = clip_boxes_to_image(boxes.reshape(-1, 4), size)
    keep = (scores >= floor) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    order = torch.argsort(scores, descending=True)[:max_det]
    return {
        "boxes": boxes[order].float(),
        "scores": scores[order].float(),
        "labels": labels[order].to(torch.int64),
    }


def multilabel_nms(
    boxes: Tensor, scores: Tensor, size: tuple[int, int],
    *, pre_nms: int = 1000, iou: float = NMS_IOU, max_det: int = MAX_DETECTIONS,
    floor: float = SCORE_FLOOR,
) -> dict[str, Tensor]:  # fmt: skip
    """Per-class NMS over ``boxes [A, 4]`` with class scores ``[A, C]``: a box may stand for
    several classes (the readers often disagree), as in torchvision's one-stage heads."""
    flat = scores.flatten()
    k = min(pre_nms, flat.numel())
    top, idx = flat.topk(k)
    keep = top >= floor
    top, idx = top[keep], idx[keep]
    anchor, label = idx // scores.shape[1], idx % scores.shape[1]
    cand = clip_boxes_to_image(boxes[anchor], size)
    kept = batched_nms(cand, top, label, iou)
    return finish_detections(cand[kept], top[kept], label[kept], size, max_det=max_det, floor=floor)
