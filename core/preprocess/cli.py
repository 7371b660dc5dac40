"""``python -m core preprocess IN OUT``: crop margins and fill burned-in text for a folder.

Writes ``OUT/<stem>.png`` per image, ``OUT/preprocess.csv`` (one row per image, the
columns of :meth:`core.case.PreprocessRecord.to_row`) and ``OUT/errors.csv`` (``file,
reason`` for every file that could not be used; header only when all went well). A bad
file never stops the run and never prints a traceback: it gets one warning line and a row.
Files are decoded by :func:`core.intake.decode_image`, which checks the byte size and the
header's declared dimensions against :mod:`core.limits` before decoding anything.

Exit status: 0 all images done; 1 some files are listed in ``errors.csv``; 2 ``IN`` is
not a readable folder or image.
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

import cv2
from tqdm import tqdm

from core.intake import IntakeError, decode_image
from core.intake.guards import check_bytes
from core.preprocess.pipeline import preprocess_image

__all__ = ["configure", "run", "IMAGE_SUFFIXES", "CSV_COLUMNS", "ERROR_COLUMNS"]

log = logging.getLogger(__name__)

#: Files looked at in ``IN``; anything else (train.csv, truth.json) is skipped quietly.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".dcm"})
CSV_COLUMNS = (
    "file", "image_type", "crop_x0", "crop_y0", "crop_x1", "crop_y1", "text_boxes",
    "surround", "field_shape",
)  # fmt: skip
ERROR_COLUMNS = ("file", "reason")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="folder of images (or one image)")
    parser.add_argument("output", type=Path, help="folder for cleaned PNGs and the CSVs")


def _inputs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file())
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if len(images) < len(files):
        log.info("skipping %d non-image files in %s", len(files) - len(images), path)
    return images


def _process(path: Path, out_dir: Path) -> dict[str, object]:
    """Preprocess one file and write its PNG; raises IntakeError/OSError/cv2.error."""
    check_bytes(path.name, path.stat().st_size)  # before reading a huge file into memory
    gray, _ = decode_image(path.name, path.read_bytes())
    image, record = preprocess_image(gray)
    target = out_dir / f"{path.stem}.png"
    if not cv2.imwrite(str(target), image):
        raise OSError(f"could not write {target}")
    return record.to_row(path.name)


def run(args: argparse.Namespace) -> int:
    src: Path = args.input
    out: Path = args.output
    if not src.exists():
        log.error("input %s does not exist", src)
        return 2
    try:
        files = _inputs(src)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        log.error("cannot use %s -> %s: %s", src, out, err)
        return 2
    if not files:
        log.warning("no images (%s) in %s", ", ".join(sorted(IMAGE_SUFFIXES)), src)

    rows: list[dict[str, object]] = []
    errors: list[dict[str, str]] = []
    stems: set[str] = set()
    for path in tqdm(files, desc="preprocess", unit="img", disable=None):
        reason = None
        if path.stem in stems:
            reason = f"another input already wrote {path.stem}.png"
        else:
            try:
                rows.append(_process(path, out))
                stems.add(path.stem)
            except IntakeError as err:
                reason = err.reason
            except (OSError, cv2.error, ValueError) as err:
                reason = f"could not be processed: {err}".splitlines()[0]
        if reason:
            log.warning("%s: %s", path.name, reason)
            errors.append({"file": path.name, "reason": reason})

    _write_csv(out / "preprocess.csv", CSV_COLUMNS, rows)
    _write_csv(out / "errors.csv", ERROR_COLUMNS, errors)
    log.info("%d images preprocessed into %s; %d files in errors.csv", len(rows), out, len(errors))
    return 1 if errors else 0


def _write_csv(path: Path, columns: tuple[str, ...], rows: list) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
