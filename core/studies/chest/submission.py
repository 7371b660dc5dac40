"""The competition's submission format, read and written in one place.

One row per image, ``image_id,PredictionString``; the string is groups of six tokens,
``class score x_min y_min x_max y_max``, boxes in original pixels, class 0-14 and score in
[0, 1]. A normal image is ``14 score 0 0 1 1`` (:func:`no_finding`). An empty string is
an image with no prediction (read as no rows; written for an image given an empty list).

A malformed string is never guessed at: :class:`SubmissionError` names the image, the
token's position (1-based) and what was expected there; :func:`read_submission` collects
every such problem, and duplicate image ids, before raising once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import pandas as pd

from core.studies.chest.classes import BOX_COLUMNS, NO_FINDING_ID

__all__ = [
    "PREDICTION_COLUMNS",
    "SUBMISSION_COLUMNS",
    "Prediction",
    "SubmissionError",
    "format_prediction_string",
    "no_finding",
    "parse_prediction_string",
    "read_submission",
    "write_submission",
]

log = logging.getLogger(__name__)

SUBMISSION_COLUMNS: tuple[str, ...] = ("image_id", "PredictionString")
#: One row per prediction, as :func:`read_submission` returns them.
PREDICTION_COLUMNS: tuple[str, ...] = ("image_id", "class_id", "score", *BOX_COLUMNS)
_FIELDS = ("a class id 0-14", "a score in [0, 1]", *(f"a number for {c}" for c in BOX_COLUMNS))
_SHOWN = 10


class SubmissionError(ValueError):
    """A submission that cannot be read; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        more = len(self.problems) - _SHOWN
        text = "; ".join(self.problems[:_SHOWN]) + (f"; and {more} more" if more > 0 else "")
        super().__init__(text)


@dataclass(frozen=True)
class Prediction:
    """One predicted box (or "No finding") in original pixels; checked on creation."""

    class_id: int
    score: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def __post_init__(self) -> None:
        values = astuple(self)
        for position, value in enumerate(values, 1):
            if (why := _problem(position, value, values)) is not None:
                raise SubmissionError([f"prediction {values}: {why}, got {value!r}"])

    @classmethod
    def from_values(cls, values: Sequence[float], image_id: str = "?") -> Prediction:
        """Six numbers (class as a float is fine if whole) -> a checked prediction."""
        values = [float(v) for v in values]
        for position, value in enumerate(values, 1):
            if (why := _problem(position, value, values)) is not None:
                where = f"image {image_id}: value {position}"
                raise SubmissionError([f"{where}: {why}, got {value!r}"])
        return cls(int(values[0]), *values[1:])


def no_finding(score: float = 1.0) -> Prediction:
    """The competition's "No finding" prediction, ``14 score 0 0 1 1``."""
    return Prediction(NO_FINDING_ID, score, 0.0, 0.0, 1.0, 1.0)


def _problem(position: int, value: float, group: Sequence[float]) -> str | None:
    """What the value at ``position`` (1-6) of ``group`` should have been, or None when it
    is fine (only the values before it in ``group`` are used)."""
    if not math.isfinite(value):
        return f"expected {_FIELDS[position - 1]}"
    if position == 1 and not (float(value).is_integer() and 0 <= value <= NO_FINDING_ID):
        return f"expected {_FIELDS[0]}"
    if position == 2 and not 0.0 <= value <= 1.0:
        return f"expected {_FIELDS[1]}"
    if position in (5, 6) and value <= group[position - 3]:
        axis = "x" if position == 5 else "y"
        return f"expected {axis}_max > {axis}_min ({group[position - 3]:g})"
    return None


