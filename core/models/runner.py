"""Batched network passes of a loaded bundle: stage-1 logits (optionally with CAM maps
from the same pass) and stage-2 probabilities, for any list of cleaned crops.

Passes run in the precision the bundle was calibrated in (:mod:`core.models.precision`).
Every pass on a shared model holds that model's lock (:func:`core.cam.engine.model_lock`):
a plain forward on a model that another thread is explaining would fire that thread's CAM
hooks and corrupt its maps.
"""

from __future__ import annotations

from typing import Iterator, Sequence, TypeVar

import numpy as np
import torch

from core.cam.engine import compute_cams, model_lock
from core.cam.targets import location_targets, stage1_targets
from core.models.bundle import Bundle
from core.models.inputs import model_batch
from core.models.model_thread import on_model_thread
from core.models.precision import inference_autocast

__all__ = ["DEFAULT_BATCH", "sigmoid", "batched", "logits", "cam_logits"]

#: Views per forward pass. Bundle models are frozen and CAM gradients start at the hooked
#: layer, so memory per image is close to a no-grad forward even with CAM on.
DEFAULT_BATCH = 32
T = TypeVar("T")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


@on_model_thread
def logits(
    bundle: Bundle, role: str, images: Sequence[np.ndarray], batch: int = DEFAULT_BATCH
) -> np.ndarray:
    """``(N, outputs)`` raw logits of one role's model, no gradients."""
    spec, model = bundle.spec(role), bundle.model(role)
    out = [np.zeros((0, spec.num_outputs), np.float32)]
    for chunk in batched(images, batch):
        x = model_batch(chunk, spec.input, bundle.device)
        with model_lock(model), torch.no_grad(), inference_autocast(x.device, bundle.manifest):
            out.append(model(x).float().cpu().numpy())
    return np.concatenate(out)


@on_model_thread
def cam_logits(
    bundle: Bundle,
    role: str,
    images: Sequence[np.ndarray],
    bases: Sequence[str] | None = None,
    *,
    method: str,
    batch: int = DEFAULT_BATCH,
) -> tuple[np.ndarray, list[np.ndarray], str]:
    """Logits and raw CAM maps from one fused pass per batch.

    Stage 1 explains its positive logit; a stage-2 role explains ``bases[i]`` for image
    ``i``. Returns ``(logits (N, outputs), maps, hooked layer)``.
    """
    spec, model = bundle.spec(role), bundle.model(role)
    out, maps = [np.zeros((0, spec.num_outputs), np.float32)], []
    for start in range(0, len(images), max(1, batch)):
        chunk = images[start : start + batch]
        if role == "stage1":
            targets = stage1_targets(len(chunk))
        else:
            if bases is None:
                raise ValueError(f"{role} CAM needs one location per image")
            targets = location_targets(spec, bases[start : start + batch])
        x = model_batch(chunk, spec.input, bundle.device)
        with inference_autocast(x.device, bundle.manifest):
            result = compute_cams(model, spec, x, targets, method=method)
        out.append(result.logits)
        maps.extend(result.raw)
    return np.concatenate(out), maps, spec.cam_layer
