"""The model registry: every network a study can run, as a typed record.

timm-style: each entry is a few lines that fill a :class:`ModelSpec` through a builder,
registered by name with :func:`register`. The spec says which architecture to build, which
role it plays in its study's bundle, its labels in output order, its input spec (size,
channels, mean/std, whether the aneurysm stage-1 transform applies), and where Grad-CAM
hooks it. The same record is written into every bundle, so a bundle rebuilds its networks
from its own ``bundle.json`` even if this table changes later.

The entries live with their study (``BUILTIN``: the aneurysm study's in
:mod:`core.models.aneurysm_models`) and are imported on the first look-up, so this module
knows no study. Building the torch module from a spec lives in :mod:`core.models.build`,
so this module imports no torch and stays cheap to import.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

from core.models.heads import HEADS, Head
from core.models.spec_checks import SpecRefused, check_spec_dict

__all__ = [
    "BUILTIN",
    "InputSpec",
    "ModelSpec",
    "RegistryError",
    "STEMS",
    "register",
    "get_spec",
    "list_specs",
]

_ROLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: Convolutional stems a timm model's patch embedding can be replaced with: the layers of a
#: torchvision ResNet18 up to and including the named one (``core.models.build``).
STEMS: dict[str, tuple[str, int, int]] = {"resnet18:layer2": ("layer2", 128, 8)}


class RegistryError(KeyError):
    """Unknown registry key, or a spec that cannot be used for the requested role."""

    def __str__(self) -> str:  # KeyError would quote the message like a key
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class InputSpec:
    """What a model expects: size is ``(height, width)`` in pixels of the resized crop.

    Resizing itself is :func:`core.preprocess.transforms.resize_square` for every model
    (INTER_AREA down, INTER_LINEAR up); bundles record that rule.
    """

    size: tuple[int, int]
    in_chans: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    stage1_transform: bool = False  # cv2.bitwise_not then medianBlur(3) before resizing

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "InputSpec":
        return cls(
            size=tuple(d["size"]),  # type: ignore[arg-type]
            in_chans=int(d["in_chans"]),
            mean=tuple(float(v) for v in d["mean"]),
            std=tuple(float(v) for v in d["std"]),
            stage1_transform=bool(d["stage1_transform"]),
        )


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: everything needed to build, feed and explain a network."""

    key: str
    arch: str  # a key of core.models.spec_checks.ARCHITECTURES, e.g. "torchvision:resnet18"
    role: str  # a role of the study the spec serves; also its weight file's name
    labels: tuple[str, ...]
    input: InputSpec
    cam_layer: str  # dotted module path hooked by Grad-CAM
    cam_reshape: str | None = None  # name in core.cam.reshape.RESHAPES, None for NCHW layers
    arch_kwargs: dict[str, Any] = field(default_factory=dict)  # overrides passed to the builder
    note: str = ""
    head: Head = "avg"  # core.models.heads: "avg" (the original) or "cell_max"
    stem: str | None = None  # a key of STEMS replacing a timm model's patch embedding

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise RegistryError(f"{self.key}: unknown head {self.head!r}; known: {HEADS}")
        if self.stem is not None and self.stem not in STEMS:
            raise RegistryError(f"{self.key}: unknown stem {self.stem!r}; known: {sorted(STEMS)}")

    @property
    def num_outputs(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; tuples become lists. Inverse of :meth:`from_dict`."""
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["input"]["size"] = list(self.input.size)
        d["input"]["mean"], d["input"]["std"] = list(self.input.mean), list(self.input.std)
        d["arch_kwargs"] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.arch_kwargs.items()
        }
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelSpec":
        """A spec from its JSON form (a bundle's), refused unless every value is one this
        app builds (:mod:`core.models.spec_checks`): a bundle may come from someone else."""
        try:
            check_spec_dict(d)
        except SpecRefused as exc:
            key = d.get("key") if isinstance(d, Mapping) else None
            raise RegistryError(f"spec {key!r:.80} refused: {exc}") from exc
        role = d.get("role")
        if not isinstance(role, str) or not _ROLE_RE.match(role):
            raise RegistryError(f"spec {d.get('key')!r}: role {role!r} is not a role name")
        return cls(
            key=str(d["key"]),
            arch=str(d["arch"]),
            role=d["role"],
            labels=tuple(d["labels"]),
            input=InputSpec.from_dict(d["input"]),
            cam_layer=str(d["cam_layer"]),
            cam_reshape=d["cam_reshape"],
            arch_kwargs={
                k: tuple(v) if isinstance(v, list) else v for k, v in d["arch_kwargs"].items()
            },
            note=str(d.get("note", "")),
            head=d.get("head", "avg"),
            stem=d.get("stem"),
        )


EntryFn = Callable[..., ModelSpec]
_REGISTRY: dict[str, EntryFn] = {}
#: Modules whose import registers the built-in entries; loaded on the first look-up.
BUILTIN: tuple[str, ...] = ("core.models.aneurysm_models", "core.models.chest_models")


def register(fn: EntryFn) -> EntryFn:
    """Decorator: the function's name is the registry key."""
    _REGISTRY[fn.__name__] = fn
    return fn


def _load_builtin() -> None:
    for module in BUILTIN:
        importlib.import_module(module)


def get_spec(key: str, *, size: int | tuple[int, int] | None = None, **options: Any) -> ModelSpec:
    """The spec of a registry entry; ``size`` overrides the input size (int = square), and
    ``options`` go to the entry (the aneurysm entries take their circulation ``groups``)."""
    _load_builtin()
    if key not in _REGISTRY:
        raise RegistryError(f"unknown model {key!r}; known: {', '.join(sorted(_REGISTRY))}")
    kwargs: dict[str, Any] = dict(options)
    if size is not None:
        kwargs["size"] = (size, size) if isinstance(size, int) else tuple(size)
    return _REGISTRY[key](**kwargs)


def list_specs(role: str | None = None) -> list[str]:
    """Registry keys, optionally only those of one role."""
    _load_builtin()
    return sorted(k for k, fn in _REGISTRY.items() if role is None or fn().role == role)
