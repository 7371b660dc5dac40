"""Reshapes from a hooked layer's output to the NCHW layout the CAM methods expect.

Checked against timm 1.0.31: inside ``SwinTransformerV2Cr`` every *block* of a stage takes
and returns channels-last ``(B, H, W, C)``; the *stage* module converts back and returns
``(B, C, H, W)``. The registry hooks the last block of the last stage, so its reshape is
:func:`bhwc_to_bchw`. pytorch-grad-cam's Swin-v1 helper expects tokens ``(B, L, C)`` and
would scramble these maps. ``tests/test_cam_reshape.py`` checks the layout empirically.
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["RESHAPES", "Reshape", "bhwc_to_bchw", "get_reshape"]

Reshape = Callable[[torch.Tensor], torch.Tensor]


def bhwc_to_bchw(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B, C, H, W)``; H and W keep their meaning (no transpose)."""
    if x.ndim != 4:
        raise ValueError(f"expected a 4-D channels-last tensor, got shape {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2)


#: Reshapes by the name stored in ``ModelSpec.cam_reshape`` (and so in bundles).
RESHAPES: dict[str, Reshape] = {"bhwc_to_bchw": bhwc_to_bchw}


def get_reshape(name: str | None) -> Reshape | None:
    """The reshape for a spec; ``None`` means the hooked layer is already NCHW."""
    if name is None:
        return None
    if name not in RESHAPES:
        raise KeyError(f"unknown CAM reshape {name!r}; known: {sorted(RESHAPES)}")
    return RESHAPES[name]
