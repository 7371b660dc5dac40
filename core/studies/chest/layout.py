"""A VinBigData folder in, checked :class:`Annotations` out, without decoding a pixel.

Folder layout: ``train.csv`` (:data:`TRAIN_COLUMNS`) and one image per ``image_id``, named
``<image_id>.dicom``, ``.dcm`` or ``.png``, directly in the folder, in ``train/`` (the
Kaggle layout) or in ``images/`` (the 512-px PNG set). When an id has several files the
first in that order wins (folder before ``train/`` before ``images/``, then ``.dicom``,
``.dcm``, ``.png``); the others are reported.

Boxes are in *original* pixels, so each image's original size is needed, and it is read
without decoding pixels: DICOM ``Rows``/``Columns`` through pydicom's
``stop_before_pixels``, PNG from its header. The public 512-px PNG copies are not the
original size, so they come with ``sizes.csv`` (``image_id,width,height`` of the
original). **When sizes.csv exists its sizes win, for every image it names**; a PNG it
does not name has no known original size and is reported (its rows with it), while a
DICOM it does not name keeps its header size. Without sizes.csv a PNG is taken as the
original.

The errors report (:func:`write_errors`, :data:`ERROR_COLUMNS`) holds every rejected
``train.csv`` row with its file line, and, with ``line`` 0, problems that belong to an
image rather than a row: an unreadable or duplicate image file, a PNG missing from
sizes.csv, a bad sizes.csv line, an image with no row (not scored). Films are decoded by
:mod:`core.studies.chest.film` (``load_film``, ``chest_case``; re-exported here) through
the aneurysm study's reader; the header reads here use the same limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image, UnidentifiedImageError

from core.intake.decode import sniff_format
from core.intake.dicom import DICOM_ERRORS as _DICOM_ERRORS
from core.intake.dicomread import read_dicom_header
from core.intake.errors import BadFile, IntakeError, TooLarge
from core.intake.guards import check_bytes, check_dimensions, check_study_pixels
from core.studies.chest import NAME as STUDY
from core.studies.chest.annotations import (
    ERROR_COLUMNS,
    AnnotationError,
    Annotations,
    check_rows,
)
from core.studies.chest.film import VIEW, Film, Size, chest_case, load_film

__all__ = [
    "IMAGE_DIRS",
    "IMAGE_SUFFIXES",
    "SIZES_CSV",
    "TRAIN_CSV",
    "VIEW",
    "Film",
    "ImageTable",
    "Size",
    "check_folder",
    "chest_case",
    "header_size",
    "image_path",
    "list_images",
    "load_film",
    "read_sizes",
    "read_vinbigdata",
    "scan_folder",
    "write_errors",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".dicom", ".dcm", ".png")
IMAGE_DIRS: tuple[str, ...] = (".", "train", "images")
SIZES_CSV, TRAIN_CSV = "sizes.csv", "train.csv"


@dataclass(frozen=True)
class ImageTable:
    """A folder's images: file, original size, and what stopped the others."""

    paths: dict[str, Path]
    sizes: dict[str, Size]  # original (width, height) of every usable image
    unusable: dict[str, str]  # image_id -> why it has no size
    notes: list[tuple[str, str]] = field(default_factory=list)  # (image_id or "", reason)


def _candidates(root: Path) -> list[tuple[str, tuple[int, int], Path]]:
    out = []
    for d, sub in enumerate(IMAGE_DIRS):
        folder = root / sub
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            suffix = p.suffix.lower()
            if suffix in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file():
                out.append((p.stem, (d, IMAGE_SUFFIXES.index(suffix)), p))
    return sorted(out, key=lambda c: (c[0], c[1], c[2].name))


def list_images(folder: str | Path) -> dict[str, Path]:
    """``image_id -> file`` for every image of the folder (first by the module's order)."""
    return scan_folder(folder, read_headers=False).paths


def image_path(folder: str | Path, image_id: str) -> Path:
    """The file of one image, by the same order as :func:`list_images`, without a scan."""
    for sub in IMAGE_DIRS:
        for suffix in IMAGE_SUFFIXES:
            for s in (suffix, suffix.upper()):
                if (p := Path(folder) / sub / f"{image_id}{s}").is_file():
                    return p
    raise FileNotFoundError(f"no .dicom, .dcm or .png for image {image_id!r} in {folder}")


def header_size(path: Path) -> Size:
    """An image's ``(width, height)`` from its header alone, checked against the limits and
    the chest study's per-film pixel cap (``core.limits.STUDY_MAX_PIXELS``).

    Raises :class:`BadFile` / :class:`TooLarge` like the decoder would. A deflated DICOM
    is inflated only as far as its header (``read_dicom_header``).
    """
    check_bytes(path.name, path.stat().st_size)
    with path.open("rb") as fh:
        fmt = sniff_format(fh.read(132))
    if fmt is None:
        raise BadFile(path.name, "not a PNG or DICOM image (the content matches neither)")
    try:
        if fmt == "dicom":
            ds = read_dicom_header(path.name, path.read_bytes())  # size checked above
            width, height = int(ds.Columns), int(ds.Rows)
        else:
            with Image.open(path) as img:
                width, height = img.size
    except Image.DecompressionBombError as err:
        raise TooLarge(path.name, "the image declares far too many pixels") from err
    except (UnidentifiedImageError, AttributeError, *_DICOM_ERRORS) as err:
        raise BadFile(path.name, f"the header cannot be read ({type(err).__name__})") from err
    check_dimensions(path.name, width, height)
    check_study_pixels(path.name, width, height, STUDY)
    return width, height


