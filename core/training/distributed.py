"""Process-group setup for ``torchrun``, and the seeding that makes a run repeatable.

Launched by ``torchrun --nproc_per_node=N`` the environment carries ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; we then join a process group (gloo on CPU, nccl on CUDA)
and each rank trains on its shard. Launched plainly, :func:`init_distributed` returns a
world of one and no process group exists, so every caller runs the same code either way.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from core.device import resolve_device

__all__ = [
    "DistInfo",
    "init_distributed",
    "shutdown_distributed",
    "seed_everything",
    "gather_objects",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run. ``is_main`` decides who writes files and logs."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init_distributed(device: str | torch.device | None = None) -> DistInfo:
    """Join the torchrun process group if there is one; otherwise a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(0, 1, 0, resolve_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    log.info("rank %d/%d on %s", rank, world, dev)
    return DistInfo(rank, world, local_rank, dev)


def shutdown_distributed(info: DistInfo) -> None:
    """Leave the process group (a no-op for a world of one)."""
    if info.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def gather_objects(info: DistInfo, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank (``[obj]`` for a world of one)."""
    if not info.active:
        return [obj]
    out: list[Any] = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, numpy and torch; on CPU also ask torch for deterministic kernels.

    On CUDA, deterministic kernels need ``CUBLAS_WORKSPACE_CONFIG`` and cost speed, so a GPU
    run is seeded but not bit-exact; ``warn_only`` keeps an op without a deterministic
    variant from aborting a run.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic and not torch.cuda.is_available():
        torch.use_deterministic_algorithms(True, warn_only=True)
