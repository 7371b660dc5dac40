"""torchvision detectors on a light ResNet18-FPN: Faster R-CNN (two-stage) and FCOS
(one-stage, anchor-free: the stand-in for YOLOX where the ``yolox`` package cannot be had).

Both subclass the torchvision model, so their state-dict names are torchvision's and a
local COCO or ImageNet file maps onto them by name (:mod:`core.models.pretrained`). What
the wrapper changes, and why:

* the input transform never resizes (``resize`` is the identity): the chest pipeline
  resizes films once, to the spec's side, and boxes must come back in those pixels;
  torchvision would otherwise rescale every image to ``min_size``.
* the ResNet18 has trainable ``BatchNorm2d`` (torchvision's default ``FrozenBatchNorm2d``
  with identity statistics leaves a network trained from scratch unnormalised) and a
  one-channel stem (grey films; an RGB stem file is summed to one channel on loading).
* the FPN starts at ``layer2`` (stride 8) and is ``fpn_channels`` wide (128 by default):
  a stride-4 level at 256 channels costs more than the rest of the network on a CPU, and
  the smallest VinBigData boxes are still several stride-8 cells at 384-512 px.
* Faster R-CNN's background class (label 0) is hidden: labels are 0..13 outside.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torchvision.models import resnet18
from torchvision.models.detection import FCOS, FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from core.models.registry import ModelSpec, RegistryError
from core.studies.chest.detectors.base import (
    MAX_DETECTIONS,
    NMS_IOU,
    SCORE_FLOOR,
    Detections,
    Targets,
    check_targets,
    finish_detections,
    per_channel,
    stack_images,
)

__all__ = [
    "DEFAULT_FPN_CHANNELS",
    "FCOS_ARCH",
    "FRCNN_ARCH",
    "ChestFCOS",
    "ChestFasterRCNN",
    "KeepSizeTransform",
    "build_fasterrcnn",
    "build_fcos",
    "resnet18_fpn",
]

FRCNN_ARCH = "torchvision:fasterrcnn_resnet18_fpn"
FCOS_ARCH = "torchvision:fcos_resnet18_fpn"
DEFAULT_FPN_CHANNELS = 128
#: ResNet18 stage widths, ``layer1`` to ``layer4``.
_WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512}


class KeepSizeTransform(GeneralizedRCNNTransform):
    """torchvision's batching and normalisation without its resize: boxes stay in input px."""

    def resize(
        self, image: Tensor, target: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor] | None]:
        return image, target


def resnet18_fpn(
    in_chans: int, returned: Sequence[int], channels: int, extra: nn.Module
) -> BackboneWithFPN:
    """A from-scratch ResNet18 (trainable BN, ``in_chans`` stem) with an FPN over the
    ``layer<i>`` stages in ``returned``; module names are torchvision's
    (``backbone.body.layer4``, ``backbone.fpn...``)."""
    body = resnet18(weights=None, norm_layer=nn.BatchNorm2d)
    if in_chans != 3:
        body.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return BackboneWithFPN(
        body,
        return_layers={f"layer{i}": str(k) for k, i in enumerate(returned)},
        in_channels_list=[_WIDTHS[i] for i in returned],
        out_channels=channels,
        extra_blocks=extra,  # type: ignore[arg-type]
    )


class _TorchvisionContract:
    """The chest contract over a torchvision detector (mixed in before the model class)."""

    in_chans: int
    num_labels: int
    label_offset: int

    def forward(
        self, images: Tensor | Sequence[Tensor], targets: Targets | None = None
    ) -> dict[str, Tensor] | Detections:
        batch = stack_images(images, self.in_chans)
        size = (int(batch.shape[-2]), int(batch.shape[-1]))
        parent = super().forward  # type: ignore[misc]
        if self.training:  # type: ignore[attr-defined]
            checked = check_targets(targets, len(batch), self.num_labels)
            shifted = [{**t, "labels": t["labels"] + self.label_offset} for t in checked]
            return parent(list(batch), shifted)
        out = parent(list(batch))
        return [
            finish_detections(o["boxes"], o["scores"], o["labels"] - self.label_offset, size)
            for o in out
        ]


