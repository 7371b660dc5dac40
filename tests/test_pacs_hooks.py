"""core/pacs asks the study registry, stacks runs stored as single-frame images, and leaves
this app's own earlier results on the server.

* A toy study registered here alone, with its own PACS hooks (modality, view rule, case
  builder), is mapped and built by core/pacs without any built-in study's rule or intake
  (checked again on a fresh interpreter).
* Against a real Orthanc: a DSA study whose LI-A run is stored as four single-frame
  instances (in reverse order) becomes one view whose frame-rule image, under both rules,
  is exactly that of the same run stored as one multi-frame instance.
* After results are sent (an SR and heatmap captures), a second review of the study lists
  them as earlier results and retrieves none of them (WADO-RS requests counted).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from fresh_imports import imported_in_fresh_interpreter
from pacs_fixtures import (
    OrthancServer,
    dsa_study_split,
    endpoint,
    orthanc,  # noqa: F401  (the fixture)
    xa_run,
)
from pydicom.dataset import Dataset

from core import paths
from core.case import Case, ViewImage
from core.intake.decode import decode_image
from core.intake.guards import Geometry
from core.pacs.capture import build_captures
from core.pacs.client import make_client
from core.pacs.errors import PacsError
from core.pacs.inventory import Instance, StudyInventory
from core.pacs.mapping import build_case, map_views
from core.pacs.query import query
from core.pacs.results import build_results
from core.pacs.retrieve import RetrievedStudy
from core.pacs.review import PacsReview, remap, review_study
from core.pacs.send import send_results
from core.pacs.sr import build_sr
from core.studies import get_study, register_study, unregister_study
from core.studies.study import PacsHooks, Study, StudySchema

ACCESSION = "ACC-55192"

# --- a toy study with its own hooks -------------------------------------------------------

CALLS: list[str] = []


def toy_views(images: Sequence[Instance]) -> Iterator[tuple[Instance, str | None, str]]:
    """The toy's rule: the view is the series description's word, FRONT or SIDE."""
    CALLS.append(f"views {len(images)}")
    for inst in images:
        word = inst.series_description.lower()
        if word in ("front", "side"):
            yield inst, word, f"toy rule: {word}"
        else:
            yield inst, None, "toy rule: neither front nor side"


def toy_case(files: Sequence[tuple[str, bytes]], case_id: str, frame_rule: str) -> Case:
    """The toy's intake: every file through the common decoder, named by its view."""
    CALLS.append(f"case {case_id} {frame_rule} {[n for n, _ in files]}")
    views = {}
    for name, data in files:
        pixels, info = decode_image(name, data)
        views[name.removesuffix(".dcm")] = ViewImage(name.removesuffix(".dcm"), pixels, info)
    return Case(case_id, views, expected_views=("front", "side"))


TOY = Study(
    name="toypacs", title="Toy: two mammography-like views", unit="views", task="classify",
    schema=StudySchema(study="toypacs", labels=("bright",), views=("front", "side")),
    roles=("image",), rules=(), metrics=(), pages=(), verbs=(),
    pacs=PacsHooks(("MG",), toy_views, toy_case, ("71651007", "SCT", "Mammography")),
)  # fmt: skip


def toy_inventory() -> StudyInventory:
    def image(series: str, number: int, modality: str, desc: str) -> Instance:
        return Instance(series, f"{series}.1", "", modality, number, 1, Geometry(16, 12), desc)

    return StudyInventory(
        "1.2.3",
        [
            image("a", 1, "MG", "FRONT"),
            image("b", 2, "MG", "side"),
            image("c", 3, "MG", "x"),
            image("d", 4, "XA", "FRONT"),
        ],
        earlier=[("series 9901 image 1", "AI findings (SR)")],
    )


@pytest.fixture
def toy() -> Iterator[Study]:
    register_study(TOY)
    CALLS.clear()
    yield get_study("toypacs")
    unregister_study("toypacs")


