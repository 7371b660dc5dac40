"""A toy third study, registered from this test alone: two labels on single images.

It proves the seam: nothing here imports an aneurysm module (``core.schema``,
``core.studies.aneurysm``, ``core.models.gating``...), yet the toy study's bundle saves and
loads, its results come out of the common runner, its cohort metrics, verdicts and JSON
export work, and ``python -m core studies`` lists it. A guard at the end checks the import
claim on a fresh interpreter.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from fresh_imports import imported_in_fresh_interpreter
from sklearn.metrics import roc_auc_score

from core.__main__ import main as cli
from core.case import Case, SourceInfo, ViewImage
from core.metrics.findings import findings_table, label_report, score_column
from core.models.build import build_model
from core.models.bundle import load_bundle, save_bundle
from core.models.classify import IMAGE_ROLE, check_image_specs, iter_classify_images
from core.models.registry import InputSpec, ModelSpec
from core.models.thresholds import Thresholds
from core.results import ImageResult
from core.review.export import export_json
from core.review.reviewed import ExportContext, ReviewedCase
from core.review.verdicts import build_verdicts
from core.studies import Study, StudySchema, get_study, register_study, unregister_study
from core.verdicts import VerdictStore

LABELS = ("bright", "striped")
SCHEMA = StudySchema(study="toy", labels=LABELS)
TOY = Study(
    name="toy",
    title="Toy: two labels on one image",
    unit="image",
    task="classify",
    schema=SCHEMA,
    roles=(IMAGE_ROLE,),
    rules=("original",),
    metrics=("auroc", "macro_auroc"),
    pages=(),
    verbs=("studies",),
    predict=iter_classify_images,
    check_specs=check_image_specs,
)
SPEC = ModelSpec(
    key="toy_resnet18",
    arch="torchvision:resnet18",
    role=IMAGE_ROLE,
    labels=LABELS,
    input=InputSpec(size=(32, 32)),
    cam_layer="layer4",
)


@pytest.fixture(scope="module")
def toy() -> Iterator[Study]:
    register_study(TOY)
    yield get_study("toy")
    unregister_study("toy")


def _image(rng: np.random.Generator, bright: bool, striped: bool) -> np.ndarray:
    img = rng.integers(0, 60, size=(48, 40)).astype(np.uint8) + (150 if bright else 20)
    if striped:
        img[::6] = 255
    return img


def _cases(n: int, seed: int = 0) -> tuple[list[Case], dict[str, dict[str, int]]]:
    rng = np.random.default_rng(seed)
    cases, truth = [], {}
    for i in range(n):
        labels = {"bright": int(i % 2), "striped": int((i // 2) % 2)}
        px = _image(rng, bool(labels["bright"]), bool(labels["striped"]))
        view = ViewImage("image", px, SourceInfo(f"img{i}.png", "png"))
        case = Case(f"toy-{i}", {"image": view}, expected_views=("image",))
        cases.append(case)
        truth[case.case_id] = labels
    return cases, truth


@pytest.fixture(scope="module")
def bundle_dir(toy: Study, tmp_path_factory: pytest.TempPathFactory) -> Path:
    thresholds = Thresholds(None, {"bright": 0.5, "striped": 0.45}, rule="fixed for tests")
    model = build_model(SPEC, seed=3)
    out = tmp_path_factory.mktemp("toy") / "bundle"
    return save_bundle(out, {IMAGE_ROLE: model}, {IMAGE_ROLE: SPEC}, thresholds, schema=SCHEMA)


def test_the_registry_lists_the_toy_study_beside_the_built_in_one(toy: Study) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli(["studies"]) == 0
    listed = {s["name"]: s for s in json.loads(out.getvalue())}
    assert {"aneurysm", "toy"} <= set(listed)
    assert listed["toy"]["labels"] == list(LABELS)
    assert (listed["toy"]["unit"], listed["toy"]["task"]) == ("image", "classify")
    assert listed["toy"]["views"] == [] and listed["toy"]["roles"] == [IMAGE_ROLE]


def test_bundle_carries_the_toy_schema_and_results_read_their_labels_from_it(
    bundle_dir: Path,
) -> None:
    bundle = load_bundle(bundle_dir)
    assert bundle.study == "toy" and bundle.schema == SCHEMA
    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    assert manifest["study"]["labels"] == list(LABELS) and set(manifest["models"]) == {IMAGE_ROLE}
    cases, _ = _cases(6)
    results = list(get_study(bundle.study).predict(bundle, cases))
    assert [r.case_id for r in results] == [c.case_id for c in cases]
    for r, case in zip(results, cases):
        assert isinstance(r, ImageResult) and r.content_hash == case.content_hash()
        assert [f.label for f in r.findings] == list(LABELS)
        for f in r.findings:
            assert f.decision == int(f.score >= f.threshold) and f.box is None
    # A threshold what-if re-decides without the model: everything flagged at 0.
    zero = Thresholds(None, dict.fromkeys(LABELS, 0.0), rule="what-if")
    assert all(f.decision == 1 for f in results[0].with_thresholds(zero).findings)


def test_cohort_metrics_of_the_toy_study(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    cases, truth = _cases(24, seed=1)
    table = findings_table(iter_classify_images(bundle, cases), truth)
    assert len(table) == 24 and list(table["case_id"]) == [c.case_id for c in cases]
    report = label_report(table, bundle.thresholds.labels, n_boot=200)
    for label in LABELS:
        y, s = table[label], table[score_column(label)]
        assert report["labels"][label]["auroc"] == pytest.approx(roc_auc_score(y, s))
        low, high = report["labels"][label]["auroc_ci95"]
        assert low <= high and 0.0 <= low and high <= 1.0
        flagged = int((s >= bundle.thresholds.labels[label]).sum())
        assert report["labels"][label]["tp"] + report["labels"][label]["fp"] == flagged
    expected = np.mean([report["labels"][label]["auroc"] for label in LABELS])
    assert report["macro_auroc"] == pytest.approx(expected)
    with pytest.raises(KeyError, match="no truth"):
        findings_table(iter_classify_images(bundle, cases[:1]), {})


def test_verdicts_and_json_export_of_a_toy_case(bundle_dir: Path, tmp_path: Path) -> None:
    bundle = load_bundle(bundle_dir)
    cases, _ = _cases(1, seed=2)
    result = next(iter_classify_images(bundle, cases))
    reviewed = ReviewedCase(
        case=cases[0],
        clean={},
        result=result,
        context=ExportContext("training", "synthetic toy images", "toy notice"),
    )
    exported = json.loads(export_json(reviewed))
    assert exported["result"]["study"] == "toy"
    assert [f["label"] for f in exported["result"]["findings"]] == list(LABELS)
    assert exported["case"]["content_hash"] == cases[0].content_hash()

    answers = {f.label: True for f in result.findings}
    verdicts = build_verdicts(reviewed, "dr-toy", answers, form_id=uuid.uuid4())
    store = VerdictStore.open(f"sqlite:///{tmp_path / 'verdicts.db'}")
    try:
        store.save(verdicts)
        stored = store.latest(cases[0].content_hash())
    finally:
        store.close()
    assert {v.finding for v in stored} == set(LABELS)
    assert {v.study for v in stored} == {"toy"}


def test_the_toy_study_never_needed_an_aneurysm_module() -> None:
    """On a fresh interpreter, the common modules this test uses import no aneurysm one."""
    code = (
        "import core.case, core.findings, core.results, core.metrics.findings\n"
        "import core.models.bundle, core.models.classify, core.models.manifest\n"
        "import core.verdicts, core.studies.study\n"
    )
    aneurysm = (
        "core.schema",
        "core.studies.aneurysm",
        "core.models.gating",
        "core.models.inference",
    )
    assert imported_in_fresh_interpreter(code, aneurysm) == []
