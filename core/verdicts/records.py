"""What a reviewer records about one finding, validated before it ever reaches a database.

A verdict names its case by content hash plus a human case id (a K-Ium Index or an upload
name), never by a DICOM patient identifier: the store must stay free of patient data.
Validation happens on construction so a bad row fails in the form, not half-way through a
batch write.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, fields
from datetime import datetime

from core.schema import TRAIN_COLUMNS

__all__ = [
    "FINDINGS",
    "MAX_COMMENT_CHARS",
    "MAX_NAME_CHARS",
    "Verdict",
    "VerdictIn",
]

#: Findings a reviewer can judge: the patient-level ``Aneurysm`` and the 21 locations.
FINDINGS: tuple[str, ...] = TRAIN_COLUMNS[1:]
#: Longest free-text comment; a review note, not a report.
MAX_COMMENT_CHARS = 2000
#: Longest case id, bundle name or reviewer name.
MAX_NAME_CHARS = 200

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-f]{1,64}$")


def _short_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty text")
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{name} is {len(value)} characters; the limit is {MAX_NAME_CHARS}")
    return value.strip()


def _unit(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return float(value)


def _binary(name: str, value: object, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or value not in (0, 1):
        allowed = "0, 1 or empty" if allow_none else "0 or 1"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)  # type: ignore[call-overload]


@dataclass(frozen=True, kw_only=True)
class VerdictIn:
    """One reviewer's judgement of one model finding, as submitted by the review page.

    ``idempotency_key`` is a UUID the client makes once per submitted form and reuses on
    every retry of that submission, so a retried save can never write a second row.
    """

    case_hash: str  # core.case.Case.content_hash()
    case_id: str  # K-Ium Index or upload name; never a patient identifier
    bundle_name: str
    bundle_hash: str  # hex digest of the bundle's bundle.json
    finding: str
    probability: float
    threshold: float
    model_decision: int
    agree: bool
    reviewer: str
    idempotency_key: str
    corrected_label: int | None = None
    comment: str = ""

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise once, here
        if not isinstance(self.case_hash, str) or not _SHA256.match(self.case_hash):
            raise ValueError("case_hash must be the 64-hex SHA-256 from Case.content_hash()")
        put(self, "case_id", _short_text("case_id", self.case_id))
        put(self, "bundle_name", _short_text("bundle_name", self.bundle_name))
        if not isinstance(self.bundle_hash, str) or not _HEX.match(self.bundle_hash):
            raise ValueError("bundle_hash must be a lower-case hex digest of bundle.json")
        if self.finding not in FINDINGS:
            raise ValueError(f"unknown finding {self.finding!r}; expected Aneurysm or a location")
        put(self, "probability", _unit("probability", self.probability))
        put(self, "threshold", _unit("threshold", self.threshold))
        put(self, "model_decision", _binary("model_decision", self.model_decision))
        if not isinstance(self.agree, bool):
            raise ValueError(f"agree must be True or False, got {self.agree!r}")
        label = _binary("corrected_label", self.corrected_label, allow_none=True)
        put(self, "corrected_label", label)
        if label is not None and (label == self.model_decision) != self.agree:
            raise ValueError(
                f"{self.finding}: corrected label {label} contradicts "
                f"{'agreeing' if self.agree else 'disagreeing'} with model decision "
                f"{self.model_decision}"
            )
        put(self, "reviewer", _short_text("reviewer", self.reviewer))
        try:
            put(self, "idempotency_key", str(uuid.UUID(str(self.idempotency_key))))
        except ValueError:
            raise ValueError("idempotency_key must be a UUID made by the client") from None
        if not isinstance(self.comment, str):
            raise ValueError("comment must be text")
        if len(self.comment) > MAX_COMMENT_CHARS:
            raise ValueError(
                f"comment is {len(self.comment)} characters; the limit is {MAX_COMMENT_CHARS}"
            )

    @property
    def reviewer_label(self) -> int:
        """The label the reviewer believes: explicit correction, else implied by agree."""
        if self.corrected_label is not None:
            return self.corrected_label
        return self.model_decision if self.agree else 1 - self.model_decision

    def as_row(self) -> dict[str, object]:
        """The submitted fields only, as the database columns of the same names."""
        return {f.name: getattr(self, f.name) for f in fields(VerdictIn)}


@dataclass(frozen=True, kw_only=True)
class Verdict(VerdictIn):
    """A stored verdict. ``superseded_by`` is the id of the same reviewer's next verdict on
    this finding of this case, or ``None`` for the latest one.
    """

    id: int
    created_at: datetime  # UTC, timezone-aware
    superseded_by: int | None = None

    def __post_init__(self) -> None:
        # Rows are shown as stored, even those written before a rule existed (e.g. v1 rows
        # without a bundle): re-validating here could hide a reviewer's past work.
        pass

    def to_dict(self) -> dict[str, object]:
        """Every field plus ``reviewer_label``; flat, so no deep copy as ``asdict`` makes."""
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "reviewer_label": self.reviewer_label
        }
