"""Window/level on a chest film: the file's own presets, or the reader's centre and width,
applied to the stored values (after the Modality LUT) when the film keeps them.

The DICOM's 8-bit display copy has already been windowed once, so a narrow window on it
only stretches 256 levels; on the stored values (10-16 bits) it shows what a
radiologist's console would. PNG and JPEG films have no stored values: the window
then acts on the display levels 0-255.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.studies.chest.film import Film

__all__ = ["Window", "WindowSource", "apply_window", "window_source"]


@dataclass(frozen=True)
class Window:
    """A window: ``centre`` and ``width`` (> 0) in the source's units."""

    centre: float
    width: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.centre) and np.isfinite(self.width) and self.width > 0):
            raise ValueError(f"a window needs a finite centre and a width > 0, got {self}")


@dataclass(frozen=True)
class WindowSource:
    """What a window acts on: ``values`` (2-D float), whether low values are bright
    (MONOCHROME1), the file's presets, the full-range window and the values' range."""

    values: np.ndarray
    invert: bool
    presets: tuple[Window, ...]
    full: Window
    low: float
    high: float
    stored: bool  # True: stored values; False: the 8-bit display levels


def apply_window(values: np.ndarray, window: Window, invert: bool = False) -> np.ndarray:
    """``uint8`` display pixels: ``centre - width/2`` is black, ``centre + width/2`` white
    (linear, clipped), then inverted for MONOCHROME1 so low values are dark everywhere."""
    lo = window.centre - window.width / 2.0
    scaled = (np.asarray(values, np.float32) - lo) / np.float32(window.width)
    out = np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
    return 255 - out if invert else out


def window_source(film: Film) -> WindowSource:
    """The values a window acts on for ``film``, its presets and its full range."""
    stored = film.values is not None
    values = film.values if stored else film.pixels.astype(np.float32)
    low, high = float(np.min(values)), float(np.max(values))
    full = Window((low + high) / 2.0, max(high - low, 1.0))
    presets = (
        tuple(Window(c, w) for c, w in film.windows if np.isfinite(c) and w > 0) if stored else ()
    )
    return WindowSource(values, film.invert if stored else False, presets, full, low, high, stored)