def _part10(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_core_pacs_maps_and_builds_a_toy_study_through_its_own_hooks(
    toy: Study, tmp_path: Path
) -> None:
    inv = toy_inventory()
    mapping = map_views(inv, "toypacs")
    assert CALLS == ["views 3"]  # only the MG images reached the toy's rule
    assert {v: (a.instance.series_uid, a.reason) for v, a in mapping.views.items()} == {
        "front": ("a", "toy rule: front"),
        "side": ("b", "toy rule: side"),
    }
    assert sorted(r for _, _, r in mapping.unmapped) == [
        "XA is not read by the toypacs study (MG)",
        "toy rule: neither front nor side",
    ]
    assert mapping.to_dict()["earlier_results"] == [
        {"image": "series 9901 image 1", "what": "AI findings (SR)"}
    ]
    # the reader's choice and the study's own views: another name is refused
    assert map_views(inv, "toypacs", {"c": "side"}).views["side"].instance.series_uid == "c"
    with pytest.raises(PacsError, match="'LI-A' is not a view; use one of front, side"):
        map_views(inv, "toypacs", {"c": "LI-A"})
    # the toy's case builder gets the mapped files, named by view
    files = RetrievedStudy(tmp_path)
    rng = np.random.default_rng(0)
    for inst in inv.instances[:2]:
        path = tmp_path / f"{inst.series_uid}.dcm"
        path.write_bytes(_part10(xa_run(rng.integers(0, 255, (12, 16), dtype=np.uint8))))
        files.files[inst.sop_uid] = path
    CALLS.clear()
    case = build_case(mapping, files, frame_rule="peak")
    assert CALLS == [f"case {case.case_id} peak ['front.dcm', 'side.dcm']"]
    assert case.case_id.startswith("pacs-") and sorted(case.views) == ["front", "side"]
    assert case.views["front"].pixels.shape == (12, 16)


def test_captures_and_the_sr_procedure_come_from_the_study(toy: Study) -> None:
    """core.pacs asks the study for its capture pictures and its procedure code."""
    import dataclasses
    from types import SimpleNamespace

    from core.pacs.heatmaps import CAPTURE_SIDE, OPACITY, overlays
    from core.pacs.sr import _procedure

    asked = []

    def captures(bundle: object, case: object, side: int, opacity: float) -> tuple:
        asked.append((side, opacity))
        return {"front": np.zeros((4, 4, 3), np.uint8)}, "toy maps"

    bundle = SimpleNamespace(study="toypacs")
    case = Case("1", {}, expected_views=("front", "side"))
    assert overlays(bundle, case) == ({}, "")  # the toy sends no captures yet
    with_captures = dataclasses.replace(TOY, pacs=dataclasses.replace(TOY.pacs, captures=captures))
    register_study(with_captures, replace=True)
    pictures, how = overlays(bundle, case)
    assert (list(pictures), how, asked) == (["front"], "toy maps", [(CAPTURE_SIDE, OPACITY)])
    code = _procedure("toypacs")
    assert (code.value, code.scheme_designator, code.meaning) == (
        "71651007", "SCT", "Mammography",
    )  # fmt: skip


def test_a_study_without_pacs_hooks_is_refused_by_name() -> None:
    plain = Study(name="toyplain", title="Toy", unit="image", task="classify",
                  schema=StudySchema(study="toyplain", labels=("x",)), roles=("image",),
                  rules=(), metrics=(), pages=(), verbs=())  # fmt: skip
    register_study(plain)
    try:
        with pytest.raises(
            PacsError, match="the toyplain study cannot be reviewed from a PACS yet"
        ):
            map_views(toy_inventory(), "toyplain")
    finally:
        unregister_study("toyplain")


def test_core_pacs_needs_no_built_in_study_piece_for_the_toy() -> None:
    """On a fresh interpreter: mapping a toy study loads neither built-in study's view rule
    nor the chest intake, nor torch (core.intake's package loads the aneurysm intake)."""
    code = (
        "from core.intake.guards import Geometry\n"
        "from core.pacs.inventory import Instance, StudyInventory\n"
        "from core.pacs.mapping import map_views\n"
        "from core.studies import register_study\n"
        "from core.studies.study import PacsHooks, Study, StudySchema\n"
        "rule = lambda images: ((i, 'front', 'toy') for i in images)\n"
        "register_study(Study(name='toypacs', title='t', unit='views', task='classify',"
        " schema=StudySchema(study='toypacs', labels=('x',), views=('front',)),"
        " roles=('image',), rules=(), metrics=(), pages=(), verbs=(),"
        " pacs=PacsHooks(('MG',), rule, lambda f, c, r: None, ('71651007', 'SCT', 'Mammography'))))\n"
        "inv = StudyInventory('1', [Instance('a', 'a.1', '', 'MG', 1, 1, Geometry(8, 8))])\n"
        "assert list(map_views(inv, 'toypacs').views) == ['front']\n"
    )
    built_in = ("core.pacs.dsa_rules", "core.pacs.film_rules", "core.studies.chest.film", "torch")
    assert imported_in_fresh_interpreter(code, built_in) == []


# --- against a real Orthanc ----------------------------------------------------------------


@pytest.fixture(scope="module")
def split(
    orthanc: OrthancServer,  # noqa: F811  (the fixture imported above)
    sample_cases: list[Path],
) -> tuple[OrthancServer, Dataset]:
    """Orthanc holding a DSA study whose LI-A run is four single-frame instances; and that
    run as the one multi-frame instance it would otherwise be."""
    study, run = dsa_study_split(sample_cases[0], "LI-A", ACCESSION)
    make_client(endpoint(orthanc)).store_instances(study)
    return orthanc, run


@pytest.fixture(scope="module")
def review(
    split: tuple[OrthancServer, Dataset],
    tiny_bundle: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PacsReview]:
    mp = pytest.MonkeyPatch()
    mp.setenv(paths.DATA_ENV, str(tmp_path_factory.mktemp("pacs-hooks")))
    (row,) = query(endpoint(split[0]), accession=ACCESSION)
    found = review_study(endpoint(split[0]), row.study_uid, tiny_bundle)
    yield found
    found.close()
    mp.undo()


@pytest.mark.parametrize("rule", ["minip", "peak"])
def test_a_run_of_single_frame_instances_is_one_view_through_the_frame_rule(
    review: PacsReview, split: tuple[OrthancServer, Dataset], rule: str
) -> None:
    li_a = review.mapping.views["LI-A"]
    assert [i.instance_number for i in li_a.instances] == [1, 2, 3, 4]  # stored 4, 3, 2, 1
    assert li_a.reason.endswith("; 4 single-frame images stacked as a run")
    assert review.mapping.to_dict()["views"]["LI-A"]["image"] == "series 1 images 1-4"
    assert len(review.mapping.views) == 8 and len(review.files.files) == 12  # 8 runs + 1, LI-A in 4
    case = review.case if rule == "minip" else remap(review, {}, frame_rule=rule).case
    want, info = decode_image("run.dcm", _part10(split[1]), rule, study="aneurysm")  # type: ignore[arg-type]
    got = case.views["LI-A"]
    assert np.array_equal(got.pixels, want)
    assert (got.source.frames, got.source.frame_rule) == (4, info.frame_rule)
    assert info.frame_rule == (
        "minimum-intensity projection over 4 frames" if rule == "minip"
        else "peak frame 4 of 4 (lowest mean intensity)"
    )  # fmt: skip
    assert case.problems == []


def test_the_sr_and_captures_name_every_image_of_a_stacked_run(review: PacsReview) -> None:
    from core.pacs.sr_check import check_sr

    objects = build_results(review)
    li_a = [i.sop_uid for i in review.mapping.views["LI-A"].instances]
    assert len(li_a) == 4 and str(objects.sources["LI-A"].SOPInstanceUID) == li_a[0]
    used = {str(ds.SOPInstanceUID) for ds in objects.images}
    assert set(li_a) <= used and len(used) == len(objects.sources) + 3  # 8 views, LI-A in 4
    evidence = {str(r.ReferencedSOPInstanceUID)
                for s in objects.sr.CurrentRequestedProcedureEvidenceSequence
                for se in s.ReferencedSeriesSequence for r in se.ReferencedSOPSequence}  # fmt: skip
    assert evidence == used
    refs = {len(c.SourceImageSequence): c for c in objects.captures}
    assert [str(r.ReferencedSOPInstanceUID) for r in refs[4].SourceImageSequence] == li_a
    assert sorted(refs) == [1, 4]  # the other views' captures name their one image
    identity = (review.bundle.name[:64], review.bundle.manifest_sha256)
    findings = review.result.findings
    assert check_sr(objects.sr, findings, objects.sources, identity, [], objects.images) == []
    assert "the evidence does not list exactly the source images" in check_sr(
        objects.sr, findings, objects.sources, identity, []
    )


def test_our_earlier_results_are_listed_and_never_downloaded(
    review: PacsReview, split: tuple[OrthancServer, Dataset], tiny_bundle: Path,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    sources = build_results(review, captures=False).sources
    bundle = review.bundle
    sr = build_sr(
        bundle.study, bundle.name, bundle.manifest_sha256, review.result.findings, sources
    )
    grey = {v: np.full((64, 64, 3), 90, np.uint8) for v in ("LI-A", "RV-B")}
    shots = build_captures(grey, sources, "test overlay")
    sent = send_results(review, [sr, *shots]).stored
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "data"))
    fetched: list[str] = []
    real = DICOMwebClient.retrieve_instance

    def counting(self: DICOMwebClient, *args: Any, **kwargs: Any) -> Dataset:
        fetched.append(args[2])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DICOMwebClient, "retrieve_instance", counting)
    again = review_study(endpoint(split[0]), review.study_uid, tiny_bundle)
    try:
        assert len(fetched) == 12 and not set(fetched) & set(sent)  # the study's images only
        assert sorted(again.files.files) == sorted(review.files.files)
        assert sorted(what for _, what in again.inventory.earlier) == [
            "AI findings (SR)", "heatmap capture", "heatmap capture"
        ]  # fmt: skip
        shown = again.findings_dict()["mapping"]
        assert sorted(e["image"] for e in shown["earlier_results"]) == [
            "series 9901 image 1", "series 9902 image 1", "series 9902 image 2"
        ]  # fmt: skip
        assert [u["reason"] for u in shown["unmapped"]] == [
            r for _, _, r in review.mapping.unmapped
        ]  # the same one oblique run left out; nothing of ours among the problems
        assert len(shown["unmapped"]) == 1 and "oblique" in shown["unmapped"][0]["reason"]
    finally:
        again.close()
