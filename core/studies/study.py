"""What a study is: its schema (travels with every bundle) and its declaration.

A *study* is one kind of review the app serves: cerebral aneurysm on eight DSA views,
chest X-ray boxes on one film, and whatever comes next. Common code never imports a study
module; it asks the registry (:mod:`core.studies`) for the study a bundle names, and the
:class:`Study` record gives it the rest. A study module imports common code, never the
other way round.

:class:`StudySchema` is the part that travels inside ``bundle.json``: a bundle trained on
other labels or other groups than the study's defaults says so itself, and thresholds,
results, the cohort table and verdict findings read their labels from it (as
torchxrayvision keeps the label list on the model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from core.case import Case
    from core.findings import Finding

__all__ = [
    "Unit",
    "Task",
    "StudyError",
    "StudySchema",
    "StudyPage",
    "StudyResult",
    "PacsHooks",
    "Study",
]

#: The unit of review: a case of named views (the aneurysm study's eight DSA views), or one
#: image (a chest film).
Unit = Literal["views", "image"]
#: What the models say: a score per label (classify), or boxes with labels (detect).
Task = Literal["classify", "detect"]


class StudyError(KeyError):
    """An unknown study, or a schema or declaration that does not hold together."""

    def __str__(self) -> str:  # KeyError quotes its message; say it plainly
        return str(self.args[0]) if self.args else ""


def _names(what: str, values: Iterable[object]) -> tuple[str, ...]:
    out = tuple(values)
    if not all(isinstance(v, str) and v.strip() for v in out):
        raise StudyError(f"{what} must be non-empty texts, got {out!r}")
    if len(set(out)) != len(out):
        raise StudyError(f"{what} must be unique, got {out!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class StudySchema:
    """Labels in model output order, and where the study has them, views and groups.

    ``case_label`` is a case-level finding scored before the labels (the aneurysm study's
    ``Aneurysm``: its stage-1 gate); ``None`` for studies without one. ``groups`` map a
    group name to labels or base names (the aneurysm circulations); empty when unused.
    """

    study: str
    labels: tuple[str, ...]
    views: tuple[str, ...] = ()
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    case_label: str | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "labels", _names("labels", self.labels))
        put(self, "views", _names("views", self.views))
        put(self, "groups", {str(k): _names(f"group {k}", v) for k, v in self.groups.items()})
        if not self.labels:
            raise StudyError(f"study {self.study!r}: a schema needs at least one label")
        if self.case_label is not None and self.case_label in self.labels:
            raise StudyError(f"case label {self.case_label!r} is also a label")

    @property
    def finding_labels(self) -> tuple[str, ...]:
        """Every label a result can carry, the case-level one first."""
        return ((self.case_label,) if self.case_label else ()) + self.labels

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "labels": list(self.labels),
            "views": list(self.views),
            "groups": {k: list(v) for k, v in self.groups.items()},
            "case_label": self.case_label,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StudySchema:
        expected = {"study", "labels", "views", "groups", "case_label"}
        if not isinstance(d, Mapping) or set(d) != expected:
            got = sorted(d) if isinstance(d, Mapping) else type(d).__name__
            raise StudyError(f"a study schema has fields {sorted(expected)}, got {got}")
        return cls(
            study=str(d["study"]),
            labels=tuple(d["labels"]),
            views=tuple(d["views"]),
            groups={k: tuple(v) for k, v in dict(d["groups"]).items()},
            case_label=None if d["case_label"] is None else str(d["case_label"]),
        )


@dataclass(frozen=True)
class StudyPage:
    """A page of the app that belongs to a study: its script and its navigation entry."""

    path: str  # relative to the repository root, e.g. "pages/case_review.py"
    title: str
    icon: str = ":material/description:"
    default: bool = False


class StudyResult(Protocol):
    """What every study's result offers common code (exports, verdicts, cohort tables)."""

    study: str
    case_id: str
    content_hash: str
    bundle: str
    bundle_sha256: str

    @property
    def findings(self) -> tuple[Finding, ...]: ...

    def to_dict(self) -> dict[str, Any]: ...


