"""``python -m core coco DATA OUT.json [--fused | --reader R]``: a chest folder as COCO.

``DATA`` is a VinBigData folder (``train.csv`` + images), or a YOLO folder (``labels/``,
read back to original pixels) when it has no ``train.csv``: train.csv is authoritative.
The default is the readers' boxes fused with ``fuse``'s default settings; ``--reader R``
exports one reader's boxes and ``--reader all`` every reader's. Rejected rows are counted
in the log and written with ``--errors``. Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from core.studies.chest.annotations import AnnotationError, Annotations
from core.studies.chest.coco import CocoError, to_coco, write_coco
from core.studies.chest.fusion import DEFAULT_FUSION, METHODS, FusionError, fuse_readers
from core.studies.chest.layout import TRAIN_CSV, list_images, read_vinbigdata, write_errors
from core.studies.chest.yolo import LABELS_DIR, read_yolo

__all__ = ["configure", "read_labels", "run"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="VinBigData folder (or a YOLO folder)")
    parser.add_argument("out", type=Path, help="COCO JSON to write")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--fused", action="store_true", help="fused readers' boxes (default)")
    which.add_argument("--reader", metavar="R", help="one reader's boxes (R1..R17), or 'all'")
    parser.add_argument("--method", choices=METHODS, default=DEFAULT_FUSION.method)
    parser.add_argument("--iou-thr", type=float, default=DEFAULT_FUSION.iou_thr)
    parser.add_argument("--skip-box-thr", type=float, default=DEFAULT_FUSION.skip_box_thr)
    parser.add_argument("--errors", type=Path, help="also write the rejected rows here (CSV)")


def read_labels(folder: Path) -> Annotations:
    """``train.csv`` when the folder has one, else its YOLO labels."""
    if (folder / TRAIN_CSV).is_file() or not (folder / LABELS_DIR).is_dir():
        return read_vinbigdata(folder)
    log.info("%s has no %s: reading its YOLO labels", folder, TRAIN_CSV)
    return read_yolo(folder)


def run(args: argparse.Namespace) -> int:
    try:
        annotations = read_labels(args.data)
        fused = None
        if args.reader is None:
            fused = fuse_readers(annotations, method=args.method, iou_thr=args.iou_thr,
                                 skip_box_thr=args.skip_box_thr)  # fmt: skip
        reader = None if args.reader in (None, "all") else args.reader
        data = to_coco(
            annotations,
            source="fused" if args.reader is None else "reader",
            reader=reader,
            fused_boxes=fused,
            file_names={k: p.name for k, p in list_images(args.data).items()},
        )
    except (AnnotationError, CocoError, FusionError) as err:
        log.error("%s: %s", args.data, err)
        return 2
    if fused is not None:
        data["info"]["fusion"] = {"method": args.method, "iou_thr": args.iou_thr,
                                  "skip_box_thr": args.skip_box_thr}  # fmt: skip
    write_coco(data, args.out)
    if len(annotations.errors):
        log.warning("%d rows or images of %s were rejected", len(annotations.errors), args.data)
    if args.errors is not None:
        write_errors(annotations, args.errors)
    summary = {"images": len(data["images"]), "annotations": len(data["annotations"]),
               "source": data["info"]["source"], "errors": len(annotations.errors),
               "out": str(args.out)}  # fmt: skip
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0
