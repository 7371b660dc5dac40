"""What a model spec read from a bundle may ask for: the checks before anything is built.

A ``bundle.json`` may come from someone else, and its specs are handed to timm and
torchvision. timm reads more into a model name than a name: ``hf-hub:<repo>`` downloads a
configuration and weights, ``local-dir:<path>`` reads a folder, and keyword arguments such
as ``checkpoint_path`` or ``pretrained_cfg_overlay`` load files from anywhere. So a spec
is held to what this app's own registry entries use:

* the architecture is one of :data:`ARCHITECTURES` (the names the registry's entries
  build; ``tests/test_models_registry.py`` checks that every entry is covered), never a
  hub or local-dir name;
* each architecture takes only the keyword arguments listed for it, each with a type and
  a range, so a path, a URL or a callable never reaches a builder;
* the input is 1 or 3 channels of :data:`INPUT_SIDE` px a side, with one mean and std per
  channel (or one for all), and a model has :data:`LABEL_COUNT` outputs.

The checks read the raw JSON form (what :meth:`ModelSpec.to_dict` writes), so reading a
manifest can apply them without importing torch. :class:`SpecRefused` says what is wrong;
the registry and the bundle reader turn it into their own error type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ARCHITECTURES",
    "INPUT_SIDE",
    "IN_CHANS",
    "LABEL_COUNT",
    "KwargRule",
    "SpecRefused",
    "check_spec_dict",
]

#: Smallest and largest input side in pixels (the full stage-1 model takes 724).
INPUT_SIDE = (16, 2048)
#: Input channels a model may take: grey or RGB.
IN_CHANS = (1, 3)
#: Fewest and most outputs (labels) one model may have.
LABEL_COUNT = (1, 64)
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_LAYER_RE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+){0,15}$")
_LABEL_LEN = 64


class SpecRefused(ValueError):
    """A spec asks for something this app does not build (the message says what)."""


@dataclass(frozen=True)
class KwargRule:
    """An allowed keyword argument: ``kind`` of its value(s), their range, and for
    ``ints`` how many (a single int counts as one)."""

    kind: str  # "int", "float" or "ints"
    lo: float
    hi: float
    count: tuple[int, int] = (1, 1)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _float(v: Any) -> bool:
    return (_int(v) or isinstance(v, float)) and math.isfinite(v)


_SIDE = KwargRule("ints", *INPUT_SIDE, count=(1, 2))
_SWINV2_CR: dict[str, KwargRule] = {
    "img_size": _SIDE,
    "patch_size": KwargRule("int", 1, 64),
    "window_size": KwargRule("ints", 1, 64, count=(1, 2)),
    "embed_dim": KwargRule("int", 8, 1024),
    "depths": KwargRule("ints", 1, 32, count=(1, 8)),
    "num_heads": KwargRule("ints", 1, 64, count=(1, 8)),
    "mlp_ratio": KwargRule("float", 1.0, 16.0),
    "drop_rate": KwargRule("float", 0.0, 1.0),
    "drop_path_rate": KwargRule("float", 0.0, 1.0),
    "attn_drop_rate": KwargRule("float", 0.0, 1.0),
}
#: The chest detectors on a ResNet18-FPN (core.studies.chest.detectors): only the FPN's
#: width may be chosen (a multiple of 32, which the builder checks).
_RESNET18_FPN: dict[str, KwargRule] = {"fpn_channels": KwargRule("int", 32, 256)}
#: Every architecture a spec may name, with the keyword arguments it may pass to the
#: builder. torchvision's ResNet18 takes none (its stem and head are set from the spec);
#: the effdet and YOLOX detectors take none either (the name fixes their size).
ARCHITECTURES: Mapping[str, Mapping[str, KwargRule]] = {
    "torchvision:resnet18": {},
    "timm:swinv2_cr_tiny_ns_224": _SWINV2_CR,
    "torchvision:fasterrcnn_resnet18_fpn": _RESNET18_FPN,
    "torchvision:fcos_resnet18_fpn": _RESNET18_FPN,
    "effdet:efficientdet_d0": {},
    "effdet:tf_efficientdet_lite0": {},
    "yolox:yolox_nano": {},
    "yolox:yolox_tiny": {},
    "yolox:yolox_s": {},
}


def _check_kwarg(arch: str, name: str, value: Any) -> None:
    rules = ARCHITECTURES[arch]
    if name not in rules:
        raise SpecRefused(
            f"{arch} does not take the argument {name!r}; allowed: {sorted(rules) or 'none'}"
        )
    rule = rules[name]
    if rule.kind == "ints":
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        ok = rule.count[0] <= len(items) <= rule.count[1] and all(_int(v) for v in items)
    else:
        items = [value]
        ok = (_int if rule.kind == "int" else _float)(value)
    if not ok or not all(rule.lo <= v <= rule.hi for v in items):
        raise SpecRefused(
            f"{arch} argument {name}={value!r} must be {rule.kind} in [{rule.lo}, {rule.hi}]"
            + (f", {rule.count[0]} to {rule.count[1]} values" if rule.kind == "ints" else "")
        )


def _check_input(d: Any) -> None:
    if not isinstance(d, Mapping):
        raise SpecRefused("input must be an object")
    size, chans = d.get("size"), d.get("in_chans")
    lo, hi = INPUT_SIDE
    if not (
        isinstance(size, (list, tuple)) and len(size) == 2
        and all(_int(s) and lo <= s <= hi for s in size)
    ):  # fmt: skip
        raise SpecRefused(f"input size {size!r} must be two whole numbers in [{lo}, {hi}] px")
    if not _int(chans) or chans not in IN_CHANS:
        raise SpecRefused(f"input channels {chans!r} must be one of {IN_CHANS}")
    for name in ("mean", "std"):
        v = d.get(name)
        if not (
            isinstance(v, (list, tuple)) and len(v) in {1, chans} and all(_float(x) for x in v)
        ):
            raise SpecRefused(f"input {name} {v!r} must be 1 or {chans} finite numbers")
    if not all(s > 0 for s in d["std"]):
        raise SpecRefused(f"input std {d['std']!r} must be positive")


def _check_labels(labels: Any) -> None:
    lo, hi = LABEL_COUNT
    if not isinstance(labels, (list, tuple)) or not lo <= len(labels) <= hi:
        raise SpecRefused(f"a model must have {lo} to {hi} labels, got {labels!r:.80}")
    bad = [x for x in labels if not isinstance(x, str) or not 0 < len(x) <= _LABEL_LEN]
    if bad or len(set(labels)) != len(labels):
        raise SpecRefused(f"labels must be distinct names of 1 to {_LABEL_LEN} characters")


def check_spec_dict(d: Mapping[str, Any]) -> None:
    """Refuse a spec (JSON form) that names an unknown architecture, passes an argument
    its architecture does not take, or has out-of-range inputs or label counts."""
    if not isinstance(d, Mapping):
        raise SpecRefused("a model spec must be an object")
    key, arch = d.get("key"), d.get("arch")
    if not isinstance(key, str) or not _NAME_RE.match(key):
        raise SpecRefused(f"spec key {key!r:.80} is not a registry name")
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise SpecRefused(
            f"architecture {arch!r:.120} is not one this app builds "
            f"(known: {', '.join(sorted(ARCHITECTURES))}); hub and local-dir names are refused"
        )
    kwargs = d.get("arch_kwargs", {})
    if not isinstance(kwargs, Mapping):
        raise SpecRefused("arch_kwargs must be an object")
    for name, value in kwargs.items():
        _check_kwarg(arch, str(name), value)
    _check_input(d.get("input"))
    _check_labels(d.get("labels"))
    layer = d.get("cam_layer")
    if not isinstance(layer, str) or not _LAYER_RE.match(layer):
        raise SpecRefused(f"cam_layer {layer!r:.80} is not a dotted module path")
