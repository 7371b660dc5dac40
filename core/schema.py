"""The K-Ium aneurysm schema: the one source of truth every other module imports.

Views, the 21 location columns in ``train.csv`` order, which circulation each location
belongs to, which locations each view shows, and the rules that merge left/right labels
into one label set per circulation (training) and give them back (inference).

The circulation grouping is a *setting* (:class:`CirculationGroups`), because PCOM is
filled from either injection in practice; the original pipeline put it in the posterior
group and that is the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from core.studies.study import StudySchema

__all__ = [
    "VIEWS",
    "LOCATIONS",
    "TRAIN_COLUMNS",
    "BASE_LOCATIONS",
    "MIDLINE",
    "Circulation",
    "CirculationGroups",
    "ORIGINAL_GROUPS",
    "VIEW_SHOWS",
    "ViewInfo",
    "view_info",
    "location_column",
    "split_location",
    "views_of",
    "feeding_views",
    "training_tables",
    "regenerate_locations",
    "tables_to_train",
    "validate_train_table",
    "SchemaError",
    "groups_of",
]

Circulation = Literal["anterior", "posterior"]

#: The eight DSA views of one patient, in K-Ium order.
VIEWS: tuple[str, ...] = ("LI-A", "LI-B", "LV-A", "LV-B", "RI-A", "RI-B", "RV-A", "RV-B")

#: The 21 location columns, exactly in ``train.csv`` order.
LOCATIONS: tuple[str, ...] = (
    "L_ICA", "R_ICA", "L_PCOM", "R_PCOM", "L_AntChor", "R_AntChor", "L_ACA", "R_ACA",
    "L_ACOM", "R_ACOM", "L_MCA", "R_MCA", "L_VA", "R_VA", "L_PICA", "R_PICA",
    "L_SCA", "R_SCA", "BA", "L_PCA", "R_PCA",
)  # fmt: skip

#: All 23 columns of ``train.csv``.
TRAIN_COLUMNS: tuple[str, ...] = ("Index", "Aneurysm", *LOCATIONS)

#: Locations without side. BA is the only midline vessel and has one column.
MIDLINE: frozenset[str] = frozenset({"BA"})

#: Side-free location names, in first-appearance order of ``LOCATIONS``.
BASE_LOCATIONS: tuple[str, ...] = tuple(dict.fromkeys(c.split("_", 1)[-1] for c in LOCATIONS))

_VIEW_RE = re.compile(r"^(?P<side>[LR])(?P<inj>[IV])-(?P<proj>[AB])$")


class SchemaError(ValueError):
    """A table or name does not follow the K-Ium schema."""


@dataclass(frozen=True)
class ViewInfo:
    """What a view name encodes: side of injection, circulation and projection."""

    view: str
    side: Literal["L", "R"]
    circulation: Circulation
    projection: Literal["A", "B"]  # A: frontal (AP); B: lateral

    @property
    def label(self) -> str:
        side = "left" if self.side == "L" else "right"
        inj = "ICA" if self.circulation == "anterior" else "vertebral"
        proj = "frontal" if self.projection == "A" else "lateral"
        return f"{side} {inj} injection, {proj}"


def view_info(view: str) -> ViewInfo:
    """Parse a view name such as ``LI-A``; raises :class:`SchemaError` for anything else."""
    m = _VIEW_RE.match(view)
    if not m:
        raise SchemaError(f"not a view name: {view!r} (expected one of {', '.join(VIEWS)})")
    circ: Circulation = "anterior" if m["inj"] == "I" else "posterior"
    return ViewInfo(view, m["side"], circ, m["proj"])  # type: ignore[arg-type]


def views_of(circulation: Circulation, side: str | None = None) -> tuple[str, ...]:
    """Views of one circulation (optionally one side), in ``VIEWS`` order."""
    return tuple(
        v for v in VIEWS
        if view_info(v).circulation == circulation and (side is None or view_info(v).side == side)
    )  # fmt: skip


def location_column(base: str, side: str) -> str:
    """The ``train.csv`` column for a base location seen from one side (BA ignores side)."""
    if base not in BASE_LOCATIONS:
        raise SchemaError(f"unknown location {base!r}")
    return base if base in MIDLINE else f"{side}_{base}"


def split_location(column: str) -> tuple[str | None, str]:
    """``'L_MCA'`` -> ``('L', 'MCA')``; ``'BA'`` -> ``(None, 'BA')``."""
    if column not in LOCATIONS:
        raise SchemaError(f"unknown location column {column!r}")
    if column in MIDLINE:
        return None, column
    side, base = column.split("_", 1)
    return side, base


@dataclass(frozen=True)
class CirculationGroups:
    """Which base locations each stage-2 model predicts.

    The order inside each tuple is the model's output order and is stored in bundles.
    """

    anterior: tuple[str, ...]
    posterior: tuple[str, ...]

    def __post_init__(self) -> None:
        both = self.anterior + self.posterior
        if sorted(both) != sorted(BASE_LOCATIONS) or len(set(both)) != len(both):
            raise SchemaError(
                "circulation groups must split the 11 base locations exactly once: "
                f"got anterior={self.anterior}, posterior={self.posterior}"
            )

    def of(self, circulation: Circulation) -> tuple[str, ...]:
        return self.anterior if circulation == "anterior" else self.posterior

    def circulation_of(self, base: str) -> Circulation:
        return "anterior" if base in self.anterior else "posterior"

    def to_dict(self) -> dict[str, list[str]]:
        return {"anterior": list(self.anterior), "posterior": list(self.posterior)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[str]]) -> "CirculationGroups":
        return cls(tuple(d["anterior"]), tuple(d["posterior"]))


#: The grouping of the original pipeline: PCOM with the posterior circulation.
ORIGINAL_GROUPS = CirculationGroups(
    anterior=("ICA", "AntChor", "ACA", "ACOM", "MCA"),
    posterior=("VA", "PICA", "SCA", "BA", "PCA", "PCOM"),
)

#: Finer table of which base locations are visible in each projection (another team's,
#: used by the synthetic generator and the view-aware CAM target picker). R mirrors L.
VIEW_SHOWS: dict[str, tuple[str, ...]] = {
    f"{side}{key}": shows
    for side in "LR"
    for key, shows in {
        "I-A": ("ACA", "MCA", "ACOM", "PCOM", "ICA"),
        "I-B": ("ACA", "MCA", "AntChor", "PCOM", "ICA"),
        "V-A": ("PCA", "BA", "SCA", "VA"),
        "V-B": ("PCA", "BA", "PICA", "VA"),
    }.items()
}


def groups_of(schema: StudySchema) -> CirculationGroups:
    """The circulation groups an aneurysm bundle's schema records."""
    if schema.study != "aneurysm":
        raise SchemaError(f"a {schema.study} schema has no circulation groups")
    return CirculationGroups.from_dict(schema.groups)


