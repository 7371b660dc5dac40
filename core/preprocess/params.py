"""Every tunable of preprocessing in one frozen record.

Sizes are fractions of the image (or of a character's height) wherever possible, so the
same settings serve a 720x720 K-Ium view and a 1670x1000 one. The defaults are generic
image-statistics choices explained beside each field; none is fitted to one generator.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PreprocessParams", "DEFAULT_PARAMS"]


@dataclass(frozen=True)
class PreprocessParams:
    """Settings of margin cropping and burned-in text detection."""

    # --- margin (core.preprocess.margin) ---
    #: Margin threshold = this fraction of the picture background, clamped to ``dark_clamp``:
    #: a margin of 0-40 grey is far below half of any usable DSA background.
    dark_fraction: float = 0.5
    dark_clamp: tuple[int, int] = (30, 100)
    #: Opening square as a fraction of the shorter side (odd, >= 5 px): wider than ticks,
    #: border lines and caption strokes, far narrower than the picture.
    open_fraction: float = 1 / 150
    #: A row/column is picture when its bright share reaches this fraction of the best one;
    #: low, so that a thick vessel along the edge never pushes the crop inwards.
    keep_fraction: float = 0.2
    #: Fewest pixels on one side that count as margin (JPEG blurs an edge by 1-2 px).
    min_margin: int = 3

    # --- text strokes (core.preprocess.strokes) ---
    #: Side of the local-background median window, as a fraction of the shorter side.
    background_window: float = 1 / 12
    #: A stroke differs from the local background by at least this many grey levels, or
    #: ``noise_k`` robust noise sigmas if that is more.
    min_contrast: int = 25
    noise_k: float = 4.0
    #: Dark text must be near-saturated black: at most this grey level.
    black_level: int = 45

    # --- characters and lines (core.preprocess.glyphs, core.preprocess.lines) ---
    #: Character height range: at least ``min_char_px``, at most this fraction of the
    #: picture's shorter side.
    min_char_px: int = 6
    max_char_fraction: float = 0.08
    #: Neighbouring characters of a line are at most this many heights apart.
    line_gap: float = 2.0
    #: Characters needed for a line: bright text is rare in a DSA picture, dark text must
    #: beat the vessels, so it needs more evidence.
    min_chars_bright: int = 2
    min_chars_dark: int = 3
    #: Box padding around a line, as a fraction of its height (anti-aliasing, JPEG ringing).
    box_pad: float = 0.25

    # --- fill (core.preprocess.fill) ---
    #: Stroke mask dilation (px) before inpainting, and the inpainting radius.
    fill_dilate: int = 2
    inpaint_radius: int = 3


DEFAULT_PARAMS = PreprocessParams()