def read_sizes(path: Path) -> tuple[dict[str, Size], list[tuple[str, str]]]:
    """``sizes.csv`` as ``image_id -> (width, height)``, and its bad lines as notes."""
    try:
        table = pd.read_csv(path, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{path.name}: not a readable CSV ({type(err).__name__})") from err
    if missing := [c for c in ("image_id", "width", "height") if c not in table.columns]:
        raise AnnotationError(f"{path.name} lacks the columns {missing}")
    sizes: dict[str, Size] = {}
    notes = []
    for i, (key, w, h) in enumerate(table[["image_id", "width", "height"]].itertuples(False)):
        key = str(key).strip()
        nums = pd.to_numeric(pd.Series([w, h]), errors="coerce")
        if nums.isna().any() or not all(float(v).is_integer() and v > 0 for v in nums):
            notes.append((key, f"{path.name} line {i + 2}: width/height {w!r}x{h!r} unusable"))
        elif key in sizes:
            notes.append((key, f"{path.name} line {i + 2}: a second row for this image_id"))
        else:
            sizes[key] = (int(nums[0]), int(nums[1]))
    return sizes, notes


def scan_folder(folder: str | Path, *, read_headers: bool = True) -> ImageTable:
    """Every image of ``folder`` with its original size (see the module for the rules)."""
    root = Path(folder)
    if not root.is_dir():
        raise AnnotationError(f"{root}: no such folder")
    table = ImageTable({}, {}, {})
    for key, _, p in _candidates(root):
        if key in table.paths:
            used = table.paths[key].relative_to(root)
            table.notes.append((key, f"{p.relative_to(root)}: a second file ({used} is used)"))
        else:
            table.paths[key] = p
    if not read_headers:
        return table
    given, notes = read_sizes(root / SIZES_CSV) if (root / SIZES_CSV).is_file() else ({}, [])
    table.notes.extend(notes)
    for key, p in table.paths.items():
        try:
            size = header_size(p)
        except IntakeError as err:
            table.unusable[key] = str(err)
            continue
        if key in given:
            if given[key] != size and p.suffix.lower() != ".png":
                log.warning("%s: sizes.csv says %s, the header %s; sizes.csv wins", p.name,
                            given[key], size)  # fmt: skip
            size = given[key]
        elif given and p.suffix.lower() == ".png":
            table.unusable[key] = f"{p.name}: a PNG copy with no row in {SIZES_CSV}"
            continue
        table.sizes[key] = size
    return table


def _error_rows(items: list[tuple[str, str]]) -> pd.DataFrame:
    rows = [{"line": 0, "reason": reason, "image_id": key} for key, reason in items]
    return pd.DataFrame(rows, columns=list(ERROR_COLUMNS))


def check_folder(raw: pd.DataFrame, table: ImageTable, *, unlabelled: str) -> Annotations:
    """:func:`check_rows` with the folder's image-level problems folded into the report.

    Rows of an unusable image are rejected with the image's problem; an image with no row
    is reported (``unlabelled`` says where the row was expected) and left out of the sizes.
    """
    keys = set(raw["image_id"].astype(str).str.strip()) if "image_id" in raw else set()
    ann = check_rows(raw, {k: v for k, v in table.sizes.items() if k in keys})
    errors = ann.errors.copy()
    ids = errors["image_id"].astype(str).str.strip()
    for key, why in table.unusable.items():
        errors.loc[ids == key, "reason"] = f"image unusable: {why}"
    extra = list(table.notes)
    extra += [(k, f"image unusable: {why}") for k, why in table.unusable.items() if k not in keys]
    extra += [(k, f"no row in {unlabelled}; not scored") for k in table.sizes if k not in keys]
    parts = [f for f in (errors, _error_rows(extra)) if len(f)]
    errors = pd.concat(parts, ignore_index=True) if parts else errors
    if len(errors):
        log.warning("%d rows or images reported in the errors table", len(errors))
    return Annotations(ann.boxes, ann.sizes, errors[list(ERROR_COLUMNS)])


def read_vinbigdata(folder: str | Path) -> Annotations:
    """Read ``train.csv`` and the images' original sizes; every bad row is reported.

    Raises :class:`AnnotationError` only when the folder or its table cannot be used at
    all (no folder, no or unreadable train.csv, missing columns, unreadable sizes.csv).
    """
    root = Path(folder)
    csv = root / TRAIN_CSV
    if not csv.is_file():
        raise AnnotationError(f"{root}: no {TRAIN_CSV}")
    try:
        check_bytes(csv.name, csv.stat().st_size)
        raw = pd.read_csv(csv, dtype=str)
    except IntakeError as err:
        raise AnnotationError(str(err)) from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{csv.name}: not a readable CSV ({type(err).__name__})") from err
    return check_folder(raw, scan_folder(root), unlabelled=TRAIN_CSV)


def write_errors(annotations: Annotations, path: str | Path) -> Path:
    """The errors report as CSV (:data:`ERROR_COLUMNS`; header only when all is well)."""
    out = Path(path)
    annotations.errors.reindex(columns=list(ERROR_COLUMNS)).to_csv(out, index=False)
    return out