def validate_train_table(df: pd.DataFrame) -> pd.DataFrame:
    """Check a ``train.csv`` frame: the 23 columns in order, 0/1 labels, unique indices."""
    if tuple(df.columns) != TRAIN_COLUMNS:
        missing = [c for c in TRAIN_COLUMNS if c not in df.columns]
        extra = [c for c in df.columns if c not in TRAIN_COLUMNS]
        raise SchemaError(
            f"train.csv must have the 23 K-Ium columns in order; missing={missing} extra={extra}"
        )
    labels = df[list(TRAIN_COLUMNS[1:])]
    if not labels.isin([0, 1]).all().all():
        raise SchemaError("train.csv labels must all be 0 or 1")
    if df["Index"].duplicated().any():
        dups = df.loc[df["Index"].duplicated(), "Index"].tolist()[:5]
        raise SchemaError(f"train.csv has duplicate Index values, e.g. {dups}")
    return df


def training_tables(
    train: pd.DataFrame, groups: CirculationGroups = ORIGINAL_GROUPS
) -> dict[str, pd.DataFrame]:
    """The four training tables of the original pipeline.

    ``anterior``/``posterior`` have one row per view of that circulation (4 per patient)
    with the group's base labels taken from the view's side (BA from either side).
    ``binary_anterior``/``binary_posterior`` carry one ``label``: 1 if any base label is 1.
    Every table has columns ``Index, View, Side`` first.
    """
    validate_train_table(train)
    out: dict[str, pd.DataFrame] = {}
    for circ in ("anterior", "posterior"):
        bases = groups.of(circ)  # type: ignore[arg-type]
        rows = []
        for rec in train.itertuples(index=False):
            r = rec._asdict()
            for v in views_of(circ):  # type: ignore[arg-type]
                side = view_info(v).side
                rows.append(
                    {"Index": r["Index"], "View": v, "Side": side}
                    | {b: int(r[location_column(b, side)]) for b in bases}
                )
        table = pd.DataFrame(rows, columns=["Index", "View", "Side", *bases])
        out[circ] = table
        binary = table[["Index", "View", "Side"]].copy()
        binary["label"] = table[list(bases)].max(axis=1).astype(int)
        out[f"binary_{circ}"] = binary
    return out


