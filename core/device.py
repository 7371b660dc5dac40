"""Which torch device to run on, and in which precision.

A GPU when there is one, the CPU otherwise: one place, so the CLI, the app and the
benchmarks agree, and ``REVIEW_DEVICE`` can force a choice (e.g. ``cpu`` on a shared GPU
box). Training and batch scoring use mixed precision: fp16 autocast on CUDA, and bfloat16
autocast on a CPU that computes bf16 natively (AVX512-BF16 or AMX), where oneDNN runs
ResNet18 about twice as fast as in fp32 (``make bench``). A CPU without it would emulate
bf16 slowly, so it stays in fp32.
"""

from __future__ import annotations

import os
from functools import cache

import torch

__all__ = ["resolve_device", "describe_device", "cpu_has_native_bf16", "autocast"]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else ``$REVIEW_DEVICE``, else ``cuda`` when available, else CPU."""
    if device is not None:
        return torch.device(device)
    env = os.environ.get("REVIEW_DEVICE")
    if env:
        return torch.device(env)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device) -> str:
    """Human-readable name recorded with timings, e.g. ``cuda:0 (NVIDIA H100)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({torch.get_num_threads()} threads)"


@cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic in hardware (AVX512-BF16 or AMX tiles)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def autocast(device: torch.device, cpu_bf16: bool = True) -> torch.autocast:
    """Mixed-precision context for training and batch scoring on ``device``.

    CUDA: fp16 (pair it with a ``GradScaler`` when training). CPU: bf16 when ``cpu_bf16``
    and the CPU has it natively, else disabled (fp32).
    """
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_bf16 and cpu_has_native_bf16())
