"""``python -m core audit export OUT.csv [--db URL]``: the audit trail as CSV, for an admin.

The export is a command, not a page button: whoever can run it already has the server and
its database, which is exactly who may read the whole trail. ``--db`` defaults as the app
does (``$REVIEW_DB_URL``, else SQLite under the data folder); opening the database brings
it to the current schema first. Exit status: 0 written; 2 the database or the file failed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sqlalchemy.exc import ArgumentError

from core.verdicts.audit import export_audit_csv
from core.verdicts.errors import VerdictStoreError
from core.verdicts.store import VerdictStore

__all__ = ["configure", "run"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    export = verbs.add_parser("export", help="write every audit row as CSV")
    export.add_argument("out", type=Path, help="CSV file to write")
    export.add_argument("--db", help="SQLAlchemy database URL (default: the app's)")


def run(args: argparse.Namespace) -> int:
    if args.audit_command != "export":  # argparse allows only known actions
        raise AssertionError(f"unknown audit action {args.audit_command!r}")
    try:
        with VerdictStore.open(args.db) as store:
            n = export_audit_csv(store, str(args.out))
    except (VerdictStoreError, ValueError, ArgumentError) as exc:  # the database or its URL
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot write %s: %s", args.out, exc.strerror or exc)
        return 2
    log.info("wrote %d audit rows to %s", n, args.out)
    return 0
