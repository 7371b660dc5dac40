"""The cerebral-aneurysm study on eight DSA views (K-Ium layout), registered.

Its pieces live in the modules that grew with it (:mod:`core.schema` for views, locations
and circulation groups; :mod:`core.models.gating` for the stage-1 gate and the location
decisions; :mod:`core.models.inference` for the two-stage run). This module only declares
them to the registry; the heavy ones are imported when first called.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from core.schema import LOCATIONS, ORIGINAL_GROUPS, VIEWS, CirculationGroups
from core.studies import register_study
from core.studies.study import PacsHooks, Study, StudyPage, StudySchema

__all__ = ["NAME", "ROLES", "STUDY", "schema_for"]

NAME = "aneurysm"
#: The bundle's networks: the stage-1 gate, then one location model per circulation.
ROLES: tuple[Literal["stage1", "anterior", "posterior"], ...] = ("stage1", "anterior", "posterior")


def schema_for(groups: CirculationGroups = ORIGINAL_GROUPS) -> StudySchema:
    """The aneurysm schema with a given circulation grouping (bundles record theirs)."""
    return StudySchema(
        study=NAME, labels=LOCATIONS, views=VIEWS, groups=groups.to_dict(), case_label="Aneurysm"
    )


def _predict(bundle: Any, cases: Iterable[Any]) -> Iterator[Any]:
    from core.models.inference import iter_predict_cases

    return iter_predict_cases(bundle, cases)


def _pacs_views(runs: Sequence[Any]) -> Iterator[tuple[Any, str | None, str]]:
    from core.pacs.dsa_rules import dsa_views

    return dsa_views(runs)


def _pacs_case(files: Sequence[tuple[str, bytes]], case_id: str, frame_rule: str) -> Any:
    from core.intake.assemble import case_from_files

    return case_from_files(files, case_id, frame_rule=frame_rule)  # type: ignore[arg-type]


def _captures(bundle: Any, case: Any, side: int, opacity: float) -> tuple[Any, str]:
    from core.review.captures import stage1_overlays

    return stage1_overlays(bundle, case, side, opacity)


def _check_specs(specs: Mapping[str, Any], schema: StudySchema) -> None:
    """The K-Ium labels and views; stage 1 scores ``Aneurysm``; each location model scores
    exactly its group's bases."""
    if schema.labels != LOCATIONS or schema.views != VIEWS or schema.case_label != "Aneurysm":
        raise ValueError("an aneurysm bundle's schema must have the 21 K-Ium locations and 8 views")
    groups = CirculationGroups.from_dict(schema.groups)
    for role, spec in specs.items():
        wanted = (schema.case_label,) if role == "stage1" else groups.of(role)  # type: ignore[arg-type]
        if tuple(spec.labels) != tuple(wanted):
            raise ValueError(f"{role} labels {spec.labels} differ from the schema's {wanted}")


STUDY = register_study(
    Study(
        name=NAME,
        title="Cerebral aneurysm (DSA, 8 views)",
        unit="views",
        task="classify",
        schema=schema_for(),
        roles=ROLES,
        rules=("original", "youden", "sensitivity"),
        metrics=(
            "aneurysm_auroc",
            "location_macro_auroc",
            "weighted_auroc",
            "kium_location_accuracy",
            "all_zero_floor",
            "pointing_game",
        ),
        pages=(
            StudyPage("pages/case_review.py", "Case review", ":material/radiology:", True),
            StudyPage("pages/cohort.py", "Cohort analysis", ":material/monitoring:"),
        ),
        verbs=("synth", "preprocess", "train", "predict", "evaluate"),
        predict=_predict,
        check_specs=_check_specs,
        pacs=PacsHooks(
            ("XA", "XRF", "RF"),
            _pacs_views,
            _pacs_case,
            ("77343006", "SCT", "Angiography"),
            series_runs=True,
            captures=_captures,
        ),
        notice="Demo models are trained on synthetic data — not for clinical use.",
    )
)