def feeding_views(
    column: str, groups: CirculationGroups, present: Iterable[str] = VIEWS
) -> tuple[str, ...]:
    """The one rule of which views feed a location column: the views of its circulation
    on its side (BA: both sides), among ``present``, in ``VIEWS`` order."""
    side, base = split_location(column)
    circ = groups.circulation_of(base)
    have = set(present)
    return tuple(v for v in views_of(circ, side) if v in have)


def regenerate_locations(
    per_view: Mapping[str, Mapping[str, float]],
    groups: CirculationGroups = ORIGINAL_GROUPS,
    combine: str = "max",
    view_scores: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Give L/R back from per-view base scores and combine A/B views into 21 columns.

    ``per_view`` maps a view name to ``{base: score}`` for the bases of that view's
    circulation. A location takes the scores of :func:`feeding_views`; ``combine`` is
    ``max`` (the original rule) or ``mean``. A location with no view present scores 0.0,
    so a partial case still gives all 21 columns.

    ``joint_max``/``joint_mean`` first multiply each view's base scores by that view's
    stage-1 probability (``view_scores``): "an aneurysm is in this view" times "it sits
    at this location". A location network trained on crops that hold an aneurysm says
    *where* well but *whether* poorly, so alone it ranks a patient with no aneurysm at
    all by its anatomy; the product lets stage 1's presence evidence rank patients.
    """
    joint = combine.startswith("joint_")
    reducer = {"max": np.max, "mean": np.mean}.get(combine.removeprefix("joint_"))
    if reducer is None:
        raise SchemaError(
            f"unknown A/B combine rule {combine!r}; use 'max', 'mean', 'joint_max' or 'joint_mean'"
        )
    if joint and view_scores is None:
        raise SchemaError(f"the {combine!r} rule needs each view's stage-1 probability")
    result: dict[str, float] = {}
    for col in LOCATIONS:
        base = split_location(col)[1]
        views = [v for v in feeding_views(col, groups, per_view) if base in per_view[v]]
        scores = [float(per_view[v][base]) for v in views]
        if joint:
            assert view_scores is not None
            scores = [p * float(view_scores.get(v, 0.0)) for v, p in zip(views, scores)]
        result[col] = float(reducer(scores)) if views else 0.0
    return result


def tables_to_train(
    tables: Mapping[str, pd.DataFrame], groups: CirculationGroups = ORIGINAL_GROUPS
) -> pd.DataFrame:
    """Inverse of :func:`training_tables` for labels: back to the 21 location columns.

    ``Aneurysm`` is 1 when any location is 1. Used by the schema round-trip test and by
    tools that edit labels per view.
    """
    per_patient: dict[int, dict[str, dict[str, float]]] = {}
    for circ in ("anterior", "posterior"):
        bases = list(groups.of(circ))  # type: ignore[arg-type]
        for rec in tables[circ].itertuples(index=False):
            r = rec._asdict()
            per_patient.setdefault(r["Index"], {})[r["View"]] = {b: r[b] for b in bases}
    rows = []
    for idx, per_view in per_patient.items():
        locs = {k: int(v) for k, v in regenerate_locations(per_view, groups).items()}
        rows.append({"Index": idx, "Aneurysm": int(any(locs.values()))} | locs)
    return pd.DataFrame(rows, columns=list(TRAIN_COLUMNS))
