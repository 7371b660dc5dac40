"""The chest study's training loop: one loop for every detector family and the classifier.

Every chest network follows the torchvision detection contract (``model(images, targets)``
returns a dict of losses in training mode), or is the normal/abnormal classifier (logits),
so one loop serves them all through a ``step`` function that turns a batch into a loss.
What it shares with the aneurysm loop (:mod:`core.training.loop`) it imports: the seeded,
shardable sampler, the warm-up-then-cosine schedule, atomic ``weights_only`` checkpoints
after every epoch (``resume`` continues at the next one, drawing exactly what an
uninterrupted run would), DDP under ``torchrun`` (gloo on CPU, NCCL on CUDA; rank 0
writes and draws the progress bar).

Detectors train in fp32 on CPU: torchvision's box ops and RoI-align have no bf16 kernels
worth their cost there; on CUDA they use fp16 autocast with a gradient scaler.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core.training.checkpoint import TrainingState, restore_checkpoint, save_checkpoint
from core.training.distributed import DistInfo
from core.training.loop import Progress, cosine_schedule, epoch_seed
from core.training.sampling import ShardedSampler

__all__ = ["LoopConfig", "LoopResult", "Step", "fit_chest", "detector_step", "classifier_step"]

log = logging.getLogger(__name__)

#: ``step(net, batch, device) -> loss``: one batch's scalar training loss.
Step = Callable[[nn.Module, Any, torch.device], torch.Tensor]


@dataclass(frozen=True)
class LoopConfig:
    """How long and how hard to train. ``samples_per_epoch`` shortens (or, with weights,
    sets) an epoch's draws; ``max_grad_norm`` keeps a from-scratch detector's first steps
    (huge RPN losses) from blowing the weights up."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    samples_per_epoch: int | None = None
    max_grad_norm: float = 10.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"epochs, batch size and learning rate must be positive: {self}")


@dataclass
class LoopResult:
    """The trained model (unwrapped, last epoch) and one history row per epoch."""

    model: nn.Module
    history: list[dict[str, float | None]] = field(default_factory=list)
    seconds: float = 0.0
    images: int = 0  # images seen by this rank, for throughput

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else math.nan


def detector_step(net: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
    """Sum of a detector's losses on ``(images, targets, meta)``."""
    images, targets, _ = batch
    images = images.to(device, non_blocking=True)
    targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
    losses = net(images, targets)
    return sum(losses.values())  # type: ignore[return-value]


def classifier_step(net: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
    """Binary cross-entropy of the normal/abnormal logit on ``(images, abnormal)``."""
    images, abnormal = batch[0].to(device), batch[1].to(device).float()
    logits = net(images).reshape(-1)
    return nn.functional.binary_cross_entropy_with_logits(logits, abnormal)


def _loader(train_set: Dataset, cfg: LoopConfig, sampler: ShardedSampler,
            collate: Callable | None) -> DataLoader:  # fmt: skip
    return DataLoader(
        train_set, batch_size=cfg.batch_size, sampler=sampler, num_workers=0,
        collate_fn=collate, drop_last=len(sampler) > cfg.batch_size,
    )  # fmt: skip


def fit_chest(
    model: nn.Module,
    train_set: Dataset,
    *,
    cfg: LoopConfig,
    step: Step,
    info: DistInfo,
    seed: int = 0,
    sample_weights: np.ndarray | None = None,
    collate: Callable | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    desc: str = "train",
) -> LoopResult:
    """Train ``model`` on ``train_set`` for ``cfg.epochs`` and return it (last epoch).

    The dataset may offer ``set_epoch(epoch)`` (the chest sets do): augmentation then
    depends on ``(seed, epoch, index)`` only, so ranks and resumed runs agree.
    """
    device = info.device
    model = model.to(device)
    ids = [device.index] if device.type == "cuda" else None
    net = DistributedDataParallel(model, device_ids=ids) if info.active else model
    sampler = ShardedSampler(
        len(train_set), weights=sample_weights, num_samples=cfg.samples_per_epoch,
        seed=seed, rank=info.rank, world=info.world,
    )  # fmt: skip
    loader = _loader(train_set, cfg, sampler, collate)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = len(loader)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, cosine_schedule(cfg.epochs * steps, cfg.warmup_fraction)
    )
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    state = TrainingState()
    if resume and checkpoint is not None and checkpoint.is_file():
        state = restore_checkpoint(checkpoint, model, opt, sched, scaler)
        log.info(
            "%s: resumed from %s after epoch %d/%d", desc, checkpoint, state.epoch + 1, cfg.epochs
        )
    result = LoopResult(model, state.history)
    bar = tqdm(
        total=cfg.epochs * steps, initial=(state.epoch + 1) * steps, desc=desc,
        disable=not info.is_main, dynamic_ncols=True,
        mininterval=0.5 if sys.stderr.isatty() else 30.0,
    )  # fmt: skip
    started = time.perf_counter()
    with bar, logging_redirect_tqdm():
        for epoch in range(state.epoch + 1, cfg.epochs):
            sampler.set_epoch(epoch)
            if hasattr(train_set, "set_epoch"):
                train_set.set_epoch(epoch)
            torch.manual_seed(epoch_seed(seed, epoch, info.rank))
            net.train()
            total, count = 0.0, 0
            for i, batch in enumerate(loader):
                with torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda"):
                    loss = step(net, batch, device)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"{desc}: loss became {float(loss)} at epoch {epoch + 1}, step {i + 1}; lower the learning rate"
                    )
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                scaler.step(opt)
                scaler.update()
                sched.step()
                n = len(batch[0])
                total, count = total + float(loss.detach()) * n, count + n
                bar.update(1)
                bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
                if progress is not None and info.is_main:
                    progress(
                        (epoch * steps + i + 1) / (cfg.epochs * steps),
                        f"{desc}: epoch {epoch + 1}/{cfg.epochs}",
                    )
            result.images += count
            row: dict[str, float | None] = {"epoch": epoch, "train_loss": total / max(count, 1)}
            state.history.append(row)
            state.epoch = epoch
            if info.is_main:
                log.info(
                    "%s epoch %d/%d train_loss=%.4f", desc, epoch + 1, cfg.epochs, row["train_loss"]
                )
                if checkpoint is not None:
                    save_checkpoint(checkpoint, state, model, opt, sched, scaler)
    result.seconds = time.perf_counter() - started
    return result
