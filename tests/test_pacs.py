"""The PACS path against a real Orthanc with DICOMweb: query, retrieve, map, run, send, read back.

A synthetic eight-run DSA study (plus one series nothing can map) and a chest DX film are
stored with STOW-RS; the worklist finds them; the DSA study is retrieved, mapped, scored by
the tiny aneurysm bundle, and its SR and heatmap captures are stored back, found again by
QIDO and checked value by value. The chest film goes the same way with the tiny chest
bundle, its boxes as SCOORD regions. Failures: a server that is down, a wrong password, a
server answering 500 (and a send that fails half-way), a study no series of which maps,
and a study over the limits. Identifiers: the CLI's output, the logs and the app's
exports of the PACS case hold none of the source's patient identifiers.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import highdicom as hd
import pytest
from pacs_fixtures import (
    ACCESSION,
    BIRTH_DATE,
    DSA_SERIES,
    OTHER_ACCESSION,
    PASSWORD,
    PATIENT_ID,
    PATIENT_NAME,
    USER,
    OrthancServer,
    chest_study,
    dsa_study,
    endpoint,
    orthanc,  # noqa: F401  (the fixture)
)
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from core import limits, paths
from core.__main__ import main as cli
from core.findings import Finding
from core.models.inference import preprocess_case
from core.pacs import inventory as inventory_module
from core.pacs.client import make_client
from core.pacs.config import Endpoint
from core.pacs.errors import (
    PacsAuthError,
    PacsServerError,
    PacsUnreachable,
    SendError,
    StudyNotFound,
    StudyTooLarge,
    UnmappableStudy,
)
from core.pacs.query import query
from core.pacs.results import build_results
from core.pacs.review import PacsReview, remap, review_study
from core.pacs.send import send_results, store
from core.pacs.sr import build_sr
from core.pacs.sr_check import check_sr, read_back
from core.review.export import export_csv, export_json
from core.review.report import html_report
from core.review.reviewed import ExportContext, ReviewedCase

IDENTIFIERS = (PATIENT_NAME, PATIENT_NAME.replace("^", " "), PATIENT_ID, BIRTH_DATE, "Mcintyre")
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture


@dataclass(frozen=True)
class Verdict:
    finding: str
    box: tuple[float, float, float, float] | None
    agree: bool
    corrected_label: int | None = None


@pytest.fixture(scope="module")
def server(
    orthanc: OrthancServer,  # noqa: F811  (the fixture imported above)
    sample_cases: list[Path],
    tiny_chest_cohort: Path,
) -> OrthancServer:
    """Orthanc holding the DSA study and the chest study (stored with STOW-RS)."""
    client = make_client(endpoint(orthanc))
    client.store_instances(dsa_study(sample_cases[0]))
    film = min(tiny_chest_cohort.rglob("*.dicom"))
    client.store_instances(chest_study(film))
    return orthanc


@pytest.fixture(autouse=True)
def _data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "data"))
    return tmp_path / "data"


def _study_uid(server: OrthancServer, accession: str) -> str:
    (row,) = query(endpoint(server), accession=accession)
    return row.study_uid


@pytest.fixture(scope="module")
def dsa_review(
    server: OrthancServer, tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PacsReview]:
    mp = pytest.MonkeyPatch()
    mp.setenv(paths.DATA_ENV, str(tmp_path_factory.mktemp("pacs-data")))
    heard: list[tuple[int, int]] = []
    review = review_study(
        endpoint(server), _study_uid(server, ACCESSION), tiny_bundle,
        progress=lambda done, total: heard.append((done, total)),
    )  # fmt: skip
    n = len(review.files.files)
    assert heard == [(k, n) for k in range(1, n + 1)]  # one report per image, in order
    yield review
    review.close()
    mp.undo()


def test_query_shows_the_worklist_without_identifiers(
    server: OrthancServer, caplog: pytest.LogCaptureFixture
) -> None:
    ep = endpoint(server)
    with caplog.at_level(logging.DEBUG):
        (row,) = query(ep, accession=ACCESSION)
    assert (row.accession, row.study_date, row.modalities) == (ACCESSION, "20260312", ("XA",))
    assert (row.description, row.series_count) == ("Cerebral angiography", 9)
    assert row.patient_name is None and row.patient_id is None
    assert "patient" not in json.dumps(row.to_dict())
    assert not any(i in caplog.text for i in IDENTIFIERS)
    shown = query(ep, accession=ACCESSION, show_identifiers=True)[0]
    assert (shown.patient_name, shown.patient_id) == (PATIENT_NAME, PATIENT_ID)
    assert [r.accession for r in query(ep, modality="DX")] == [OTHER_ACCESSION]
    assert len(query(ep, date_range="20260301-20260331")) == 2
    assert query(ep, date_range="20250101-20251231") == []


def test_dsa_study_maps_to_its_eight_views(dsa_review: PacsReview) -> None:
    mapping = dsa_review.mapping
    by_series = {a.instance.series_number: v for v, a in mapping.views.items()}
    assert by_series == {n: v for n, v in enumerate(DSA_SERIES, start=1)}
    (left_out,) = mapping.unmapped
    assert left_out[0] == "series 9 image 1" and "oblique" in left_out[2]
    assert "lateral from the positioner angle (+90 deg" in mapping.views["LI-B"].reason
    case = dsa_review.case
    assert sorted(case.views) == sorted(DSA_SERIES) and case.problems == []
    src = case.views["LI-A"].source
    assert (src.format, src.frames) == ("dicom", 4) and "minimum-intensity" in src.frame_rule
    assert len(dsa_review.result.findings) == 22
    assert sorted(p.name for p in dsa_review.files.folder.iterdir()) == [
        f"{n:04d}.dcm" for n in range(1, 10)
    ]


def test_a_corrected_mapping_reruns_without_downloading(dsa_review: PacsReview) -> None:
    li_a = dsa_review.mapping.views["LI-A"].instance.series_uid
    fixed = remap(dsa_review, {li_a: ""})
    assert "LI-A" not in fixed.case.views and "LI-A" in fixed.case.missing_views
    assert any(r == "left out by the reader" for _, _, r in fixed.mapping.unmapped)
    assert fixed.files is dsa_review.files


def test_dsa_results_go_back_and_read_back_exactly(
    dsa_review: PacsReview, server: OrthancServer
) -> None:
    findings = dsa_review.result.findings
    verdicts = [Verdict(findings[2].label, None, False, 0)]
    objects = build_results(dsa_review, verdicts)
    assert len(objects.captures) == 8
    report = send_results(dsa_review, objects.all)
    assert report.stored == tuple(str(d.SOPInstanceUID) for d in objects.all)
    client = make_client(endpoint(server))
    found = {i["00080016"]["Value"][0]: i["00080018"]["Value"][0]
             for i in client.search_for_instances(dsa_review.study_uid, search_filters={"Modality": "SR"})}  # fmt: skip
    assert found == {SR_CLASS: str(objects.sr.SOPInstanceUID)}
    sr = objects.sr
    back = read_back(
        endpoint(server), dsa_review.study_uid, sr.SeriesInstanceUID, sr.SOPInstanceUID
    )
    bundle = (dsa_review.bundle.name, dsa_review.bundle.manifest_sha256)
    assert check_sr(back, findings, objects.sources, bundle, verdicts) == []
    assert back.PatientName == PATIENT_NAME and back.AccessionNumber == ACCESSION
    assert "InstitutionName" not in back and "ReferringPhysicianName" in back
    # the check can fail: a changed probability, a dropped verdict, a wrong bundle
    assert check_sr(back, findings, objects.sources, (bundle[0], "0" * 64), verdicts)
    assert any("verdict" in p for p in check_sr(back, findings, objects.sources, bundle, []))
    moved = [Finding(f.label, f.score + 0.01 * (n == 3), f.threshold, f.decision, f.reason, f.box, f.sources)
             for n, f in enumerate(findings)]  # fmt: skip
    assert any(
        "Model probability" in p for p in check_sr(back, moved, objects.sources, bundle, verdicts)
    )
    # the captures: same study, stamped, referencing their source
    shot = objects.captures[0]
    sc = read_back(
        endpoint(server), dsa_review.study_uid, shot.SeriesInstanceUID, shot.SOPInstanceUID
    )
    assert sc.SOPClassUID == SC_CLASS and sc.BurnedInAnnotation == "YES"
    assert sc.PatientID == PATIENT_ID and sc.StudyInstanceUID == dsa_review.study_uid
    view = next(iter(objects.sources))
    assert (
        sc.SourceImageSequence[0].ReferencedSOPInstanceUID == objects.sources[view].SOPInstanceUID
    )
    band = sc.pixel_array[:20]
    assert (band == 0).mean() > 0.5 and (band == 255).any()


def test_chest_film_review_and_boxes_as_regions(
    server: OrthancServer, tiny_chest_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ep = endpoint(server)
    review = review_study(ep, _study_uid(server, OTHER_ACCESSION), tiny_chest_bundle)
    try:
        assert (
            list(review.mapping.views) == ["image"]
            and "DX film, PA" in review.mapping.views["image"].reason
        )
        film = review.case.views["image"].pixels
        h, w = film.shape
        # the model's findings, and a boxed one at a known place so a region is always written
        boxed = Finding("Nodule/Mass", 0.61, 0.3, 1, "test box", (10.0, 20.5, w / 2, h / 3), ())
        findings = (*review.result.findings, boxed)
        verdicts = [Verdict("Nodule/Mass", boxed.box, True)]
        sources = build_results(review, captures=False).sources
        sr = build_sr(
            "chest", review.bundle.name, review.bundle.manifest_sha256, findings, sources, verdicts
        )
        send_results(review, [sr])
        back = read_back(ep, review.study_uid, sr.SeriesInstanceUID, sr.SOPInstanceUID)
        bundle = (review.bundle.name, review.bundle.manifest_sha256)
        assert check_sr(back, findings, sources, bundle, verdicts) == []
        parsed = hd.sr.ComprehensiveSR.from_dataset(back)
        regions = parsed.content.get_planar_roi_measurement_groups()
        assert len(regions) == sum(f.box is not None for f in findings)
        off = (
            *findings[:-1],
            Finding("Nodule/Mass", 0.61, 0.3, 1, "", (11.0, 20.5, w / 2, h / 3), ()),
        )
        assert any(
            "region" in p or "missing" in p or "verdict" in p
            for p in check_sr(back, off, sources, bundle, verdicts)
        )
    finally:
        review.close()


def test_failures_each_have_a_clear_message(
    server: OrthancServer, tiny_bundle: Path, _data_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = Endpoint("down", "http://127.0.0.1:9", timeout_s=2)
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(
            PacsUnreachable,
            match=r"down \(127.0.0.1:9\) did not answer while searching for studies; is the server up\?",
        ),
    ):
        query(down, accession=ACCESSION)
    assert "?(query hidden)" in caplog.text and ACCESSION not in caplog.text  # the URL query is cut
    with pytest.raises(
        PacsAuthError, match=r"test-pacs \(127.0.0.1:\d+\) refused the credentials \(HTTP 401\)"
    ):
        query(endpoint(server, password="wrong"))
    with pytest.raises(
        StudyNotFound, match=r"not found \(HTTP 404\) while reading the study's metadata"
    ):
        review_study(endpoint(server), generate_uid(), tiny_bundle)
    chest_uid = _study_uid(server, OTHER_ACCESSION)
    with pytest.raises(
        UnmappableStudy,
        match=r"maps to a view of the aneurysm study \(.*series 1 image 1: DX is not read by the aneurysm study",
    ):
        review_study(endpoint(server), chest_uid, tiny_bundle)
    assert not any((_data_root / "pacs").iterdir())  # the retrieved film was removed


def test_a_study_over_the_limits_is_refused_before_or_while_downloading(
    server: OrthancServer, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch, _data_root: Path
) -> None:
    uid = _study_uid(server, ACCESSION)
    monkeypatch.setattr(inventory_module, "MAX_STUDY_INSTANCES", 4)
    with pytest.raises(
        StudyTooLarge,
        match=r"the study holds \d+ images, .* at most 4 images .* Nothing was downloaded",
    ):
        review_study(endpoint(server), uid, tiny_bundle)
    assert not (_data_root / "pacs").exists()
    monkeypatch.undo()
    monkeypatch.setenv(paths.DATA_ENV, str(_data_root))
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 20_000)  # a server sending more than declared
    with pytest.raises(
        StudyTooLarge,
        match=r"one instance is larger than 85,536 bytes .* the retrieval was stopped",
    ):
        review_study(endpoint(server), uid, tiny_bundle)
    assert not any((_data_root / "pacs").iterdir())


class _Stub(BaseHTTPRequestHandler):
    """A server that fails with 500, except the first ``ok_posts`` STOW requests."""

    ok_posts = 0
    posts = 0

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(500)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).posts += 1
        self._answer(200, b"{}") if type(self).posts <= type(self).ok_posts else self._answer(500)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    _Stub.ok_posts, _Stub.posts = 1, 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/dicom-web"
    httpd.shutdown()


def _dummy(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.StudyInstanceUID = SC_CLASS, generate_uid(), study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.file_meta = Dataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (
        SC_CLASS,
        ds.SOPInstanceUID,
    )
    return ds


def test_server_errors_and_a_half_sent_result_are_reported(stub: str) -> None:
    ep = Endpoint("flaky", stub)
    with pytest.raises(
        PacsServerError, match=r"answered HTTP 500 while searching for studies"
    ) as err:
        query(ep)
    assert err.value.status == 500
    study = generate_uid()
    items = [_dummy(study) for _ in range(3)]
    with pytest.raises(SendError) as sent:
        store(ep, study, items)
    first, second, third = (str(d.SOPInstanceUID) for d in items)
    assert sent.value.stored == (first,)
    assert set(sent.value.failed) == {second, third} and sent.value.failed[third] == "not sent"
    assert "result 2 of 3 was not stored" in str(sent.value) and first in str(sent.value)


COMMENT = "typed in the app: call the patient back"


def _save_verdict(review: PacsReview) -> None:
    """A stored verdict on the case's second finding, as the case page saves one."""
    from core.verdicts import VerdictStore
    from core.verdicts.records import VerdictIn

    f = review.result.findings[1]
    store = VerdictStore.open()
    try:
        store.save([VerdictIn(
            case_hash=review.case.content_hash(), case_id=review.case.case_id,
            bundle_name=review.bundle.name, bundle_hash=review.bundle.manifest_sha256,
            study="aneurysm", finding=f.label, probability=f.score, threshold=f.threshold,
            model_decision=f.decision, agree=False, corrected_label=1 - f.decision,
            reviewer="Dr Reviewer", idempotency_key=str(uuid.uuid4()), comment=COMMENT,
        )])  # fmt: skip
    finally:
        store.close()


