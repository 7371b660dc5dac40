"""One chest film decoded for display, and a one-view chest :class:`Case` from uploads.

Decoding goes through the aneurysm study's reader (:func:`core.intake.decode.decode_image`),
so compressed syntaxes, MONOCHROME1 (inverted), Modality and VOI LUT / windowing, 10-16 bits
and the size guards behave the same for both studies, and bad files give the same
:class:`IntakeProblem` messages. Beyond the pixels only technical DICOM tags are read
(pixel spacing, window presets), never an identifier.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut

from core.case import Case, IntakeProblem, ViewImage
from core.intake.decode import decode_image
from core.intake.dicom import DICOM_ERRORS as _DICOM_ERRORS
from core.intake.dicomread import read_dicom, read_dicom_header
from core.intake.errors import IntakeError, record
from core.intake.guards import check_bytes
from core.intake.naming import safe_basename
from core.studies.chest import NAME as STUDY

__all__ = ["VIEW", "Film", "Size", "chest_case", "load_film"]

log = logging.getLogger(__name__)

#: The one view of a chest case.
VIEW = "image"
#: ``(width, height)`` in pixels.
Size = tuple[int, int]


@dataclass(frozen=True)
class Film:
    """One decoded chest film for display, and what is needed to map boxes to the original.

    ``image.pixels`` is ``uint8`` (low values dark, MONOCHROME1 already inverted);
    ``image.source`` carries the photometric, bit depth and what was applied.
    ``pixel_spacing`` is ``(row, column)`` mm, None when absent or 0 (unknown);
    ``windows`` are the file's ``(centre, width)`` presets.

    ``values`` are a grey single-frame DICOM's stored values after the Modality LUT
    (float32, the units the window presets are in), so window/level can be applied to
    the real data rather than to the 8-bit display copy; None for PNG/JPEG, colour or
    multi-frame files. ``invert`` says the file is MONOCHROME1 (low values bright).
    """

    image: ViewImage
    original_size: Size
    pixel_spacing: tuple[float, float] | None = None
    windows: tuple[tuple[float, float], ...] = ()
    values: np.ndarray | None = field(default=None, repr=False, compare=False)
    invert: bool = False

    @property
    def size(self) -> Size:
        """Displayed ``(width, height)``."""
        return int(self.image.pixels.shape[1]), int(self.image.pixels.shape[0])

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: displayed pixels times this are original pixels (1 unless a copy)."""
        (ow, oh), (w, h) = self.original_size, self.size
        return ow / w, oh / h

    @property
    def pixels(self) -> np.ndarray:
        return self.image.pixels

    @property
    def photometric(self) -> str | None:
        return self.image.source.photometric

    @property
    def bits(self) -> int:
        return self.image.source.bit_depth

    @property
    def spacing_text(self) -> str:
        """The spacing for a caption; ``"unknown"`` when the file has none (or 0)."""
        if self.pixel_spacing is None:
            return "unknown"
        return f"{self.pixel_spacing[0]:g} x {self.pixel_spacing[1]:g} mm"

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """``N x 4`` ``x_min y_min x_max y_max`` in displayed pixels -> original pixels."""
        sx, sy = self.scale
        return np.asarray(boxes, dtype=float) * np.array([sx, sy, sx, sy])


def _floats(value: object) -> list[float]:
    items = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    try:
        return [float(v) for v in items]
    except (TypeError, ValueError):
        return []


def _dicom_extras(
    name: str, data: bytes
) -> tuple[tuple[float, float] | None, tuple[tuple[float, float], ...]]:
    """Pixel spacing (None: missing or 0) and window presets; technical tags only, read
    through the intake's header reader (a deflated file is inflated only to its header)."""
    ds = read_dicom_header(name, data)
    spacing = None
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        values = _floats(ds.get(tag))
        if len(values) == 2 and all(math.isfinite(v) and v > 0 for v in values):
            spacing = (values[0], values[1])
            break
    centres, widths = _floats(ds.get("WindowCenter")), _floats(ds.get("WindowWidth"))
    return spacing, tuple(zip(centres, widths, strict=False))


def _modality_values(name: str, data: bytes) -> tuple[np.ndarray | None, bool]:
    """A grey single-frame DICOM's stored values through the Modality LUT (float32), and
    whether it is MONOCHROME1. Read through :func:`read_dicom`, so the byte, dimension and
    per-film pixel guards apply again; anything else (colour, several frames) is None."""
    ds, geo, _ = read_dicom(name, data, STUDY)
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if geo.frames != 1 or int(ds.get("SamplesPerPixel") or 1) != 1 or \
            photometric not in ("MONOCHROME1", "MONOCHROME2"):  # fmt: skip
        return None, False
    ds.pixel_array_options(allow_excess_frames=False)
    values = np.asarray(apply_modality_lut(ds.pixel_array, ds), dtype=np.float32)
    return (values if values.ndim == 2 else None), photometric == "MONOCHROME1"


def load_film(path_or_bytes: str | Path | bytes, name: str | None = None,
              original_size: Size | None = None) -> Film:  # fmt: skip
    """Decode one film through the shared reader; raises :class:`BadFile` / :class:`TooLarge`.

    ``original_size`` is the original ``(width, height)`` of a resized copy (sizes.csv);
    by default the decoded size is the original.
    """
    if isinstance(path_or_bytes, bytes):
        data, base = path_or_bytes, safe_basename(name or "upload")
    else:
        path = Path(path_or_bytes)
        base = safe_basename(name or path.name)
        check_bytes(base, path.stat().st_size)
        data = path.read_bytes()
    pixels, info = decode_image(base, data, study=STUDY)  # the chest per-film pixel cap
    spacing, windows, values, invert = None, (), None, False
    if info.format == "dicom":
        try:
            spacing, windows = _dicom_extras(base, data)
            values, invert = _modality_values(base, data)
        except (IntakeError, *_DICOM_ERRORS) as err:  # decoded already: only odd tags get here
            log.warning("%s: spacing/window tags unreadable (%s)", base, type(err).__name__)
    if values is not None and values.shape != pixels.shape:
        values = None  # a frame rule changed the shape: W/L falls back to display pixels
    size = original_size or (int(pixels.shape[1]), int(pixels.shape[0]))
    return Film(ViewImage(VIEW, pixels, info), size, spacing, windows, values, invert)


def chest_case(files: Sequence[tuple[str, bytes]], case_id: str | None = None) -> Case:
    """A one-view chest :class:`Case` from uploaded ``(name, bytes)``; never raises for input.

    As in the aneurysm intake: the first file that decodes is the image, later ones are
    reported as duplicates, a bad file is an :class:`IntakeProblem` with the decoder's
    message, and no usable file is reported as missing. ``case_id`` defaults to
    ``upload-`` plus the start of the content hash (a file name may carry a name).
    """
    problems: list[IntakeProblem] = []
    views: dict[str, ViewImage] = {}
    for raw_name, data in files:
        base = safe_basename(raw_name)
        if VIEW in views:
            msg = f"{base}: a second file for {VIEW} ({views[VIEW].source.name} is used); " \
                  "this one was ignored"  # fmt: skip
            record(problems, IntakeProblem(base, "duplicate", msg))
            continue
        try:
            views[VIEW] = load_film(data, base).image
        except IntakeError as err:
            record(problems, err.problem())
    case = Case("", views, problems, expected_views=(VIEW,))
    for v in case.missing_views:
        record(problems, IntakeProblem("", "missing", f"{v} (chest film): no usable file"))
    case.case_id = case_id or f"upload-{case.content_hash()[:10]}"
    return case
