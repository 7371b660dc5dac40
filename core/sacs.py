"""Aneurysm positions a synthetic cohort knows: the ``aneurysms`` of its ``truth.json``.

Real data has no such file. A synthetic cohort records, per image, every aneurysm sac the
generator drew (its label column, centre and radius in original-image pixels). Three
consumers read it through here: the pointing game of ``evaluate`` and of the cohort page,
and localised training (:mod:`core.training.patches`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["Sac", "SacMap", "parse_sacs", "read_sacs", "sac_array"]


@dataclass(frozen=True)
class Sac:
    """One drawn aneurysm: ``location`` is its train.csv column (e.g. ``L_MCA``)."""

    x: float
    y: float
    radius: float
    location: str


#: ``(Index, View) -> sacs drawn in that image`` (an empty tuple for an image with none).
SacMap = dict[tuple[int, str], tuple[Sac, ...]]


def parse_sacs(truth: Mapping[str, Any]) -> SacMap:
    """The sacs of a loaded ``truth.json`` (the generator's format, see :mod:`core.synth`)."""
    out: SacMap = {}
    for rec in truth.get("images", {}).values():
        out[(int(rec["patient"]), str(rec["view"]))] = tuple(
            Sac(float(a["center"][0]), float(a["center"][1]), float(a["radius"]), a["location"])
            for a in rec.get("aneurysms", [])
        )
    return out


def read_sacs(folder: str | Path) -> SacMap | None:
    """Sacs of ``folder/truth.json``; None when the folder has none (real data)."""
    path = Path(folder) / "truth.json"
    return parse_sacs(json.loads(path.read_text())) if path.is_file() else None


def sac_array(sacs: tuple[Sac, ...]) -> np.ndarray:
    """``(k, 3)`` rows of ``(x, y, radius)``: the pointing game's target format."""
    return np.array([(s.x, s.y, s.radius) for s in sacs], dtype=float).reshape(-1, 3)
