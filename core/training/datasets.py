"""In-memory datasets over cached, already-resized ``uint8`` views.

Decoding a 1000-px JPEG and cleaning it costs far more than a training step of a small
model, so :mod:`core.training.data` does it once per image; here each item is only an
optional gentle augmentation of a small array and the model's normalisation, through
:func:`core.preprocess.transforms.to_model_tensor` exactly as at inference.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.models.registry import InputSpec
from core.preprocess.transforms import to_model_tensor
from core.training.profiles import Augment

__all__ = ["ArrayDataset", "augment_image", "jitter_intensity"]


def jitter_intensity(img: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """Gentle contrast/brightness jitter of a ``uint8`` image (opacity is diagnostic)."""
    gain = 1.0 + rng.uniform(-aug.contrast, aug.contrast)
    bias = rng.uniform(-aug.brightness, aug.brightness) * 255
    mean = float(img.mean())
    return np.clip((img - mean) * gain + mean + bias, 0, 255).astype(np.uint8)


def augment_image(img: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """One random small affine warp plus contrast/brightness jitter of a ``uint8`` image.

    Borders replicate the edge so no artificial dark frame appears (a dark frame is what
    margins look like, and the model should never learn it).
    """
    h, w = img.shape
    angle = rng.uniform(-aug.rotate, aug.rotate)
    scale = 1.0 + rng.uniform(-aug.scale, aug.scale)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += rng.uniform(-aug.shift, aug.shift, size=2) * (w, h)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return jitter_intensity(out, aug, rng)


class ArrayDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """``images[i]`` (uint8 HxW, already at the model's size) with ``labels[i]`` (float).

    Augmentation draws from a generator seeded by ``torch``'s RNG, so a seeded run (and
    each seeded DataLoader worker) sees the same jitter every time.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        spec: InputSpec,
        augment: Augment | None = None,
    ) -> None:
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W), got {images.dtype} {images.shape}")
        if tuple(images.shape[1:]) != tuple(spec.size):
            raise ValueError(f"images are {images.shape[1:]}, the model expects {spec.size}")
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} label rows")
        self.images = images
        self.labels = torch.tensor(np.asarray(labels, dtype=np.float32).reshape(len(images), -1))
        self.augment = augment
        self.spec = spec

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.images[i]
        if self.augment is not None:
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
            img = augment_image(img, self.augment, np.random.default_rng(seed))
        s = self.spec  # the inference path's normalisation; the resize is a no-op here
        x = to_model_tensor(img, s.size[0], s.mean, s.std, s.in_chans)
        return torch.from_numpy(x), self.labels[i]
