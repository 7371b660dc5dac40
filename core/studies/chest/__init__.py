"""The chest X-ray study (VinBigData layout: 14 box classes plus "No finding", one film per
case, three readers' boxes), registered.

Part 1 of the study brings its data and its yardstick: intake of the VinBigData layout,
the synthetic cohort with three readers, reader fusion, COCO/YOLO/submission formats and
the competition metric. Part 2 its models: detector families and a normal/abnormal
classifier in the model registry (:mod:`core.models.chest_models`), their training
(:mod:`.train`), WBF ensembles and the classifier rule (:mod:`.ensemble`, :mod:`.rule`),
run by :mod:`.runner`. A chest bundle holds a detector, a classifier or an ensemble
(:mod:`.roles`).
"""

from __future__ import annotations

from core.studies import register_study
from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.roles import check_settings, check_specs, role_problem
from core.studies.study import PacsHooks, Study, StudyPage, StudySchema

__all__ = ["NAME", "STUDY"]

NAME = "chest"


def _predict(bundle, cases):  # noqa: ANN001, ANN202 - the Predictor signature
    """The study's predictor, imported on first use (the runner imports this package)."""
    from core.studies.chest.review.predict import predict

    return predict(bundle, cases)


def _pacs_views(films):  # noqa: ANN001, ANN202 - the ViewRule signature
    """One CR/DX film for the study's one view, frontal first (no torch imported)."""
    from core.pacs.film_rules import film_views

    return film_views(films, "image")


def _captures(bundle, case, side, opacity):  # noqa: ANN001, ANN202 - the CaptureRule signature
    """The first detector member's heatmap on the film (none without a detector)."""
    from core.studies.chest.review.captures import film_overlay

    return film_overlay(bundle, case, side, opacity)


def _pacs_case(files, case_id, frame_rule):  # noqa: ANN001, ANN202, ARG001 - the CaseBuilder signature
    """The film through the chest intake (a film has no frame rule)."""
    from core.studies.chest.film import chest_case

    return chest_case(files, case_id)


STUDY = register_study(
    Study(
        name=NAME,
        title="Chest X-ray (VinBigData, 14 box classes)",
        unit="image",
        task="detect",
        schema=StudySchema(study=NAME, labels=ALL_LABELS, views=("image",)),
        roles=(),
        rules=(),
        metrics=("map_iou40", "ap_per_class", "ap_by_size", "normal_auroc", "coco_map"),
        pages=(
            StudyPage("pages/chest_case.py", "Film review", ":material/radiology:"),
            StudyPage("pages/chest_cohort.py", "Detection errors", ":material/query_stats:"),
        ),
        verbs=("synth", "fuse", "coco", "train", "ensemble", "predict", "evaluate", "study"),
        check_specs=check_specs,
        check_roles=role_problem,
        check_settings=check_settings,
        predict=_predict,
        pacs=PacsHooks(
            ("CR", "DX"),
            _pacs_views,
            _pacs_case,
            ("399208008", "SCT", "Plain chest X-ray"),
            captures=_captures,
        ),
        notice="Synthetic chest films and boxes — not for clinical use.",
    )
)
