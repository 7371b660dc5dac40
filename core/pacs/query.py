"""QIDO-RS study search: the worklist rows a reader picks a study from.

A row shows what a reader needs to pick the right study (accession number, date,
modality, description, series count) and the Study Instance UID the next step needs.
Patient name and ID are dropped here unless the deployment turns them on
(``show_patient_identifiers`` in ``pacs.toml``); they are never logged either way: the log
line says how many studies matched, nothing about them or the filters.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import date

from pydicom.dataset import Dataset

from core.pacs.client import calling, make_client
from core.pacs.config import Endpoint
from core.pacs.errors import PacsError

__all__ = ["MAX_RESULTS", "StudyRow", "parse_date_range", "query"]

log = logging.getLogger(__name__)

#: Most rows one search returns; a worklist wider than this needs a narrower filter.
MAX_RESULTS = 200
_FIELDS = ["StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries"]
_RANGE = re.compile(r"^(\d{8})?-(\d{8})?$|^(\d{8})$")
_MODALITY = re.compile(r"^[A-Z]{2,4}$")


@dataclass(frozen=True)
class StudyRow:
    """One study of the worklist; ``patient_name``/``patient_id`` are None unless shown."""

    study_uid: str
    accession: str
    study_date: str
    modalities: tuple[str, ...]
    description: str
    series_count: int | None
    patient_name: str | None = None
    patient_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        out = asdict(self) | {"modalities": list(self.modalities)}
        return {k: v for k, v in out.items() if k not in ("patient_name", "patient_id") or v}


def _date(text: str) -> str:
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise PacsError(f"{text} is not a date (YYYYMMDD)") from None
    return text


def parse_date_range(text: str) -> str:
    """``YYYYMMDD-YYYYMMDD`` (either end open, or one day) checked, in QIDO's form."""
    m = _RANGE.match(text.strip())
    if not m:
        raise PacsError(f"{text!r} is not a date range; use YYYYMMDD-YYYYMMDD or YYYYMMDD")
    if m[3]:
        return _date(m[3])
    start, end = (_date(d) if d else "" for d in (m[1], m[2]))
    if start and end and start > end:
        raise PacsError(f"the date range {text} ends before it starts")
    return f"{start}-{end}"


def _row(ds: Dataset, show_identifiers: bool) -> StudyRow:
    mods = ds.get("ModalitiesInStudy") or []
    mods = (mods,) if isinstance(mods, str) else tuple(str(m) for m in mods)
    count = ds.get("NumberOfStudyRelatedSeries")
    return StudyRow(
        study_uid=str(ds.StudyInstanceUID),
        accession=str(ds.get("AccessionNumber") or ""),
        study_date=str(ds.get("StudyDate") or ""),
        modalities=mods,
        description=str(ds.get("StudyDescription") or ""),
        series_count=None if count in (None, "") else int(count),
        patient_name=str(ds.get("PatientName") or "") or None if show_identifiers else None,
        patient_id=str(ds.get("PatientID") or "") or None if show_identifiers else None,
    )


def query(
    endpoint: Endpoint,
    *,
    date_range: str | None = None,
    modality: str | None = None,
    accession: str | None = None,
    show_identifiers: bool = False,
) -> list[StudyRow]:
    """Studies on ``endpoint`` matching every filter given, newest first (at most
    :data:`MAX_RESULTS`). Raises a :class:`PacsError` subclass saying what failed."""
    filters: dict[str, str] = {}
    if date_range:
        filters["StudyDate"] = parse_date_range(date_range)
    if modality:
        if not _MODALITY.match(modality.upper()):
            raise PacsError(f"{modality!r} is not a DICOM modality (e.g. XA, CR, DX)")
        filters["ModalitiesInStudy"] = modality.upper()
    if accession:
        if len(accession) > 16 or any(c in accession for c in "*?\\"):
            raise PacsError("an accession number is at most 16 characters, without * ? or \\")
        filters["AccessionNumber"] = accession
    client = make_client(endpoint)
    with calling(endpoint, "searching for studies"):
        found = client.search_for_studies(search_filters=filters, fields=_FIELDS, limit=MAX_RESULTS)
        rows = [_row(Dataset.from_json(item), show_identifiers) for item in found]
    rows.sort(key=lambda r: r.study_date, reverse=True)
    log.info("%s: %d studies matched", endpoint.name, len(rows))
    return rows
