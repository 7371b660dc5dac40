"""``python -m core fuse DATA OUT.csv``: fuse a VinBigData folder's readers into one box set.

Writes ``OUT.csv`` in ``train.csv`` layout (``rad_id`` "fused", plus ``score`` and
``n_readers``), so everything that reads a chest ``train.csv`` reads it back. Defaults
are :data:`~core.studies.chest.fusion.DEFAULT_FUSION`, the setting ``evaluate`` uses.
``--agreement`` also prints the inter-reader agreement of DATA as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from core.studies.chest.fusion import DEFAULT_FUSION, METHODS, fuse_readers, fused_to_train

__all__ = ["configure", "run"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="VinBigData folder (train.csv + images)")
    parser.add_argument("out", type=Path, help="fused boxes, train.csv layout")
    parser.add_argument("--method", choices=METHODS, default=DEFAULT_FUSION.method)
    parser.add_argument(
        "--iou-thr", type=float, default=DEFAULT_FUSION.iou_thr, help="boxes above it merge"
    )
    parser.add_argument(
        "--skip-box-thr", type=float, default=DEFAULT_FUSION.skip_box_thr,
        help="boxes scoring below it are dropped (reader boxes score 1.0)",
    )  # fmt: skip
    parser.add_argument(
        "--conf-type", default=DEFAULT_FUSION.conf_type, help="WBF score rule (ensemble-boxes)"
    )
    parser.add_argument(
        "--agreement", action="store_true", help="print inter-reader agreement as JSON"
    )


def run(args: argparse.Namespace) -> int:
    from core.studies.chest.layout import read_vinbigdata

    annotations = read_vinbigdata(args.data)
    if len(annotations.errors):
        log.warning("%d rows of %s were rejected (see its errors report)",
                    len(annotations.errors), args.data)  # fmt: skip
    fused = fuse_readers(
        annotations,
        method=args.method,
        iou_thr=args.iou_thr,
        skip_box_thr=args.skip_box_thr,
        conf_type=args.conf_type,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fused_to_train(fused).to_csv(args.out, index=False)
    log.info("%d fused rows of %d images -> %s", len(fused), len(annotations.image_ids), args.out)
    if args.agreement:
        from core.metrics.files import json_ready
        from core.studies.chest.agreement import reader_agreement

        report = reader_agreement(annotations)
        sys.stdout.write(json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n")
    return 0
