"""YOLOX (the ``yolox`` package, 0.3.0) under the chest detector contract.

:class:`ChestYOLOX` *is* a ``yolox.models.YOLOX`` (state-dict names ``backbone.*`` and
``head.*``, as in the released COCO checkpoints), built from a named size (depth and
width multipliers of the YOLOX model zoo) and changed only where the chest contract needs:

* a one-channel ``Focus`` stem (grey films; a COCO stem is summed over RGB on loading);
* YOLOX's own training initialisation (BatchNorm eps 1e-3 / momentum 0.03, class and
  objectness bias prior 0.01), which its ``Exp`` applies outside the model;
* targets become YOLOX's ``[B, n, 5]`` rows ``(class, cx, cy, w, h)`` (zero rows pad), its
  loss terms are returned as they sum (the IoU term already carries its weight of 5);
* inference decodes the head (objectness x class score per class), then per-class NMS and
  the best 100, like the other one-stage families.

Inputs are padded bottom/right to a multiple of 32 (the largest stride). The spec's
mean/std are applied inside; the registry entry uses mean 0 / std 1/255, the 0-255 scale
the released COCO weights of YOLOX 0.3.0 were trained on.

Needs the ``yolox`` package, built from its source distribution against the installed
torch (``docs/yolox.md``); the registry lists ``chest_yolox`` only where it is installed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

with warnings.catch_warnings():  # thop (imported by yolox.utils) uses distutils versions
    warnings.simplefilter("ignore", DeprecationWarning)
    from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead
    from yolox.models.network_blocks import Focus

from core.models.registry import ModelSpec
from core.studies.chest.detectors.base import (
    Detections,
    Targets,
    check_targets,
    multilabel_nms,
    normalise,
    pad_to_multiple,
    per_channel,
    stack_images,
)

__all__ = ["YOLOX_ARCHS", "ChestYOLOX", "build_yolox"]

#: Spec architecture -> (depth multiplier, width multiplier, depthwise convolutions), the
#: YOLOX model zoo's sizes.
YOLOX_ARCHS: dict[str, tuple[float, float, bool]] = {
    "yolox:yolox_nano": (0.33, 0.25, True),
    "yolox:yolox_tiny": (0.33, 0.375, False),
    "yolox:yolox_s": (0.33, 0.50, False),
}
_STRIDE = 32
_IN_CHANNELS = [256, 512, 1024]


class ChestYOLOX(YOLOX):  # type: ignore[misc]
    """YOLOX with the chest contract; see the module docstring."""

    def __init__(self, spec: ModelSpec, depth: float, width: float, depthwise: bool) -> None:
        backbone = YOLOPAFPN(depth, width, in_channels=_IN_CHANNELS, depthwise=depthwise)
        head = YOLOXHead(spec.num_outputs, width, in_channels=_IN_CHANNELS, depthwise=depthwise)
        super().__init__(backbone, head)
        chans = spec.input.in_chans
        if chans != 3:
            backbone.backbone.stem = Focus(chans, int(width * 64), ksize=3, act="silu")
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps, m.momentum = 1e-3, 0.03
        self.head.initialize_biases(1e-2)
        mean, std = per_channel(spec.input.mean, chans), per_channel(spec.input.std, chans)
        self.register_buffer("pixel_mean", torch.tensor(mean), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std), persistent=False)
        self.in_chans, self.num_labels = chans, spec.num_outputs

    @staticmethod
    def _yolox_targets(targets: list[dict[str, Tensor]], device: torch.device) -> Tensor:
        """``[B, n, 5]`` rows ``(class, cx, cy, w, h)`` in pixels; all-zero rows are padding."""
        n = max(1, max(len(t["boxes"]) for t in targets))
        out = torch.zeros(len(targets), n, 5, device=device)
        for i, t in enumerate(targets):
            b = t["boxes"].to(device)
            k = len(b)
            out[i, :k, 0] = t["labels"].to(device).float()
            out[i, :k, 1:3] = (b[:, :2] + b[:, 2:]) / 2
            out[i, :k, 3:5] = b[:, 2:] - b[:, :2]
        return out

    def forward(  # type: ignore[override]
        self, images: Tensor | Sequence[Tensor], targets: Targets | None = None
    ) -> dict[str, Tensor] | Detections:
        batch = stack_images(images, self.in_chans)
        size = (int(batch.shape[-2]), int(batch.shape[-1]))
        x = normalise(pad_to_multiple(batch, _STRIDE), self.pixel_mean, self.pixel_std)
        checked = check_targets(targets, len(batch), self.num_labels) if self.training else []
        features = self.backbone(x)
        if self.training:
            labels = self._yolox_targets(checked, x.device)
            with warnings.catch_warnings():  # torch.cuda.amp.autocast inside the assigner
                warnings.simplefilter("ignore", FutureWarning)
                _, iou, obj, cls, l1, _ = self.head(features, labels, x)
            losses = {"iou_loss": iou, "obj_loss": obj, "cls_loss": cls}
            if isinstance(l1, Tensor):  # only with YOLOX's late-training L1 term switched on
                losses["l1_loss"] = l1
            return losses
        raw = self.head(features).float()  # [B, A, 4 + 1 + C]: cx, cy, w, h, obj, classes
        centre, half = raw[..., :2], raw[..., 2:4] / 2
        boxes = torch.cat([centre - half, centre + half], dim=-1)
        scores = raw[..., 4:5] * raw[..., 5:]
        return [multilabel_nms(boxes[i], scores[i], size) for i in range(len(batch))]


def build_yolox(spec: ModelSpec) -> nn.Module:
    """Builder for the :data:`YOLOX_ARCHS` architectures (no ``arch_kwargs``)."""
    return ChestYOLOX(spec, *YOLOX_ARCHS[spec.arch])
