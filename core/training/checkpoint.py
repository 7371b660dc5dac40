"""Per-epoch training checkpoints that load with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors, numbers, strings and lists/dicts of them (state dicts,
history rows), so loading one can never run code. It is written to a temporary file and
renamed, so a crash mid-save leaves the previous epoch's checkpoint intact. Bundles refuse
pickle files, so checkpoints live beside the bundle, never inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

__all__ = ["TrainingState", "state_dict_cpu", "save_checkpoint", "restore_checkpoint"]

Row = dict[str, float | None]


def state_dict_cpu(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's weights (best-epoch snapshots, checkpoints)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@dataclass
class TrainingState:
    """What a run has done so far: the last finished epoch, history and best snapshot."""

    epoch: int = -1
    history: list[Row] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float | None = None
    best_model: dict[str, torch.Tensor] | None = None


def save_checkpoint(
    path: Path,
    state: TrainingState,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
) -> None:
    """Write the run after ``state.epoch`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "epoch": state.epoch,
            "history": state.history,
            "best_epoch": state.best_epoch,
            "best_score": state.best_score,
            "best_model": state.best_model,
            "model": state_dict_cpu(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
        },
        tmp,
    )
    tmp.replace(path)


def restore_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
) -> TrainingState:
    """Load weights and optimiser/schedule state in place; return the run's state."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ck["model"])
    optimizer.load_state_dict(ck["optimizer"])
    scheduler.load_state_dict(ck["scheduler"])
    scaler.load_state_dict(ck["scaler"])
    return TrainingState(
        ck["epoch"], ck["history"], ck["best_epoch"], ck["best_score"], ck["best_model"]
    )
