"""Name the kind of an image from what preprocessing found in it.

K-Ium has three kinds: ``clean``, ``margin`` and ``margin_text``. The kind follows the
evidence, not the other way round: text is looked for whether or not there is a margin,
and an image where text was found is ``margin_text`` even without a margin, because what
matters downstream is that pixels were filled (the record's boxes say where).
"""

from __future__ import annotations

from core.case import Box, ImageKind

__all__ = ["classify"]


def classify(crop: Box, size: tuple[int, int], text_boxes: tuple[Box, ...]) -> ImageKind:
    """``size`` is ``(width, height)`` of the original image."""
    if text_boxes:
        return "margin_text"
    return "clean" if crop == (0, 0, *size) else "margin"
