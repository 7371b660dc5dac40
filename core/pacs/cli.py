"""``python -m core pacs query|review``: the PACS from the command line, for scripts.

* ``query NAME_OR_URL [--accession A] [--date YYYYMMDD-YYYYMMDD] [--modality XA]`` prints
  the matching studies as a JSON list (patient name and ID only where ``pacs.toml``
  turns them on, and never for a bare URL);
* ``review NAME_OR_URL STUDY_UID --bundle B [--send] [--no-captures] [--with-verdicts]
  [--view SERIES_UID=VIEW]`` retrieves the study, maps it to the bundle's study, runs it and prints the mapping and
  findings as JSON; with ``--send`` it stores the SR and the heatmap captures back in the
  same study on the same server, reads the SR back and checks it, and prints their SOP
  Instance UIDs; ``--with-verdicts`` adds the reviewer verdicts stored for this case and
  bundle (the verdict store, as the app's pages save them).

Exit status: 0 done; 1 the results were sent but the SR read back differs; 2 the
endpoint, the study, the bundle or a send failed (the message says which, and which
instances were stored before a send failed).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from core.intake.frames import DEFAULT_FRAME_RULE, FRAME_RULES
from core.models.bundle import BundleError
from core.pacs.config import load_config, resolve_endpoint
from core.pacs.errors import PacsError, SendError
from core.verdicts.errors import VerdictStoreError

__all__ = ["configure", "run"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="pacs_command", required=True, metavar="ACTION")
    q = sub.add_parser("query", help="list matching studies as JSON")
    q.add_argument("endpoint", help="a configured endpoint name, or a DICOMweb URL")
    q.add_argument("--accession", help="accession number")
    q.add_argument("--date", help="study date range YYYYMMDD-YYYYMMDD (or one day)")
    q.add_argument("--modality", help="modality in the study, e.g. XA, CR, DX")
    r = sub.add_parser("review", help="retrieve, map and run one study; --send stores results")
    r.add_argument("endpoint", help="a configured endpoint name, or a DICOMweb URL")
    r.add_argument("study_uid", help="Study Instance UID (from query)")
    r.add_argument(
        "--bundle", type=Path, required=True, help="bundle directory (holds bundle.json)"
    )
    r.add_argument("--send", action="store_true", help="store the SR and captures in the study")
    r.add_argument("--no-captures", action="store_true", help="send the SR only")
    r.add_argument(
        "--with-verdicts", action="store_true", help="add the case's stored verdicts to the SR"
    )
    r.add_argument(
        "--view", action="append", default=[], metavar="SERIES_UID=VIEW",
        help="correct the mapping (VIEW empty: leave the series out); repeatable",
    )  # fmt: skip
    r.add_argument("--frame-rule", choices=FRAME_RULES, default=DEFAULT_FRAME_RULE)
    r.add_argument("--device", help="torch device (default: cuda if available, else cpu)")


def _endpoint(name_or_url: str) -> tuple[object, bool]:
    """The endpoint and whether patient identifiers may be shown (configured endpoints only)."""
    if name_or_url.startswith(("http://", "https://")):
        return resolve_endpoint(name_or_url, allow_url=True), False
    config = load_config()
    return resolve_endpoint(name_or_url, config=config), config.show_patient_identifiers


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        uid, sep, view = pair.partition("=")
        if not sep or not uid:
            raise PacsError(f"--view takes SERIES_UID=VIEW, got {pair!r}")
        out[uid] = view
    return out


def _stored_verdicts(case_hash: str, bundle_sha256: str) -> list[object]:
    """The latest stored verdicts on the case (each reviewer's), given on this bundle's
    findings, oldest first: the SR writes the latest one per finding."""
    from core.verdicts import VerdictStore

    store = VerdictStore.open()
    try:
        found = [v for v in store.latest(case_hash) if v.bundle_hash == bundle_sha256]
    finally:
        store.close()
    return sorted(found, key=lambda v: v.created_at)


def _query(args: argparse.Namespace) -> int:
    from core.pacs.query import query

    endpoint, show = _endpoint(args.endpoint)
    rows = query(endpoint, date_range=args.date, modality=args.modality,  # type: ignore[arg-type]
                 accession=args.accession, show_identifiers=show)  # fmt: skip
    json.dump([r.to_dict() for r in rows], sys.stdout, indent=2)
    print()
    return 0


def _review(args: argparse.Namespace) -> int:
    from core.pacs.results import build_results
    from core.pacs.review import review_study
    from core.pacs.send import send_results
    from core.pacs.sr_check import check_sr, read_back

    endpoint, _ = _endpoint(args.endpoint)
    review = review_study(endpoint, args.study_uid, args.bundle,  # type: ignore[arg-type]
                          overrides=_overrides(args.view), frame_rule=args.frame_rule,
                          device=args.device)  # fmt: skip
    try:
        out = review.findings_dict()
        status = 0
        if args.send:
            sha = review.bundle.manifest_sha256
            verdicts = (
                _stored_verdicts(review.case.content_hash(), sha) if args.with_verdicts else []
            )
            objects = build_results(review, verdicts, captures=not args.no_captures)  # type: ignore[arg-type]
            report = send_results(review, objects.all)
            sr = objects.sr
            back = read_back(
                review.endpoint, review.study_uid, sr.SeriesInstanceUID, sr.SOPInstanceUID
            )
            bundle = (review.bundle.name[:64], sha)
            problems = check_sr(
                back, review.result.findings, objects.sources, bundle, verdicts, objects.images
            )  # type: ignore[arg-type]
            out["sent"] = {
                "sr": str(sr.SOPInstanceUID),
                "verdicts": len(verdicts),
                "captures": [str(c.SOPInstanceUID) for c in objects.captures],
                "stored": list(report.stored),
                "sr_check": problems or "the SR read back from the server matches",
            }
            status = 1 if problems else 0
    finally:
        review.close()
    json.dump(out, sys.stdout, indent=2)
    print()
    return status


def run(args: argparse.Namespace) -> int:
    try:
        return _query(args) if args.pacs_command == "query" else _review(args)
    except SendError as err:
        log.error("%s", err)
        json.dump(
            {"error": str(err), "stored": list(err.stored), "failed": err.failed},
            sys.stdout,
            indent=2,
        )
        print()
        return 2
    except (PacsError, BundleError, VerdictStoreError) as err:
        log.error("%s", err)
        return 2
