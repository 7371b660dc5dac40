"""The typed case record that flows through ``core``: intake -> preprocessing -> models.

A :class:`Case` is what intake produces from a folder, an upload or a zip. It carries
decoded grey-scale views (vessels dark, the DSA convention), where each came from, the
views its study expects, and every problem met on the way, so that the UI can report them
instead of failing. Intake says which views to expect, so this record names no study's
views; only a case built without them falls back to the first study's (see ``Case``).
Preprocessing adds a :class:`PreprocessRecord` per view; model results live in
``core.models.inference`` and are keyed by :meth:`Case.content_hash`.

No patient identifier is ever stored here: DICOM loading keeps only pixel data and the
few technical tags listed in :class:`SourceInfo`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

import numpy as np


__all__ = [
    "Box",
    "ImageKind",
    "Surround",
    "FieldShape",
    "ProblemKind",
    "SourceInfo",
    "ViewImage",
    "IntakeProblem",
    "Case",
    "PreprocessRecord",
    "CleanView",
]

#: ``(x0, y0, x1, y1)`` in pixel coordinates, end exclusive.
Box = tuple[int, int, int, int]
ImageKind = Literal["clean", "margin", "margin_text"]
#: What lies around the field (``none``: the field fills the image) and the field's outline.
Surround = Literal["black", "white", "grey", "none"]
FieldShape = Literal["rectangular", "circular", "rounded", "full"]
ProblemKind = Literal["missing", "duplicate", "unrecognised_name", "bad_file", "too_large"]


@dataclass(frozen=True)
class SourceInfo:
    """Where a view's pixels came from and what was done to get one 8-bit frame."""

    name: str  # file name only, never a path
    format: Literal["jpeg", "png", "dicom", "other"]
    bit_depth: int = 8
    photometric: str | None = None  # e.g. MONOCHROME1, RGB
    frames: int = 1  # frames in the source; >1 for a DSA run
    frame_rule: str | None = None  # how a multi-frame run became one image
    notes: tuple[str, ...] = ()  # e.g. "MONOCHROME1 inverted", "VOI LUT applied"


@dataclass
class ViewImage:
    """One decoded view: ``pixels`` is ``uint8`` HxW, contrast-filled vessels dark."""

    view: str
    pixels: np.ndarray
    source: SourceInfo

    def __post_init__(self) -> None:
        if self.pixels.dtype != np.uint8 or self.pixels.ndim != 2:
            raise ValueError(
                f"{self.view}: pixels must be 2-D uint8, got {self.pixels.dtype} {self.pixels.shape}"
            )


@dataclass(frozen=True)
class IntakeProblem:
    """Something wrong with the input, phrased for the person who supplied it."""

    file: str
    kind: ProblemKind
    message: str


@dataclass
class Case:
    """One patient's views, with what intake found missing or wrong.

    ``expected_views`` are the views the case's study takes, in display order; intake sets
    them (the aneurysm intake: ``core.schema.VIEWS``), and :attr:`missing_views` is what
    they name that the case lacks.
    """

    case_id: str
    views: dict[str, ViewImage] = field(default_factory=dict)
    problems: list[IntakeProblem] = field(default_factory=list)
    #: ``Aneurysm`` plus the 21 location columns when the case comes from a labelled folder.
    labels: dict[str, int] | None = None
    expected_views: tuple[str, ...] = ()

    @property
    def missing_views(self) -> list[str]:
        return [v for v in self.expected_views if v not in self.views]

    @property
    def is_complete(self) -> bool:
        return not self.missing_views

    def content_hash(self) -> str:
        """SHA-256 of every view's name, size and pixels: the key of everything downstream.

        Two uploads of the same pixels share results and verdicts; a different case never
        does, whatever its views are called, which is what keeps one user's results out of
        another user's session. Views go in sorted name order. The eight DSA names sort in
        ``core.schema.VIEWS`` order, the order of the hash before it covered other names, so
        a DSA case keeps its old key (verdicts stored under it still match).
        """
        h = hashlib.sha256()
        for name in sorted(self.views):
            px = np.ascontiguousarray(self.views[name].pixels)
            h.update(f"{name}:{px.shape[0]}x{px.shape[1]};".encode())
            h.update(px.tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class PreprocessRecord:
    """What preprocessing did to one image, in original pixel coordinates."""

    image_type: ImageKind
    crop: Box
    text_boxes: tuple[Box, ...] = ()
    original_size: tuple[int, int] = (0, 0)  # (width, height)
    #: What preprocessing found around the field; defaults keep older records readable.
    surround: Surround = "none"
    field_shape: FieldShape = "full"

    def to_row(self, file: str) -> dict[str, object]:
        """A row of ``preprocess.csv``."""
        x0, y0, x1, y1 = self.crop
        return {
            "file": file,
            "image_type": self.image_type,
            "crop_x0": x0,
            "crop_y0": y0,
            "crop_x1": x1,
            "crop_y1": y1,
            "text_boxes": json.dumps([list(b) for b in self.text_boxes]),
            "surround": self.surround,
            "field_shape": self.field_shape,
        }


@dataclass
class CleanView:
    """A preprocessed view: the cropped, text-filled image and the record of how."""

    view: str
    image: np.ndarray  # uint8 HxW, the crop of the original with text filled
    record: PreprocessRecord
