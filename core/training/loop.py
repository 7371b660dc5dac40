"""The one training loop every network goes through.

* Mixed precision (:func:`core.device.autocast`): fp16 with grad scaling on CUDA, bf16 on
  CPUs that compute it natively, fp32 otherwise.
* A checkpoint after every epoch (model, optimiser, schedule, history, best weights), saved
  as plain tensors and numbers so ``torch.load(weights_only=True)`` reads it; ``resume``
  continues at the next epoch. Each epoch's randomness is derived from ``(seed, epoch,
  rank)``, so a resumed run draws exactly what an uninterrupted one would have.
* DDP when the process group is active: the model is wrapped, each rank trains on its
  shard, and only rank 0 writes checkpoints and draws progress bars.
* The returned model carries the weights of the epoch with the best validation score.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core.device import autocast
from core.training.checkpoint import (
    TrainingState,
    restore_checkpoint,
    save_checkpoint,
    state_dict_cpu,
)
from core.training.datasets import ArrayDataset
from core.training.distributed import DistInfo
from core.training.evaluate import ScoreFn, validate
from core.training.profiles import StageConfig
from core.training.sampling import ShardedSampler

__all__ = ["FitResult", "fit", "Progress", "cosine_schedule", "epoch_seed"]

log = logging.getLogger(__name__)

#: ``progress(fraction_done, message)``: how the demo builder and the app follow training.
Progress = Callable[[float, str], None]
#: Entered around every training epoch, after ``net.train()`` (e.g. to keep frozen layers
#: in eval mode, or to switch a model to crop-sized inputs and cell-logit outputs).
TrainContext = Callable[[], AbstractContextManager]
Targets = torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]


@dataclass
class FitResult:
    """The best-epoch model (unwrapped, on the training device) and the per-epoch history."""

    model: nn.Module
    history: list[dict[str, float | None]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float | None = None


@dataclass
class _Run:
    """The pieces one epoch needs, built once by :func:`fit`."""

    model: nn.Module  # unwrapped
    net: nn.Module  # DDP-wrapped when distributed, else ``model``
    loader: DataLoader
    sampler: ShardedSampler
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    device: torch.device
    train_context: TrainContext
    cpu_bf16: bool


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def _seed_worker(worker_id: int) -> None:
    """DataLoader workers inherit a torch seed per worker; give numpy the same."""
    np.random.seed(torch.initial_seed() % 2**32)


def cosine_schedule(total_steps: int, warmup_fraction: float) -> Callable[[int], float]:
    """Linear warm-up then cosine decay to zero, as a multiplier of the base learning rate."""
    warm = max(1, int(warmup_fraction * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total_steps - warm))))

    return factor


def _build(
    model: nn.Module,
    train_set: Dataset,
    cfg: StageConfig,
    loss_fn: nn.Module,
    info: DistInfo,
    seed: int,
    sample_weights: np.ndarray | None,
    num_workers: int,
    train_context: TrainContext,
    cpu_bf16: bool,
) -> _Run:
    device = info.device
    # channels-last convolutions are ~25 % faster on CPU (oneDNN) and on tensor cores alike.
    model = model.to(device, memory_format=torch.channels_last)
    ids = [device.index] if device.type == "cuda" else None
    net = DistributedDataParallel(model, device_ids=ids) if info.active else model
    sampler = ShardedSampler(
        len(train_set),
        weights=sample_weights,
        num_samples=cfg.samples_per_epoch,
        seed=seed,
        rank=info.rank,
        world=info.world,
    )
    loader = DataLoader(
        train_set,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=_seed_worker,
        drop_last=len(sampler) > cfg.batch_size,
        persistent_workers=num_workers > 0,
    )
    trainable = [p for p in model.parameters() if p.requires_grad]  # frozen layers stay out
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.epochs * len(loader)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_schedule(total, cfg.warmup_fraction))
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    return _Run(
        model, net, loader, sampler, loss_fn.to(device), opt, sched, scaler, device,
        train_context, cpu_bf16,
    )  # fmt: skip


def _to_device(y: Targets, device: torch.device) -> Targets:
    """Labels, or a tuple of target tensors (localised training), on ``device``."""
    if isinstance(y, torch.Tensor):
        return y.to(device, non_blocking=True)
    return tuple(t.to(device, non_blocking=True) for t in y)


def _train_epoch(run: _Run, bar: tqdm, on_step: Callable[[int], None]) -> float:
    """One pass over this rank's shard; returns the mean training loss."""
    run.net.train()
    total, count = 0.0, 0
    with run.train_context():
        for step, (x, y) in enumerate(run.loader):
            x = x.to(run.device, non_blocking=True, memory_format=torch.channels_last)
            y = _to_device(y, run.device)
            with autocast(run.device, run.cpu_bf16):
                out = run.net(x)
            loss = run.loss_fn(out.float(), y)
            run.optimizer.zero_grad(set_to_none=True)
            run.scaler.scale(loss).backward()
            run.scaler.step(run.optimizer)
            run.scaler.update()
            run.scheduler.step()
            total, count = total + float(loss.detach()) * len(x), count + len(x)
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
            on_step(step)
    return total / max(count, 1)


