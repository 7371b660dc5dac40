"""core.models.precision: a bundle runs in the precision its thresholds were fitted in."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from models_fixtures import dsa_like, write_tiny_bundle

from core.models import precision
from core.models.bundle import Bundle, load_bundle
from core.models.runner import cam_logits, logits, sigmoid
from core.pipeline_version import pipeline_version

BF16 = {"metrics": {"profile": {"cpu_bf16": True}}}
CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def native(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the CPU computes bf16 natively (autocast emulates it where it does not)."""
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    monkeypatch.delenv(precision.ENV, raising=False)


def test_the_bundle_and_the_hardware_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(precision.ENV, raising=False)
    for native, manifest, device, expected in [
        (True, BF16, CPU, "bf16"),
        (False, BF16, CPU, "fp32"),  # a CPU without bf16 would emulate it slowly
        (True, {"metrics": {"profile": {"cpu_bf16": False}}}, CPU, "fp32"),
        (True, {}, CPU, "fp32"),  # an older bundle says nothing: fp32
        (False, {}, GPU, "fp16"),  # fitted under fp16 autocast on a GPU
    ]:
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda n=native: n)
        assert precision.precision_of(device, manifest) == expected, (native, manifest, device)
    monkeypatch.setenv(precision.ENV, "fp32")
    assert precision.precision_of(CPU, BF16) == precision.precision_of(GPU, BF16) == "fp32"
    monkeypatch.setenv(precision.ENV, "half")
    with pytest.raises(ValueError, match="REVIEW_PRECISION='half': use one of auto, fp32"):
        precision.precision_of(CPU, BF16)


def test_the_policy_is_part_of_every_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline_version.cache_clear()
    try:
        monkeypatch.setenv(precision.ENV, "auto")
        auto = pipeline_version()
        pipeline_version.cache_clear()
        monkeypatch.setenv(precision.ENV, "fp32")
        assert pipeline_version() != auto
    finally:
        pipeline_version.cache_clear()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return load_bundle(write_tiny_bundle(tmp_path_factory.mktemp("precision") / "b"))


def test_bf16_scores_and_maps_agree_with_fp32(bundle: Bundle, native: None) -> None:
    rng = np.random.default_rng(3)
    images = [dsa_like(rng) for _ in range(3)]
    fitted_bf16 = dataclasses.replace(bundle, manifest={**bundle.manifest, **BF16})
    p32 = sigmoid(logits(bundle, "anterior", images))
    p16 = sigmoid(logits(fitted_bf16, "anterior", images))
    assert p16.shape == p32.shape
    assert not np.array_equal(p16, p32)  # bf16 really ran
    assert np.abs(p16 - p32).max() < 0.05
    l32, maps32, _ = cam_logits(bundle, "stage1", images, method="gradcam")
    l16, maps16, _ = cam_logits(fitted_bf16, "stage1", images, method="gradcam")
    assert np.abs(sigmoid(l16) - sigmoid(l32)).max() < 0.05
    for m32, m16 in zip(maps32, maps16):
        assert m16.dtype == np.float32 and m16.shape == m32.shape and np.isfinite(m16).all()
        if m32.max() > 0:  # the strongest evidence stays where it was, give or take a cell
            peak32 = np.unravel_index(m32.argmax(), m32.shape)
            peak16 = np.unravel_index(m16.argmax(), m16.shape)
            assert max(abs(a - b) for a, b in zip(peak32, peak16)) <= 1


def test_timings_name_the_precision(bundle: Bundle, native: None) -> None:
    from models_fixtures import synthetic_case

    from core.models.inference import run_case

    fitted_bf16 = dataclasses.replace(bundle, manifest={**bundle.manifest, **BF16})
    assert run_case(fitted_bf16, synthetic_case(seed=1)).timings.device.endswith(", bf16")
    assert run_case(bundle, synthetic_case(seed=1)).timings.device.endswith(", fp32")


def test_a_setting_holds_for_its_block_only(monkeypatch: pytest.MonkeyPatch, native: None) -> None:
    monkeypatch.setenv(precision.ENV, "auto")
    with precision.setting("fp32"):
        assert precision.precision_of(CPU, BF16) == "fp32"
    assert precision.precision_of(CPU, BF16) == "bf16"
    with pytest.raises(ValueError, match="use one of auto, fp32"):
        with precision.setting("fp8"):
            pass  # pragma: no cover - refused on entry
    assert precision.precision_of(CPU, BF16) == "bf16"
