"""The study registry and the records it holds: schemas round-trip and refuse nonsense,
names are unique, and the aneurysm study declares what the app and CLI rely on."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import replace

import pytest

from core.__main__ import main as cli
from core.findings import Finding, decide_findings, meets_threshold
from core.schema import LOCATIONS, VIEWS
from core.studies import StudyError, StudySchema, get_study, list_studies, register_study


def test_schema_round_trips_and_lists_the_case_label_first() -> None:
    schema = get_study("aneurysm").schema
    assert StudySchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    assert schema.finding_labels == ("Aneurysm", *LOCATIONS) and schema.views == VIEWS


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"labels": ()}, "at least one label"),
        ({"labels": ("a", "a")}, "unique"),
        ({"labels": ("a", "")}, "non-empty"),
        ({"labels": ("a",), "case_label": "a"}, "also a label"),
    ],
)
def test_bad_schemas_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(StudyError, match=message):
        StudySchema(study="x", **kwargs)


def test_schema_documents_must_have_exactly_the_known_fields() -> None:
    doc = get_study("aneurysm").schema.to_dict()
    with pytest.raises(StudyError, match="fields"):
        StudySchema.from_dict(doc | {"extra": 1})
    with pytest.raises(StudyError, match="fields"):
        StudySchema.from_dict({k: v for k, v in doc.items() if k != "views"})


def test_unknown_study_names_the_known_ones_and_names_are_unique() -> None:
    with pytest.raises(StudyError, match="unknown study 'nope'.*aneurysm"):
        get_study("nope")
    with pytest.raises(StudyError, match="already registered"):
        register_study(get_study("aneurysm"))
    with pytest.raises(StudyError, match="schema of"):
        replace(get_study("aneurysm"), name="other")


def test_aneurysm_is_the_first_study_and_the_cli_prints_it() -> None:
    assert list_studies()[0].name == "aneurysm"
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli(["studies"]) == 0
    first = json.loads(out.getvalue())[0]
    assert (first["name"], first["task"], first["unit"]) == ("aneurysm", "classify", "views")
    assert first["labels"] == ["Aneurysm", *LOCATIONS] and first["views"] == list(VIEWS)
    assert {"train", "predict", "evaluate"} <= set(first["verbs"])
    assert first["pages"] == ["pages/case_review.py", "pages/cohort.py"]


def test_findings_follow_the_one_decision_rule() -> None:
    assert meets_threshold(0.5, 0.5) == 1 and meets_threshold(0.49, 0.5) == 0
    found = decide_findings({"a": 0.7, "b": 0.2}, {"b": 0.1, "a": 0.8})
    assert [f.label for f in found] == ["b", "a"]  # the thresholds' order
    assert [f.decision for f in found] == [1, 0]
    assert found[0] == Finding("b", 0.2, 0.1, 1, "0.200 >= 0.100")
    with pytest.raises(KeyError, match="no score"):
        decide_findings({"a": 0.7}, {"a": 0.5, "b": 0.5})