def fit(
    model: nn.Module,
    train_set: Dataset,
    val_set: ArrayDataset | None,
    *,
    cfg: StageConfig,
    loss_fn: nn.Module,
    score_fn: ScoreFn,
    info: DistInfo,
    seed: int = 0,
    sample_weights: np.ndarray | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    num_workers: int = 0,
    progress: Progress | None = None,
    desc: str = "train",
    train_context: TrainContext = nullcontext,
    cpu_bf16: bool = True,
    before_epoch: Callable[[nn.Module, int], None] | None = None,
) -> FitResult:
    """Train ``model`` for ``cfg.epochs`` and return it at its best validation epoch.

    Without a validation set (or when ``score_fn`` is undefined on it) the best epoch is
    the one with the lowest validation loss, or the last one. ``before_epoch(model, epoch)``
    runs before each epoch, also on a resumed run (hard-negative mining uses it).
    """
    run = _build(
        model, train_set, cfg, loss_fn, info, seed, sample_weights, num_workers,
        train_context, cpu_bf16,
    )  # fmt: skip
    steps = len(run.loader)
    state = TrainingState()
    if resume and checkpoint is not None and checkpoint.is_file():
        state = restore_checkpoint(checkpoint, run.model, run.optimizer, run.scheduler, run.scaler)
        log.info(
            "%s: resumed from %s at epoch %d/%d", desc, checkpoint, state.epoch + 2, cfg.epochs
        )
    best_key = -math.inf if state.best_epoch < 0 else _rank_key(state.history[state.best_epoch])
    bar = tqdm(
        total=cfg.epochs * steps,
        initial=(state.epoch + 1) * steps,
        desc=desc,
        disable=not info.is_main,
        dynamic_ncols=True,
        mininterval=0.5 if sys.stderr.isatty() else 30.0,  # a log file gets few bar lines
    )
    with bar, logging_redirect_tqdm():
        for epoch in range(state.epoch + 1, cfg.epochs):
            run.sampler.set_epoch(epoch)
            torch.manual_seed(epoch_seed(seed, epoch, info.rank))

            def on_step(step: int, epoch: int = epoch) -> None:
                if progress is not None and info.is_main:
                    done = (epoch * steps + step + 1) / (cfg.epochs * steps)
                    progress(done, f"{desc}: epoch {epoch + 1}/{cfg.epochs}")

            if before_epoch is not None:
                before_epoch(run.model, epoch)
            row = {"epoch": epoch, "train_loss": _train_epoch(run, bar, on_step)}
            row |= validate(run.model, val_set, run.loss_fn, score_fn, run.device, cpu_bf16)
            state.history.append(row)
            state.epoch = epoch
            if _rank_key(row) > best_key:
                best_key, state.best_epoch, state.best_score = (
                    _rank_key(row),
                    epoch,
                    row["val_score"],
                )
                state.best_model = state_dict_cpu(run.model)
            if info.is_main:
                log.info("%s epoch %d/%d %s", desc, epoch + 1, cfg.epochs, _fmt(row))
                if checkpoint is not None:
                    save_checkpoint(
                        checkpoint, state, run.model, run.optimizer, run.scheduler, run.scaler
                    )
    if state.best_model is not None:
        run.model.load_state_dict(state.best_model)
    return FitResult(run.model, state.history, state.best_epoch, state.best_score)


def _rank_key(row: dict[str, float | None]) -> float:
    """Higher is better: the validation score, else minus the validation loss, else the epoch
    (so with no validation at all the last epoch wins)."""
    if row.get("val_score") is not None:
        return float(row["val_score"])  # type: ignore[arg-type]
    if row.get("val_loss") is not None:
        return -1e6 - float(row["val_loss"])  # type: ignore[arg-type]
    return -1e12 + float(row["epoch"])  # type: ignore[arg-type]


def _fmt(row: dict[str, float | None]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in row.items() if isinstance(v, float))