def test_cli_query_and_review_send_print_no_identifiers(
    server: OrthancServer, tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, dsa_review: PacsReview,
) -> None:  # fmt: skip
    (tmp_path / "pacs.toml").write_text(
        f'[[endpoint]]\nname = "lab"\nurl = "{server.url}"\nauth = "basic"\n'
        'username_env = "LAB_USER"\npassword_env = "LAB_PASSWORD"\n'
    )
    monkeypatch.setenv("REVIEW_PACS_CONFIG", str(tmp_path / "pacs.toml"))
    monkeypatch.setenv("LAB_USER", USER)
    monkeypatch.setenv("LAB_PASSWORD", PASSWORD)
    with caplog.at_level(logging.DEBUG):
        assert cli(["pacs", "query", "lab", "--modality", "XA", "--date", "20260312"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["accession"] for r in rows] == [ACCESSION] and "patient_name" not in rows[0]
        monkeypatch.setenv("REVIEW_PACS_USERNAME", USER)
        monkeypatch.setenv("REVIEW_PACS_PASSWORD", PASSWORD)
        _save_verdict(dsa_review)
        argv = ["pacs", "review", server.url, rows[0]["study_uid"], "--bundle", str(tiny_bundle)]
        code = cli([*argv, "--send", "--with-verdicts"])
        printed = capsys.readouterr().out
    out = json.loads(printed)
    assert code == 0 and out["sent"]["sr_check"] == "the SR read back from the server matches"
    assert out["sent"]["verdicts"] == 1
    (item,) = make_client(endpoint(server)).search_for_instances(
        dsa_review.study_uid, search_filters={"SOPInstanceUID": out["sent"]["sr"]}
    )
    sr = read_back(
        endpoint(server), dsa_review.study_uid, item["0020000E"]["Value"][0], out["sent"]["sr"]
    )
    text = str(sr)
    assert "Reviewer disagrees" in text and "Dr Reviewer" not in text and COMMENT not in text
    assert len(out["sent"]["captures"]) == 8 and out["sent"]["stored"][0] == out["sent"]["sr"]
    assert len(out["findings"]) == 22 and len(out["mapping"]["views"]) == 8
    # identifiers: not in the CLI's output, the logs, or the app's exports of the case
    clean = preprocess_case(dsa_review.case)
    reviewed = ReviewedCase(
        dsa_review.case, clean, dsa_review.result, ExportContext("bundle.json", "tiny")
    )
    exports = printed + caplog.text + export_json(reviewed) + export_csv(reviewed)
    exports += html_report(reviewed)
    assert not [i for i in IDENTIFIERS if i in exports]
    assert PASSWORD not in caplog.text
