"""Which of the eight DSA views a series is, from its DICOM attributes, with the reason.

A view name (``LI-A``) encodes three things, each read from the most structured source
that has it:

* **side** of the injection: ``Laterality`` / ``ImageLaterality``, else the series
  description (``L``, ``LT``, ``LEFT`` / ``R``, ``RT``, ``RIGHT`` as words);
* **circulation**: the series description only (no standard attribute says which artery
  was injected): ``ICA``, ``CAROTID``, ``CCA`` -> internal carotid (``I``); ``VA``, ``VERT``,
  ``VERTEBRAL`` -> vertebral (``V``);
* **projection**: ``ViewPosition`` (``AP``/``PA`` frontal, ``LL``/``RL``/``LATERAL``
  lateral), else the positioner primary angle (LAO/RAO, 0 is frontal: within 30 degrees
  frontal, 60-120 degrees either way lateral, anything between is an oblique we do not
  guess), else the description (``AP``, ``PA``, ``FRONTAL`` / ``LAT``, ``LATERAL``).

When sources disagree, or none says, the series is left unmapped with that reason, for
the reader to choose: a wrong guess would put a view's scores on the wrong vessels.
Reasons name the attribute used, never quote the description (it is free text).

:func:`dsa_views` is the aneurysm study's view rule (``PacsHooks.views``, registered by
:mod:`core.studies.aneurysm`): each run is judged on its own, in series order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from core.pacs.inventory import Instance

__all__ = ["FRONTAL_MAX_DEG", "LATERAL_DEG", "dsa_views", "infer_view"]

#: ``|primary angle|`` at most this is frontal.
FRONTAL_MAX_DEG = 30.0
#: ``|primary angle|`` in this range is lateral.
LATERAL_DEG = (60.0, 120.0)

_SIDE_WORDS = {"L": ("L", "LT", "LEFT"), "R": ("R", "RT", "RIGHT")}
_CIRC_WORDS = {"I": ("ICA", "CAROTID", "CCA", "IC"), "V": ("VA", "VERT", "VERTEBRAL")}
_PROJ_WORDS = {"A": ("AP", "PA", "FRONTAL", "FRONT"), "B": ("LAT", "LATERAL", "LL", "RL")}
_VIEW_POSITION = {"AP": "A", "PA": "A", "LL": "B", "RL": "B", "LATERAL": "B", "LAT": "B"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Z]+", text.upper()))


def _from_words(text: str, table: dict[str, tuple[str, ...]]) -> set[str]:
    words = _words(text)
    return {key for key, names in table.items() if words & set(names)}


def _side(inst: Instance) -> tuple[str | None, str]:
    tag = inst.laterality if inst.laterality in ("L", "R") else None
    words = _from_words(inst.series_description, _SIDE_WORDS)
    if tag and words and words != {tag}:
        return None, "side: Laterality and the series description disagree"
    if tag:
        return tag, "side from Laterality"
    if len(words) == 1:
        return words.pop(), "side from the series description"
    if words:
        return None, "side: the series description names both sides"
    return None, "side: no Laterality and no side in the series description"


def _circulation(inst: Instance) -> tuple[str | None, str]:
    found = _from_words(inst.series_description, _CIRC_WORDS)
    if len(found) == 1:
        return found.pop(), "circulation from the series description"
    if found:
        return None, "circulation: the series description names both ICA and vertebral"
    return None, "circulation: the series description names no ICA or vertebral injection"


def _projection(inst: Instance) -> tuple[str | None, str]:
    if inst.view_position in _VIEW_POSITION:
        return _VIEW_POSITION[inst.view_position], "projection from ViewPosition"
    if inst.primary_angle is not None:
        a = abs(inst.primary_angle)
        lo, hi = LATERAL_DEG
        tilt = (
            ""
            if inst.secondary_angle is None
            else f", {inst.secondary_angle:+.0f} deg cranio-caudal"
        )
        if a <= FRONTAL_MAX_DEG:
            return (
                "A",
                f"projection frontal from the positioner angle ({inst.primary_angle:+.0f} deg{tilt})",
            )
        if lo <= a <= hi:
            return (
                "B",
                f"projection lateral from the positioner angle ({inst.primary_angle:+.0f} deg{tilt})",
            )
        return None, f"projection: the positioner angle {inst.primary_angle:+.0f} deg is oblique"
    found = _from_words(inst.series_description, _PROJ_WORDS)
    if len(found) == 1:
        return found.pop(), "projection from the series description"
    return None, "projection: no ViewPosition, positioner angle or projection in the description"


def infer_view(inst: Instance) -> tuple[str | None, str]:
    """``("LI-A", "side from Laterality; ...")`` or ``(None, why not)``."""
    parts = [_side(inst), _circulation(inst), _projection(inst)]
    reason = "; ".join(why for _, why in parts)
    side, circ, proj = (value for value, _ in parts)
    if side is None or circ is None or proj is None:
        return None, reason
    return f"{side}{circ}-{proj}", reason


def dsa_views(runs: Sequence[Instance]) -> Iterator[tuple[Instance, str | None, str]]:
    """Each run (its first image) with its view or ``None``, and the reason."""
    for inst in runs:
        yield (inst, *infer_view(inst))
