"""STOW-RS of the results (the SR and the captures) into the study they report on.

Only when the reader asks, and only to the PACS the study came from: :func:`send_results`
takes the :class:`~core.pacs.review.PacsReview`, whose endpoint is the source; there is no
argument naming another. Each instance is stored in its own request, so a failure part-way
says exactly which instances the server holds: :class:`~core.pacs.errors.SendError` lists
the stored SOP Instance UIDs and the reason for each one refused, and the log line says
the same (UIDs and counts, nothing else).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from core.pacs.client import calling, make_client
from core.pacs.config import Endpoint
from core.pacs.errors import PacsError, SendError

if TYPE_CHECKING:
    from core.pacs.review import PacsReview

__all__ = ["SendReport", "send_results", "store"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendReport:
    """What the server accepted: SOP Instance UIDs in the order sent."""

    stored: tuple[str, ...]


def _refused(response: Dataset | None) -> str | None:
    """The STOW response's failure reason for the one instance sent, or None if stored."""
    failed = (response or Dataset()).get("FailedSOPSequence") or []
    if failed:
        reason = failed[0].get("FailureReason")
        return f"refused by the server (failure reason {reason})"
    return None


def store(endpoint: Endpoint, study_uid: str, datasets: Sequence[Dataset]) -> SendReport:
    """Store ``datasets`` in ``study_uid`` on ``endpoint``, one request each; raises
    :class:`SendError` naming what was stored when any is not."""
    wrong = [str(ds.SOPInstanceUID) for ds in datasets if ds.StudyInstanceUID != study_uid]
    if wrong:
        raise PacsError(f"{len(wrong)} result instance(s) belong to another study; nothing sent")
    client = make_client(endpoint)
    for ds in datasets:  # a Part 10 file with its preamble: some servers store bytes as sent
        ds.preamble = getattr(ds, "preamble", None) or b"\0" * 128
    stored: list[str] = []
    for n, ds in enumerate(datasets, start=1):
        uid = str(ds.SOPInstanceUID)
        try:
            with calling(endpoint, f"storing result {n} of {len(datasets)}"):
                why = _refused(client.store_instances([ds], study_instance_uid=study_uid))
        except PacsError as err:
            why = str(err)
        if why is not None:
            failed = {uid: why}
            failed |= {str(d.SOPInstanceUID): "not sent" for d in datasets[n:]}
            log.error(
                "%s: stored %d of %d results, then failed",
                endpoint.name,
                len(stored),
                len(datasets),
            )
            raise SendError(
                f"{endpoint.shown}: result {n} of {len(datasets)} was not stored ({why}); "
                f"{len(datasets) - n} more were not sent.", tuple(stored), failed
            )  # fmt: skip
        stored.append(uid)
    log.info("%s: stored %d results: %s", endpoint.name, len(stored), ", ".join(stored))
    return SendReport(tuple(stored))


def send_results(review: PacsReview, datasets: Sequence[Dataset]) -> SendReport:
    """Store ``datasets`` back to the PACS ``review`` came from, into its study."""
    return store(review.endpoint, review.study_uid, datasets)