def _transform(spec: ModelSpec) -> KeepSizeTransform:
    side, chans = max(spec.input.size), spec.input.in_chans
    mean, std = per_channel(spec.input.mean, chans), per_channel(spec.input.std, chans)
    return KeepSizeTransform(side, side, mean, std)


class ChestFasterRCNN(_TorchvisionContract, FasterRCNN):  # type: ignore[misc]
    """Faster R-CNN, ResNet18-FPN from layer2, labels 0..13 outside (background hidden)."""

    label_offset = 1

    def __init__(self, spec: ModelSpec, fpn_channels: int = DEFAULT_FPN_CHANNELS) -> None:
        side = max(spec.input.size)
        backbone = resnet18_fpn(spec.input.in_chans, (2, 3, 4), fpn_channels, LastLevelMaxPool())
        # Levels: strides 8, 16, 32 and the max-pooled 64; two scales, three ratios each.
        anchors = AnchorGenerator(
            sizes=((16, 24), (32, 48), (64, 96), (128, 192)), aspect_ratios=((0.5, 1.0, 2.0),) * 4
        )
        super().__init__(
            backbone,
            num_classes=spec.num_outputs + 1,
            min_size=side, max_size=side,
            image_mean=[0.0], image_std=[1.0],  # replaced below by the spec's
            rpn_anchor_generator=anchors,
            box_roi_pool=MultiScaleRoIAlign(["0", "1", "2"], output_size=7, sampling_ratio=2),
            rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=1000,
            rpn_pre_nms_top_n_test=500, rpn_post_nms_top_n_test=300,
            box_batch_size_per_image=256,
            box_score_thresh=SCORE_FLOOR, box_nms_thresh=NMS_IOU,
            box_detections_per_img=MAX_DETECTIONS,
        )  # fmt: skip
        self.transform = _transform(spec)
        self.in_chans, self.num_labels = spec.input.in_chans, spec.num_outputs


class ChestFCOS(_TorchvisionContract, FCOS):  # type: ignore[misc]
    """FCOS, ResNet18-FPN P3-P7; sigmoid classes need no background, labels are 0..13."""

    label_offset = 0

    def __init__(self, spec: ModelSpec, fpn_channels: int = DEFAULT_FPN_CHANNELS) -> None:
        side = max(spec.input.size)
        backbone = resnet18_fpn(
            spec.input.in_chans, (2, 3, 4), fpn_channels, LastLevelP6P7(fpn_channels, fpn_channels)
        )
        super().__init__(
            backbone,
            num_classes=spec.num_outputs,
            min_size=side, max_size=side, image_mean=[0.0], image_std=[1.0],
            score_thresh=SCORE_FLOOR, nms_thresh=NMS_IOU,
            detections_per_img=MAX_DETECTIONS, topk_candidates=1000,
        )  # fmt: skip
        self.transform = _transform(spec)
        self.in_chans, self.num_labels = spec.input.in_chans, spec.num_outputs


def _fpn_channels(spec: ModelSpec) -> int:
    """``fpn_channels`` from the spec; FCOS's GroupNorm(32) needs a multiple of 32."""
    channels = int(spec.arch_kwargs.get("fpn_channels", DEFAULT_FPN_CHANNELS))
    if channels % 32:
        raise RegistryError(f"{spec.key}: fpn_channels={channels} is not a multiple of 32")
    return channels


def build_fasterrcnn(spec: ModelSpec) -> nn.Module:
    """Builder for :data:`FRCNN_ARCH` (``arch_kwargs``: ``fpn_channels``)."""
    return ChestFasterRCNN(spec, _fpn_channels(spec))


def build_fcos(spec: ModelSpec) -> nn.Module:
    """Builder for :data:`FCOS_ARCH` (``arch_kwargs``: ``fpn_channels``)."""
    return ChestFCOS(spec, _fpn_channels(spec))
