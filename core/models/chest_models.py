"""The chest study's networks in the model registry: detector families and the
normal/abnormal classifier.

Detectors (role ``detector``, labels :data:`~core.studies.chest.classes.CLASSES`, ids
0..13) are built by :mod:`core.studies.chest.detectors` and follow one contract: grey
``[B, 1, H, W]`` images **in [0, 1]** at the spec's square size (the module applies the
spec's mean/std itself, unlike the classifiers, whose callers normalise), a dict of losses
in train mode, per-image ``boxes/scores/labels`` in input pixels in eval mode.

* ``chest_frcnn``: torchvision Faster R-CNN, ResNet18-FPN (layer2-4, 128 channels).
* ``chest_fcos``: torchvision FCOS, ResNet18-FPN: one-stage and anchor-free, the stand-in
  for YOLOX wherever the ``yolox`` package is not installed.
* ``chest_effdet``: effdet EfficientDet-D0.
* ``chest_yolox``: YOLOX-tiny, listed only where ``yolox`` (built from source against the
  installed torch, ``docs/yolox.md``) is importable.
* ``chest_classifier``: torchvision ResNet18, one ``Abnormal`` logit, the classifier that
  lowers detector scores on films that look normal.

All are trained from scratch here (no weights are downloaded); a local COCO or ImageNet
file can initialise a detector through :func:`core.models.pretrained.load_detector_weights`.
Every entry takes ``size`` (an int or ``(side, side)``; detectors are square).
"""

from __future__ import annotations

from core.models.registry import InputSpec, ModelSpec, RegistryError, register
from core.studies.chest.classes import CLASSES
from core.studies.chest.roles import CLASSIFIER, CLASSIFIER_LABELS, DETECTOR
from core.studies.chest.detectors import FCOS_ARCH, FRCNN_ARCH, yolox_available
from core.studies.chest.detectors.torchvision_families import DEFAULT_FPN_CHANNELS

__all__ = [
    "CLASSIFIER_LABELS",
    "CLASSIFIER_ROLE",
    "DEFAULT_CLASSIFIER_SIDE",
    "DEFAULT_DETECTOR_SIDE",
    "DETECTOR_KEYS",
    "DETECTOR_ROLE",
]

# The role names and the classifier's label are the chest study's (core.studies.chest.roles,
# which checks bundles); named here as the registry entries use them.
DETECTOR_ROLE = DETECTOR
CLASSIFIER_ROLE = CLASSIFIER
DEFAULT_DETECTOR_SIDE = 512
DEFAULT_CLASSIFIER_SIDE = 256
#: ImageNet statistics averaged over RGB: what a grey film looks like to an RGB-trained
#: backbone whose stem kernels were summed to one channel.
_GREY_MEAN, _GREY_STD = (0.449,), (0.226,)
#: YOLOX 0.3.0 takes 0-255 pixels unnormalised (its COCO weights were trained so).
_YOLOX_MEAN, _YOLOX_STD = (0.0,), (1.0 / 255.0,)
_NOTE = "input [0, 1] grey at the spec's size; the module normalises with input.mean/std"

Size = tuple[int, int]


def _square(key: str, size: Size) -> Size:
    if size[0] != size[1]:
        raise RegistryError(f"{key}: detectors take square inputs, got {size}")
    return size


def _detector(
    key: str, arch: str, size: Size, cam_layer: str, note: str,
    mean: tuple[float, ...] = _GREY_MEAN, std: tuple[float, ...] = _GREY_STD,
    **arch_kwargs: int,
) -> ModelSpec:  # fmt: skip
    return ModelSpec(
        key=key, arch=arch, role=DETECTOR_ROLE, labels=CLASSES,
        input=InputSpec(size=_square(key, size), in_chans=1, mean=mean, std=std),
        cam_layer=cam_layer, arch_kwargs=dict(arch_kwargs), note=f"{note}; {_NOTE}",
    )  # fmt: skip


_D = (DEFAULT_DETECTOR_SIDE, DEFAULT_DETECTOR_SIDE)
#: Registry keys of the detector entries present in this environment.
DETECTOR_KEYS: tuple[str, ...] = ("chest_frcnn", "chest_fcos", "chest_effdet") + (
    ("chest_yolox",) if yolox_available() else ()
)


@register
def chest_frcnn(size: Size = _D) -> ModelSpec:
    return _detector(
        "chest_frcnn", FRCNN_ARCH, size, "backbone.body.layer4",
        "torchvision Faster R-CNN, ResNet18-FPN from layer2", fpn_channels=DEFAULT_FPN_CHANNELS,
    )  # fmt: skip


@register
def chest_fcos(size: Size = _D) -> ModelSpec:
    return _detector(
        "chest_fcos", FCOS_ARCH, size, "backbone.body.layer4",
        "torchvision FCOS, ResNet18-FPN P3-P7 (one-stage stand-in for YOLOX)",
        fpn_channels=DEFAULT_FPN_CHANNELS,
    )  # fmt: skip


@register
def chest_effdet(size: Size = _D) -> ModelSpec:
    return _detector(
        "chest_effdet", "effdet:efficientdet_d0", size, "backbone.blocks.6",
        "effdet EfficientDet-D0 (inputs padded to a multiple of 128)",
    )  # fmt: skip


if yolox_available():

    @register
    def chest_yolox(size: Size = _D) -> ModelSpec:
        return _detector(
            "chest_yolox", "yolox:yolox_tiny", size, "backbone.backbone.dark5",
            "YOLOX-tiny from the yolox 0.3.0 source build", mean=_YOLOX_MEAN, std=_YOLOX_STD,
        )  # fmt: skip


@register
def chest_classifier(size: Size = (DEFAULT_CLASSIFIER_SIDE, DEFAULT_CLASSIFIER_SIDE)) -> ModelSpec:
    return ModelSpec(
        key="chest_classifier", arch="torchvision:resnet18", role=CLASSIFIER_ROLE,
        labels=CLASSIFIER_LABELS,
        input=InputSpec(size=size, in_chans=1, mean=_GREY_MEAN, std=_GREY_STD),
        cam_layer="layer4",
        note="normal/abnormal ResNet18, 1 channel; callers normalise with input.mean/std",
    )  # fmt: skip
