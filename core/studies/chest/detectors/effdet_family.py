"""EfficientDet (the ``effdet`` package, 0.4.1) under the chest detector contract.

:class:`ChestEfficientDet` *is* an ``effdet.EfficientDet`` (so its state-dict names are
effdet's: ``backbone.*``, ``fpn.*``, ``class_net.*``, ``box_net.*``, and a local COCO or
ImageNet file maps onto it by name) with the two benches folded in:

* training follows ``DetBenchTrain(create_labeler=True)``: targets go through effdet's
  ``AnchorLabeler`` (yxyx boxes, classes 1-based, -1 padding) into its ``DetectionLoss``;
* inference follows ``DetBenchPredict``: the top 5000 (anchor, class) scores, per-class
  NMS at IoU 0.5, the best 100, with boxes decoded by effdet's ``decode_box_outputs``.

Unlike the benches, the anchors are a *non-persistent* buffer, so the state dict holds
only the network's weights and rebuilds from the spec alone; they follow ``.to(device)``.
Inputs are padded (bottom/right) to a multiple of ``2 ** max_level`` (128 for D0), which
the BiFPN needs, and the config's ``image_size`` is that padded side. The backbone gets
``in_chans`` from the spec (timm adapts nothing: it is built from scratch, never with
pretrained weights; ``pretrained_backbone=False``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from core.models.registry import ModelSpec
from core.studies.chest.detectors.base import (
    Detections,
    DetectorContractError,
    Targets,
    check_targets,
    multilabel_nms,
    normalise,
    pad_to_multiple,
    per_channel,
    stack_images,
)

with warnings.catch_warnings():  # effdet.bench scripts a function at import (deprecated)
    warnings.simplefilter("ignore", FutureWarning)
    from effdet import EfficientDet, get_efficientdet_config
    from effdet.anchors import AnchorLabeler, Anchors, decode_box_outputs
    from effdet.loss import DetectionLoss

__all__ = ["EFFDET_ARCHS", "ChestEfficientDet", "build_effdet"]

#: Spec architecture -> effdet model name. D0 is the smallest EfficientDet with the
#: original BiFPN; "lite0" trades accuracy for a cheaper (ReLU6, no-SE) backbone.
EFFDET_ARCHS: dict[str, str] = {
    "effdet:efficientdet_d0": "efficientdet_d0",
    "effdet:tf_efficientdet_lite0": "tf_efficientdet_lite0",
}
#: DetBenchPredict's candidate count before NMS.
_PRE_NMS = 5000
#: Largest log-scale box size change decoded, as torchvision clamps (an untrained head
#: would otherwise give infinite boxes).
_MAX_LOG_SCALE = math.log(1000.0 / 16)


class ChestEfficientDet(EfficientDet):  # type: ignore[misc]
    """EfficientDet with the chest contract; see the module docstring."""

    def __init__(self, spec: ModelSpec, name: str) -> None:
        config = get_efficientdet_config(name)
        self.multiple = 2**config.max_level
        side = max(spec.input.size)
        padded = side + (-side) % self.multiple
        config.num_classes = spec.num_outputs
        config.image_size = (padded, padded)
        config.backbone_args = {**config.backbone_args, "in_chans": spec.input.in_chans}
        super().__init__(config, pretrained_backbone=False)
        anchors = Anchors.from_config(config)
        anchors.register_buffer("boxes", anchors.boxes, persistent=False)  # not a weight
        self.anchors = anchors
        self.labeler = AnchorLabeler(anchors, config.num_classes, match_threshold=0.5)
        self.loss_fn = DetectionLoss(config)
        chans = spec.input.in_chans
        mean, std = per_channel(spec.input.mean, chans), per_channel(spec.input.std, chans)
        self.register_buffer("pixel_mean", torch.tensor(mean), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std), persistent=False)
        self.in_chans, self.num_labels = chans, spec.num_outputs

    def _effdet_targets(self, targets: list[dict[str, Tensor]]) -> tuple[Tensor, Tensor]:
        """Padded ``[B, n, 4]`` yxyx boxes and ``[B, n]`` 1-based classes (-1 = padding)."""
        n = max(1, max(len(t["boxes"]) for t in targets))
        device = self.anchors.boxes.device
        bbox = torch.full((len(targets), n, 4), -1.0, device=device)
        cls = torch.full((len(targets), n), -1, dtype=torch.int64, device=device)
        for i, t in enumerate(targets):
            k = len(t["boxes"])
            bbox[i, :k] = t["boxes"].to(device)[:, [1, 0, 3, 2]]
            cls[i, :k] = t["labels"].to(device) + 1
        return bbox, cls

    def forward(  # type: ignore[override]
        self, images: Tensor | Sequence[Tensor], targets: Targets | None = None
    ) -> dict[str, Tensor] | Detections:
        batch = stack_images(images, self.in_chans)
        size = (int(batch.shape[-2]), int(batch.shape[-1]))
        x = normalise(pad_to_multiple(batch, self.multiple), self.pixel_mean, self.pixel_std)
        if tuple(x.shape[-2:]) != tuple(self.config.image_size):
            raise DetectorContractError(
                f"input {size} pads to {tuple(x.shape[-2:])}, but this EfficientDet was built "
                f"for {tuple(self.config.image_size)}: give images at the spec's size"
            )
        checked = check_targets(targets, len(batch), self.num_labels) if self.training else []
        class_out, box_out = super().forward(x)
        if self.training:
            cls_t, box_t, positives = self.labeler.batch_label_anchors(
                *self._effdet_targets(checked)
            )
            total, class_loss, _ = self.loss_fn(class_out, box_out, cls_t, box_t, positives)
            return {"class_loss": class_loss, "box_loss": total - class_loss}
        return self._detect(class_out, box_out, size)

    def _detect(
        self, class_out: list[Tensor], box_out: list[Tensor], size: tuple[int, int]
    ) -> Detections:
        b, c = class_out[0].shape[0], self.num_labels
        scores = torch.cat([o.permute(0, 2, 3, 1).reshape(b, -1, c) for o in class_out], 1)
        codes = torch.cat([o.permute(0, 2, 3, 1).reshape(b, -1, 4) for o in box_out], 1)
        anchors = self.anchors.boxes.to(codes.dtype)
        out = []
        for i in range(b):
            rel = codes[i].float()
            rel = torch.cat([rel[:, :2], rel[:, 2:].clamp(max=_MAX_LOG_SCALE)], dim=1)
            boxes = decode_box_outputs(rel, anchors.float(), output_xyxy=True)
            out.append(multilabel_nms(boxes, scores[i].float().sigmoid(), size, pre_nms=_PRE_NMS))
        return out


def build_effdet(spec: ModelSpec) -> nn.Module:
    """Builder for the :data:`EFFDET_ARCHS` architectures (no ``arch_kwargs``)."""
    return ChestEfficientDet(spec, EFFDET_ARCHS[spec.arch])
