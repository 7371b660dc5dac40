"""Which models a chest bundle may hold, and the study settings it carries.

A chest bundle is one of three kinds, told apart by its model roles:

* a **detector** bundle: one role ``detector`` (Faster R-CNN, EfficientDet, FCOS, ...);
* a **classifier** bundle: one role ``classifier`` (the normal/abnormal ResNet18);
* an **ensemble** bundle (``python -m core ensemble``): several ``detector_<member>``
  roles, fused with WBF, and at most one ``classifier`` whose rule lowers the detector
  scores on films that look normal.

Any of them runs through the same loader, checks and runner, so ``predict``, ``evaluate``
and the app take an ensemble like any other bundle. The ``settings`` block of
``bundle.json`` says how the training truth was fused from the readers, how members are
fused, which classifier rule applies, and (for an ensemble) which member bundles it was
built from, by the SHA-256 of their ``bundle.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DETECTOR",
    "CLASSIFIER",
    "SETTINGS_FIELDS",
    "role_problem",
    "detector_roles",
    "check_settings",
    "check_specs",
    "CLASSIFIER_LABELS",
]

DETECTOR = "detector"
CLASSIFIER = "classifier"
_DETECTOR_RE = re.compile(r"^detector(_[a-z0-9]{1,12}(_[a-z0-9]{1,8})?)?$")
#: Keys a chest bundle's ``settings`` may hold.
SETTINGS_FIELDS = frozenset(
    {"family", "augmentation", "reader_fusion", "ensemble", "rule", "members", "side"}
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: The classifier's one output: P(abnormal), i.e. any finding on the film.
CLASSIFIER_LABELS = ("Abnormal",)


def detector_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The detector roles among ``roles``, sorted (the order members are fused in)."""
    return tuple(sorted(r for r in roles if _DETECTOR_RE.match(r)))


def role_problem(roles: frozenset[str]) -> str | None:
    """Why ``roles`` is not a chest bundle's set of models, or None when it is."""
    odd = sorted(r for r in roles if r != CLASSIFIER and not _DETECTOR_RE.match(r))
    if odd:
        return (
            f"a chest bundle holds 'detector', 'detector_<name>' or 'classifier' models, not {odd}"
        )
    detectors = detector_roles(roles)
    if not roles:
        return "a chest bundle needs at least one model"
    if DETECTOR in detectors and len(detectors) > 1:
        return "a chest ensemble names each detector 'detector_<member>'; a lone 'detector' is a single bundle"
    return None


def check_settings(settings: Mapping[str, Any]) -> None:
    """Refuse a ``settings`` block with unknown keys or values the runner would misread.

    Fusion and rule blocks are parsed by their own ``from_dict`` (which refuse unknown
    fields and out-of-range values), so a tampered manifest fails here, before any model
    is built, rather than mid-prediction.
    """
    from core.studies.chest.ensemble import EnsembleSettings
    from core.studies.chest.fusion import FusionSettings
    from core.studies.chest.rule import ClassifierRule

    unknown = set(settings) - SETTINGS_FIELDS
    if unknown:
        raise ValueError(
            f"unknown chest settings {sorted(unknown)}; known: {sorted(SETTINGS_FIELDS)}"
        )
    if settings.get("reader_fusion") is not None:
        FusionSettings(**dict(settings["reader_fusion"]))
    if settings.get("ensemble") is not None:
        EnsembleSettings.from_dict(settings["ensemble"])
    if settings.get("rule") is not None:
        ClassifierRule.from_dict(settings["rule"])
    for member in settings.get("members") or ():
        if not isinstance(member, Mapping) or not _HEX64.match(
            str(member.get("bundle_sha256", ""))
        ):
            raise ValueError(
                f"an ensemble member must name its bundle by SHA-256, got {member!r:.120}"
            )
    side = settings.get("side")
    if side is not None and not (isinstance(side, int) and 16 <= side <= 2048):
        raise ValueError(f"side {side!r} must be a whole number of pixels in [16, 2048]")
    for key in ("family", "augmentation"):
        if settings.get(key) is not None and not isinstance(settings[key], str):
            raise ValueError(f"{key} must be a text")


def check_specs(specs: Mapping[str, Any], schema: Any) -> None:
    """Detectors output the 14 finding classes in class-id order; the classifier one
    ``Abnormal`` logit. Anything else would put boxes under the wrong names."""
    from core.studies.chest.classes import CLASSES

    for role, spec in specs.items():
        want = CLASSIFIER_LABELS if role == CLASSIFIER else CLASSES
        if tuple(spec.labels) != tuple(want):
            raise ValueError(
                f"the chest {role} must output {list(want)}, got {list(spec.labels)[:16]}"
            )
