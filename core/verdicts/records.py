"""What a reviewer records about one finding, validated before it ever reaches a database.

A verdict names its case by content hash plus a human case id (a K-Ium Index or an upload
name), never by a DICOM patient identifier: the store must stay free of patient data.
Validation happens on construction so a bad row fails in the form, not half-way through a
batch write.

The record is the same for every study: it names its study, and its finding must be one of
that study's labels (asked of the study registry, so this module never imports a study's
schema). A box is optional: a detection study's box, or one a reader drew for a finding
the model missed.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from numbers import Real

from core.findings import FindingBox
from core.studies import StudyError, get_study

__all__ = [
    "BOX_COLUMNS",
    "MAX_COMMENT_CHARS",
    "MAX_NAME_CHARS",
    "SUBMITTED_COLUMNS",
    "Verdict",
    "VerdictIn",
    "submitted_fields",
]

#: The database columns holding a box's ``(x0, y0, x1, y1)``: all null or all set.
BOX_COLUMNS: tuple[str, ...] = ("box_x0", "box_y0", "box_x1", "box_y1")
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


def _finding(study: object, finding: object) -> None:
    """``finding`` must be a label of the registered ``study``."""
    if not isinstance(study, str):
        raise ValueError(f"study must be a study name, got {type(study).__name__}")
    try:
        labels = get_study(study).schema.finding_labels
    except StudyError as exc:  # its message names the known studies
        raise ValueError(str(exc)) from None
    if finding not in labels:
        raise ValueError(
            f"unknown finding {finding!r} for study {study!r}; expected one of {', '.join(labels)}"
        )


def _box(value: object) -> FindingBox | None:
    """``None``, or four finite, non-negative pixel coordinates with ``x0 < x1, y0 < y1``."""
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or len(value) != 4:
        raise ValueError(f"box must be (x0, y0, x1, y1) or empty, got {value!r}")
    corners = tuple(value)
    if not all(isinstance(c, Real) and not isinstance(c, bool) for c in corners):
        raise ValueError(f"box coordinates must be numbers, got {corners!r}")
    x0, y0, x1, y1 = (float(c) for c in corners)
    if not all(math.isfinite(c) and c >= 0.0 for c in (x0, y0, x1, y1)):
        raise ValueError(f"box coordinates must be finite and non-negative, got {corners!r}")
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"box must have x0 < x1 and y0 < y1, got {corners!r}")
    return (x0, y0, x1, y1)


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

    ``finding`` is one of ``get_study(study).schema.finding_labels``. ``box`` is
    ``(x0, y0, x1, y1)`` in original-image pixels, or ``None``.
    ``idempotency_key`` is a UUID the client makes once per submitted form and reuses on
    every retry of that submission, so a retried save can never write a second row.
    """

    case_hash: str  # core.case.Case.content_hash()
    case_id: str  # K-Ium Index or upload name; never a patient identifier
    bundle_name: str
    bundle_hash: str  # hex digest of the bundle's bundle.json
    study: str  # a registered study's name
    finding: str
    probability: float
    threshold: float
    model_decision: int
    agree: bool
    reviewer: str
    idempotency_key: str
    corrected_label: int | None = None
    comment: str = ""
    box: FindingBox | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise once, here
        if not isinstance(self.case_hash, str) or not _SHA256.match(self.case_hash):
            raise ValueError("case_hash must be the 64-hex SHA-256 from Case.content_hash()")
        put(self, "case_id", _short_text("case_id", self.case_id))
        put(self, "bundle_name", _short_text("bundle_name", self.bundle_name))
        if not isinstance(self.bundle_hash, str) or not _HEX.match(self.bundle_hash):
            raise ValueError("bundle_hash must be a lower-case hex digest of bundle.json")
        _finding(self.study, self.finding)
        put(self, "box", _box(self.box))
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
        """The submitted fields as database columns: same names, the box spread over
        :data:`BOX_COLUMNS`."""
        row = {name: getattr(self, name) for name in _PLAIN}
        return row | dict(zip(BOX_COLUMNS, self.box or (None,) * len(BOX_COLUMNS), strict=True))


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
        """Every column plus ``reviewer_label``; flat (the box as its four columns), so it is
        a table row as it stands and needs no deep copy as ``asdict`` makes."""
        return self.as_row() | {
            "id": self.id,
            "created_at": self.created_at,
            "superseded_by": self.superseded_by,
            "reviewer_label": self.reviewer_label,
        }


#: Submitted fields stored in a column of their own name (all but the box).
_PLAIN: tuple[str, ...] = tuple(f.name for f in fields(VerdictIn) if f.name != "box")
#: The database columns of a submitted verdict, as :meth:`VerdictIn.as_row` names them.
SUBMITTED_COLUMNS: tuple[str, ...] = _PLAIN + BOX_COLUMNS


def submitted_fields(row: Mapping[str, object]) -> dict[str, object]:
    """The inverse of :meth:`VerdictIn.as_row`: a stored row's columns as record fields."""
    corners = [row[c] for c in BOX_COLUMNS]
    box = None if None in corners else tuple(float(c) for c in corners)  # type: ignore[arg-type]
    return {name: row[name] for name in _PLAIN} | {"box": box}
