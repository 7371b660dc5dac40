"""The arithmetic a bundle's models run in: the precision its thresholds were fitted in.

A bundle's thresholds are fitted, and its validation figures computed, on its own
predictions, made under :func:`core.device.autocast` (fp16 on CUDA; bf16 on a CPU that
computes bf16 natively, when the training profile allowed it: ``metrics.profile.cpu_bf16``
in ``bundle.json``). Running the bundle in fp32 afterwards shifts every probability a
little against thresholds fitted on the bf16 ones; running it in bf16 where the CPU has it
(AVX512-BF16 or AMX) is also about 2.8× less CPU time per forward pass on this project's
machine (``python -m bench precision``, which also measures the agreement between the two).

``REVIEW_PRECISION=fp32`` forces fp32 everywhere (e.g. to compare against a fp32 run);
``auto`` (the default) follows the bundle as above. The policy is part of
:func:`core.pipeline_version.pipeline_version`, so no cache mixes results of both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import torch

from core.device import autocast, cpu_has_native_bf16

__all__ = [
    "ENV",
    "Precision",
    "calibrated_cpu_bf16",
    "inference_autocast",
    "precision_of",
    "policy",
]

ENV = "REVIEW_PRECISION"
Precision = Literal["fp32", "bf16", "fp16"]
_CHOICES = ("auto", "fp32")


def _setting() -> str:
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in _CHOICES:
        raise ValueError(f"{ENV}={value!r}: use one of {', '.join(_CHOICES)}")
    return value


def calibrated_cpu_bf16(manifest: Mapping[str, Any]) -> bool:
    """Whether the bundle's training profile let a CPU fit it in bf16 (absent: no)."""
    profile = (manifest.get("metrics") or {}).get("profile") or {}
    return bool(profile.get("cpu_bf16", False))


def precision_of(device: torch.device, manifest: Mapping[str, Any]) -> Precision:
    """What a bundle with ``manifest`` runs in on ``device`` under the current setting."""
    if _setting() == "fp32":
        return "fp32"
    if device.type == "cuda":
        return "fp16"
    return "bf16" if calibrated_cpu_bf16(manifest) and cpu_has_native_bf16() else "fp32"


def inference_autocast(device: torch.device, manifest: Mapping[str, Any]) -> torch.autocast:
    """The autocast context for a bundle's forward passes (disabled for fp32)."""
    precision = precision_of(device, manifest)
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    return autocast(device, cpu_bf16=True)


def policy() -> str:
    """The process-wide part of the choice, for cache keys: the setting and the hardware."""
    return f"{_setting()}; cpu_bf16={cpu_has_native_bf16()}; cuda={torch.cuda.is_available()}"


@contextmanager
def setting(value: str) -> Iterator[None]:
    """Run the block under ``REVIEW_PRECISION=value`` (benchmarks comparing both ways).

    It sets a process-wide variable: not for a server with other sessions running."""
    before = os.environ.get(ENV)
    os.environ[ENV] = value
    try:
        _setting()  # refuse a bad value here, not at the first forward pass
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
