"""Verdicts as a table: the cohort page's DataFrame and the downloadable CSV.

The CSV is meant to be opened in a spreadsheet, so free-text cells that a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@``) are prefixed with ``'``; the database keeps
the text exactly as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

import pandas as pd

from core.verdicts.records import BOX_COLUMNS, Verdict

__all__ = ["COLUMNS", "TEXT_COLUMNS", "verdicts_frame", "write_csv"]

#: Column order of the frame and the CSV: identity, the finding (its study, label and box,
#: empty when it has none), the model, the reviewer.
COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "case_hash",
    "case_id",
    "bundle_name",
    "bundle_hash",
    "study",
    "finding",
    *BOX_COLUMNS,
    "probability",
    "threshold",
    "model_decision",
    "agree",
    "corrected_label",
    "reviewer_label",
    "reviewer",
    "comment",
    "idempotency_key",
    "superseded_by",
)
#: Free text typed by people, neutralised against spreadsheet formulas in the CSV.
TEXT_COLUMNS: tuple[str, ...] = ("case_id", "bundle_name", "reviewer", "comment")
_FORMULA_START = r"^[=+\-@\t\r]"


def verdicts_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """One row per verdict with :data:`COLUMNS`; nullable integers stay integers."""
    frame = pd.DataFrame([v.to_dict() for v in verdicts], columns=list(COLUMNS))
    return frame.astype(
        {
            "id": "int64",
            "created_at": "datetime64[us, UTC]",
            **dict.fromkeys(BOX_COLUMNS, "float64"),
            "probability": "float64",
            "threshold": "float64",
            "model_decision": "int64",
            "agree": "bool",
            "corrected_label": "Int64",
            "reviewer_label": "int64",
            "superseded_by": "Int64",
        }
    )


def write_csv(frame: pd.DataFrame, target: str | IO[str]) -> int:
    """Write ``frame`` as UTF-8 CSV to a path or text buffer; returns the number of rows."""
    safe = frame.copy()
    for col in TEXT_COLUMNS:
        text = safe[col].astype("string")
        safe[col] = text.where(~text.str.contains(_FORMULA_START, regex=True), "'" + text)
    safe.to_csv(target, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    return len(safe)
