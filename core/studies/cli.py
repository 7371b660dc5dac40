"""``python -m core studies``: the registered studies as JSON, for people and scripts."""

from __future__ import annotations

import argparse
import json
import sys

from core.studies import list_studies

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--indent", type=int, default=2, help="JSON indent (0: one line)")


def run(args: argparse.Namespace) -> int:
    studies = [s.describe() for s in list_studies()]
    sys.stdout.write(json.dumps(studies, indent=args.indent or None) + "\n")
    return 0