#: Runs a loaded bundle over cases lazily, one result per case, in input order.
Predictor = Callable[[Any, Iterable["Case"]], Iterator[StudyResult]]
#: Checks a bundle's model specs against its schema; raises ``ValueError`` with a reason.
SpecCheck = Callable[[Mapping[str, Any], StudySchema], None]
#: Says what is wrong with a bundle's set of model roles, or None when the study takes it
#: (for studies whose bundles vary: one detector, a classifier, or an ensemble of both).
RoleCheck = Callable[[frozenset[str]], "str | None"]
#: Checks a bundle's study-specific ``settings`` block; raises ``ValueError`` with a reason.
SettingsCheck = Callable[[Mapping[str, Any]], None]
#: Says the view of each PACS image (``core.pacs.inventory.Instance``: a series' run, or one
#: image) it is given, in the study's order of preference: ``(image, view or None, reason)``.
ViewRule = Callable[[Sequence[Any]], Iterable[tuple[Any, "str | None", str]]]
#: The study's case from ``(file name, bytes)`` pairs named ``<view>.dcm``, a case id and
#: a frame rule (``core.intake.frames``), through the study's own guarded intake.
CaseBuilder = Callable[[Sequence[tuple[str, bytes]], str, str], "Case"]
#: The heatmap pictures sent back as captures: ``(bundle, case, longest side, opacity)``
#: -> (view -> RGB ``uint8`` overlay, how the maps were made); empty when there are none.
CaptureRule = Callable[[Any, "Case", int, float], tuple[Mapping[str, Any], str]]


@dataclass(frozen=True)
class PacsHooks:
    """How a study takes a study retrieved from a PACS (:mod:`core.pacs.mapping` asks the
    registry for these, so it never names a study).

    ``modalities`` are the ``Modality`` values of the images the study reads (others are
    left out with that reason, unless the reader picks them); with ``series_runs`` each
    series is one run (its longest multi-frame image, or its single-frame images stacked
    as frames, as DSA scanners store runs), else every image stands alone (films);
    ``views`` is the study's view rule and ``build_case`` its intake. ``procedure`` is
    the SR's "procedure reported" code ``(value, scheme, meaning)``; ``captures`` makes the
    heatmap pictures sent back beside it (None: results go back without captures).
    """

    modalities: tuple[str, ...]
    views: ViewRule
    build_case: CaseBuilder
    procedure: tuple[str, str, str]
    series_runs: bool = False
    captures: CaptureRule | None = None


@dataclass(frozen=True)
class Study:
    """A study's declaration: everything common code needs to serve it.

    ``roles`` are the model roles its bundle holds (their names are the weight files);
    a study whose bundles hold varying roles (the chest study: a detector, a classifier,
    or an ensemble of several detectors and a classifier) gives ``check_roles`` instead,
    and ``check_settings`` vets the study-specific ``settings`` block a bundle may carry;
    ``rules`` name threshold rules of :mod:`core.models.threshold_rules`; ``metrics`` name
    the figures its cohort evaluation reports; ``verbs`` the ``python -m core`` commands
    that serve it; ``predict`` runs a bundle, ``check_specs`` vets a bundle's models. A
    study whose models are not built yet leaves both ``None``: its data, metric and
    verbs work, and a bundle naming it is refused with that reason. ``pacs`` says how it
    is read from a PACS; ``None``: it is not (yet).
    """

    name: str
    title: str
    unit: Unit
    task: Task
    schema: StudySchema
    roles: tuple[str, ...]
    rules: tuple[str, ...]
    metrics: tuple[str, ...]
    pages: tuple[StudyPage, ...]  # the single-case review page first (the PACS worklist opens it)
    verbs: tuple[str, ...]
    predict: Predictor | None = None
    check_specs: SpecCheck | None = None
    check_roles: RoleCheck | None = None
    check_settings: SettingsCheck | None = None
    pacs: PacsHooks | None = None
    notice: str = ""  # shown beside results, e.g. what the demo models were trained on

    def __post_init__(self) -> None:
        if self.schema.study != self.name:
            raise StudyError(f"study {self.name!r} has a schema of {self.schema.study!r}")
        if self.unit == "views" and not self.schema.views:
            raise StudyError(f"study {self.name!r}: a unit of views needs view names")
        _names("roles", self.roles)

    def role_problem(self, roles: Iterable[str]) -> str | None:
        """Why a bundle holding ``roles`` is not one of this study's, or None if it is."""
        got = frozenset(roles)
        if self.check_roles is not None:
            return self.check_roles(got)
        if got != frozenset(self.roles):
            return f"a {self.name} bundle needs exactly the roles {list(self.roles)}, got {sorted(got)}"
        return None

    def describe(self) -> dict[str, Any]:
        """The JSON ``python -m core studies`` prints."""
        return {
            "name": self.name,
            "title": self.title,
            "task": self.task,
            "unit": self.unit,
            "labels": list(self.schema.finding_labels),
            "views": list(self.schema.views),
            "groups": {k: list(v) for k, v in self.schema.groups.items()},
            "roles": list(self.roles),
            "rules": list(self.rules),
            "metrics": list(self.metrics),
            "pages": [p.path for p in self.pages],
            "verbs": list(self.verbs),
            "models": self.predict is not None,
        }
