"""Tiny bundles and synthetic cases for the model and CAM tests (no network, seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from core.case import Case, SourceInfo, ViewImage
from core.models.build import build_model
from core.models.bundle import save_bundle
from core.models.calibration import calibrate
from core.models.aneurysm_models import Role, default_keys
from core.models.registry import ModelSpec, get_spec
from core.models.thresholds import Thresholds
from core.studies.aneurysm import schema_for
from core.schema import LOCATIONS, VIEWS


def tiny_specs() -> dict[Role, ModelSpec]:
    return {role: get_spec(key) for role, key in default_keys("tiny").items()}


def tiny_models(seed: int = 0) -> dict[Role, nn.Module]:
    specs = tiny_specs()
    return {role: build_model(spec, seed=seed + i) for i, (role, spec) in enumerate(specs.items())}


def fixed_thresholds(stage1: float = 0.5, location: float = 0.5) -> Thresholds:
    return Thresholds(stage1, {c: location for c in LOCATIONS}, rule="fixed for tests")


def random_thresholds(seed: int = 0) -> Thresholds:
    rng = np.random.default_rng(seed)
    return calibrate(rng.random(40), {c: rng.random(40) for c in LOCATIONS})


def write_tiny_bundle(path: Path, thresholds: Thresholds | None = None) -> Path:
    return save_bundle(
        path, tiny_models(), tiny_specs(), thresholds or random_thresholds(), schema=schema_for()
    )


def dsa_like(
    rng: np.random.Generator, height: int = 180, width: int = 240, margin: int = 12
) -> np.ndarray:
    """Light-grey noisy picture with a dark top margin and a few dark 'vessels'."""
    img = (rng.random((height, width)) * 40 + 160).astype(np.uint8)
    img[:margin] = 0
    for _ in range(3):
        y = int(rng.integers(margin + 5, height - 5))
        img[y : y + 3, 10 : width - 10] = 60
    return img


def synthetic_case(
    case_id: str = "7", views: tuple[str, ...] = VIEWS, seed: int = 0, **size: int
) -> Case:
    rng = np.random.default_rng(seed)
    return Case(case_id, {
        v: ViewImage(v, dsa_like(rng, **size), SourceInfo(f"{case_id}{v}.jpg", "jpeg"))
        for v in views
    }, expected_views=VIEWS)  # fmt: skip
