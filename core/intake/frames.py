"""How a multi-frame DSA run becomes the one image a view holds.

Frames arrive already in the display convention (MONOCHROME2: contrast-filled vessels
dark). Two rules, both recorded in ``SourceInfo.frame_rule``:

- ``minip`` (default): minimum-intensity projection, the darkest value of each pixel over
  the run. Each vessel segment is shown at its own peak opacification, so arterial and
  later-filling vessels all appear, as in a composite DSA image.
- ``peak``: the single frame with the lowest mean, i.e. the most contrast overall. No
  pixel is synthesised, at the price of vessels that fill earlier or later.

Frames are consumed one at a time, so memory stays at one output frame whatever the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np

__all__ = ["FrameRule", "FRAME_RULES", "DEFAULT_FRAME_RULE", "reduce_frames"]

FrameRule = Literal["minip", "peak"]
FRAME_RULES: tuple[FrameRule, ...] = ("minip", "peak")
DEFAULT_FRAME_RULE: FrameRule = "minip"


def reduce_frames(
    frames: Iterable[np.ndarray], rule: FrameRule = DEFAULT_FRAME_RULE
) -> tuple[np.ndarray, str]:
    """Reduce ``uint8`` frames to one; returns the image and a sentence saying how."""
    if rule not in FRAME_RULES:
        raise ValueError(f"unknown frame rule {rule!r}; use one of {', '.join(FRAME_RULES)}")
    best: np.ndarray | None = None
    best_mean = np.inf
    best_at = count = 0
    for count, frame in enumerate(frames, start=1):
        if best is None:
            best, best_mean, best_at = frame.copy(), float(frame.mean()), count
        elif rule == "minip":
            np.minimum(best, frame, out=best)
        elif (mean := float(frame.mean())) < best_mean:
            best, best_mean, best_at = frame.copy(), mean, count
    if best is None:
        raise ValueError("no frames to reduce")
    if count == 1:
        return best, "single frame"
    if rule == "minip":
        return best, f"minimum-intensity projection over {count} frames"
    return best, f"peak frame {best_at} of {count} (lowest mean intensity)"