def parse_prediction_string(text: object, image_id: str = "?") -> list[Prediction]:
    """``"class score x0 y0 x1 y1 ..."`` -> predictions; empty or NaN -> ``[]``."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    tokens = str(text).split()
    if n := len(tokens) % 6:
        why = f"{len(tokens)} tokens are not groups of 6 (class score x_min y_min x_max y_max)"
        at = f"expected {_FIELDS[n]} at token {len(tokens) + 1}"
        raise SubmissionError([f"image {image_id}: {why}: {at}"])
    preds = []
    for start in range(0, len(tokens), 6):
        group: list[float] = []
        for offset, token in enumerate(tokens[start : start + 6]):
            try:
                value = float(token)
            except ValueError:
                value, why = math.nan, f"expected {_FIELDS[offset]}"
            else:
                why = _problem(offset + 1, value, group)
            if why is not None:
                where = f"image {image_id}: token {start + offset + 1}"
                raise SubmissionError([f"{where}: {why}, got {token!r}"])
            group.append(value)
        preds.append(Prediction(int(group[0]), *group[1:]))
    return preds


def _num(value: float) -> str:
    """A short exact-enough text: integers as such, else up to 4 decimals (1e-4 px)."""
    text = f"{round(float(value), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_prediction_string(preds: Iterable[Prediction]) -> str:
    """Predictions -> ``"class score x0 y0 x1 y1 ..."`` (scores to 6 significant digits)."""
    return " ".join(
        f"{p.class_id} {p.score:.6g} {_num(p.x_min)} {_num(p.y_min)} {_num(p.x_max)} "
        f"{_num(p.y_max)}"
        for p in preds
    )


def read_submission(path: str | Path) -> pd.DataFrame:
    """A submission CSV -> one row per prediction (:data:`PREDICTION_COLUMNS`).

    Raises :class:`SubmissionError` listing every malformed string (with its CSV line)
    and every duplicate image id; images with an empty string have no rows.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise SubmissionError([f"{Path(path).name}: not a readable CSV ({err})"]) from err
    if missing := [c for c in SUBMISSION_COLUMNS if c not in table.columns]:
        raise SubmissionError([f"{Path(path).name}: missing the columns {missing}"])
    problems: list[str] = []
    rows: list[tuple] = []
    ids = table["image_id"].str.strip()
    dup = ids[ids.duplicated(keep=False)]
    for key, index in dup.groupby(dup).groups.items():
        problems.append(
            f"image {key}: duplicate rows (lines {', '.join(str(i + 2) for i in index)})"
        )
    for i, (key, text) in enumerate(zip(ids, table["PredictionString"]), 2):
        if not key:
            problems.append(f"line {i}: no image_id")
            continue
        try:
            rows += [(key, *astuple(p)) for p in parse_prediction_string(text, key)]
        except SubmissionError as err:
            problems += [f"line {i}, {p}" for p in err.problems]
    if problems:
        raise SubmissionError(problems)
    out = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
    floats = dict.fromkeys(PREDICTION_COLUMNS[2:], float)
    return out.astype({"image_id": str, "class_id": int, **floats})


def write_submission(
    predictions: pd.DataFrame | Mapping[str, Sequence[Prediction]], path: str | Path
) -> Path:
    """Write one row per image from a frame of :data:`PREDICTION_COLUMNS` (images in order
    of first appearance) or from ``{image_id: [Prediction, ...]}``; values are checked."""
    if isinstance(predictions, pd.DataFrame):
        if missing := [c for c in PREDICTION_COLUMNS if c not in predictions.columns]:
            raise SubmissionError([f"the predictions lack the columns {missing}"])
        by_image: dict[str, list[Prediction]] = {}
        for row in predictions[list(PREDICTION_COLUMNS)].itertuples(index=False):
            key, *values = row
            by_image.setdefault(str(key), []).append(Prediction.from_values(values, str(key)))
    else:
        by_image = {str(k): list(v) for k, v in predictions.items()}
    out = pd.DataFrame(
        [(k, format_prediction_string(v)) for k, v in by_image.items()],
        columns=list(SUBMISSION_COLUMNS),
    )
    out.to_csv(path, index=False)
    log.info("wrote predictions for %d images to %s", len(out), path)
    return Path(path)
