"""The PDF reports of both studies: rendered from the HTML report, read back as text.

Two deliberately different sources: an aneurysm case (eight JPEG views of a sample case
through the tiny bundle, with its stage-1 heatmaps) and a chest film (a synthetic DICOM
film with a hand-made detector output). Each PDF is opened with pypdf and its
text must carry what the HTML report says: the title, every finding's label and
probability, the bundle name and the study's "not for clinical use" notice, on pages of
the size asked for, numbered. The renderer may fetch nothing but ``data:`` URIs, and a
machine without it gets a line instead of a button while the other downloads stay.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
from intake_fixtures import dicom, jpeg, ramp
from pdf_fixtures import pdf_image_names, pdf_images, pdf_text
from PIL import Image
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from core.intake import case_from_files
from core.models.bundle import load_bundle
from core.models.inference import preprocess_case, run_case
from core.models.thresholds import Thresholds
from core.review import pdf as pdf_module
from core.review.export import pdf_report
from core.review.overlay import HeatmapSettings
from core.review.pdf import PAGE_ENV, PdfUnavailable, html_to_pdf, page_size, pdf_unavailable
from core.review.report import png_data_uri
from core.review.reviewed import ExportContext, ReviewedCase
from core.review.table import location_table
from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.film import chest_case, load_film
from core.studies.chest.review.export import film_pdf
from core.studies.chest.review.heatmaps import HeatmapRequest
from core.studies.chest.review.report import REDACTION_NOTE
from core.studies.chest.review.result import ChestResult
from core.studies.chest.review.reviewed import FilmReview, film_review
from core.studies.chest.review.window import apply_window, window_source
from core.studies.chest.runner import ChestOutput
from core.studies.chest.synth.cohort import render_image

ANEURYSM_NOTICE = "Demo models are trained on synthetic data — not for clinical use."
CHEST_NOTICE = "Synthetic chest films and boxes — not for clinical use."
#: Page boxes in PDF points (1/72 in).
A4, LETTER = (595.3, 841.9), (612.0, 792.0)


def _page_box(reader: PdfReader) -> tuple[float, float]:
    box = reader.pages[0].mediabox
    return round(float(box.width), 1), round(float(box.height), 1)


@pytest.fixture(scope="module")
def aneurysm(sample_cases: list[Path], tiny_bundle: Path) -> ReviewedCase:
    """The second sample case through the tiny bundle, heatmaps shown, demo notice."""
    files = [(p.name, p.read_bytes()) for p in sorted(sample_cases[1].glob("*.jpg"))]
    case = case_from_files(files)
    result = run_case(load_bundle(tiny_bundle), case)
    cams = {v: r.cam for v, r in result.views.items() if r.cam is not None}
    ctx = ExportContext("bundle.json (training)", "synthetic K-Ium", ANEURYSM_NOTICE)
    settings = HeatmapSettings("Aneurysm", "gradcam", 0.5, "shared")
    return ReviewedCase(case, preprocess_case(case), result, ctx).with_heatmaps(settings, cams, 1.0)


@pytest.fixture(scope="module")
def film() -> FilmReview:
    """A synthetic DICOM film with two boxes (one flagged) and a heatmap shown."""
    stored = render_image(7, 2, 512).stored
    data = dicom(stored)
    case = chest_case([("film.dcm", data)])
    h, w = stored.shape
    boxes = np.array([[0.2 * w, 0.3 * h, 0.45 * w, 0.6 * h], [0.55 * w, 0.5 * h, 0.8 * w, 0.7 * h]])
    fused = (boxes.astype(np.float32), np.array([0.81, 0.34], np.float32), np.array([0, 3]))
    final = (fused[0], np.array([0.625, 0.175], np.float32), fused[2])
    output = ChestOutput("film", (w, h), {"detector_frcnn": fused}, fused, final, 0.735, 0.8,
                         "lowered box scores ×0.77")  # fmt: skip
    thresholds = Thresholds(None, {k: 0.3 for k in ALL_LABELS}, "test")
    result = ChestResult("chest", case.case_id, case.content_hash(), "tiny-chest-ensemble",
                         "cd" * 32, output, thresholds)  # fmt: skip
    ctx = ExportContext("chest set A", "synthetic VinBigData-like", CHEST_NOTICE)
    loaded = load_film(data, "film.dcm")
    src = window_source(loaded)
    review = film_review(ReviewedCase(case, {}, result, ctx), loaded, src.full,
                         apply_window(src.values, src.full))  # fmt: skip
    heat = np.zeros(loaded.pixels.shape, np.float32)
    heat[: h // 3, : w // 3] = 1.0
    request = HeatmapRequest("EigenCAM", "detector_frcnn")
    return dataclasses.replace(review, heat=heat, heat_request=request)


def test_aneurysm_pdf_says_what_the_html_report_says(aneurysm: ReviewedCase) -> None:
    reader, text = pdf_text(pdf_report(aneurysm, "A4"))
    assert _page_box(reader) == A4
    n = len(reader.pages)
    assert n >= 2 and f"Page 1 of {n}" in text and f"Page {n} of {n}" in text
    assert "Aneurysm AI review — case" in text and "Stage 1 positive" in text
    assert "bundle tiny" in text and aneurysm.result.bundle_sha256[:12] in text
    assert text.count(ANEURYSM_NOTICE) >= n  # in the body and in every page's footer
    table = location_table(aneurysm.result)  # type: ignore[arg-type]
    assert len(table) == 21
    for row in table.itertuples(index=False):
        assert f"{row.label} {row.probability:.3f} {row.threshold:.3f} {row.decision}" in text
    assert f"Aneurysm probability {aneurysm.result.gate.patient_score:.3f}" in text
    assert len(pdf_image_names(reader)) == 16  # eight views with boxes and eight heatmap overlays


def test_chest_pdf_says_what_the_html_report_says(film: FilmReview) -> None:
    reader, text = pdf_text(film_pdf(film, "Letter"))
    assert _page_box(reader) == LETTER
    n = len(reader.pages)
    assert f"Page {n} of {n}" in text
    assert "Chest film review — upload-" in text
    assert "bundle tiny-chest-ensemble" in text and "thresholds: chest set A" in text
    assert text.count(CHEST_NOTICE) >= n
    assert "P(abnormal) 0.735" in text and "No finding 0.800" in text
    assert "Aortic enlargement: 0.810 → 0.625" in text  # the rule's change, per box
    assert "Cardiomegaly: 0.340 → 0.175" in text
    assert "Heatmap — EigenCAM" in text and " ".join(REDACTION_NOTE.split()) in text
    images = pdf_images(reader)
    assert len(images) == 2  # the film with its boxes, the heatmap overlay
    sizes = {im.size[::-1] for im in images.values()}
    assert sizes == {film.display.shape}  # as drawn for the HTML: not shrunk, not cropped


def test_pages_follow_the_setting(monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # noqa: ANN001
    monkeypatch.delenv(PAGE_ENV, raising=False)
    assert page_size() == "A4"
    monkeypatch.setenv(PAGE_ENV, " letter ")
    assert page_size() == "Letter"
    reader, text = pdf_text(html_to_pdf("<p>one</p><p style='break-before:page'>two</p>"))
    assert _page_box(reader) == LETTER and "one" in text and "Page 2 of 2" in text
    monkeypatch.setenv(PAGE_ENV, "B5")
    with caplog.at_level(logging.WARNING, logger=pdf_module.__name__):
        assert page_size() == "A4"
    assert "B5" in caplog.text
    with pytest.raises(ValueError, match="A3"):
        html_to_pdf("<p>x</p>", "A3")  # type: ignore[arg-type]


def test_only_data_uris_are_fetched(tmp_path: Path) -> None:
    """A report that named a file (or a server) would make the renderer read it: refused."""
    pixels = np.full((40, 60, 3), 200, np.uint8)
    local = tmp_path / "local.png"
    Image.fromarray(pixels).save(local)
    html = (
        f'<img src="{png_data_uri(pixels)}"><img src="{local.as_uri()}">'
        '<img src="http://127.0.0.1:9/x.png"><link rel=stylesheet href="file:///etc/passwd">'
    )
    reader, _ = pdf_text(html_to_pdf(html))
    assert len(pdf_image_names(reader)) == 1


def _hide_weasyprint(monkeypatch: pytest.MonkeyPatch, error: type[Exception]) -> None:
    real = builtins.__import__

    def fake(name: str, *args: object, **kwargs: object) -> object:
        if name.split(".")[0] == "weasyprint":
            raise error("libpango-1.0-0: cannot open shared object file")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    pdf_unavailable.cache_clear()


@pytest.mark.parametrize(("error", "says"), [(OSError, "Pango"), (ImportError, "WeasyPrint")])
def test_a_missing_renderer_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception], says: str
) -> None:
    _hide_weasyprint(monkeypatch, error)
    try:
        reason = pdf_unavailable()
        assert reason is not None and says in reason
        with pytest.raises(PdfUnavailable, match=says):
            html_to_pdf("<p>x</p>")
    finally:
        monkeypatch.undo()
        pdf_unavailable.cache_clear()
    assert pdf_unavailable() is None


def _chest_panel(review) -> None:  # noqa: ANN001 (the body runs as a script: no names)
    from ui.chest.case_export import export_panel

    export_panel(review)


def _aneurysm_panel(reviewed) -> None:  # noqa: ANN001
    from ui.export_panel import export_panel

    export_panel(reviewed)


def _buttons(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_both_export_panels_offer_the_pdf_or_say_why_not(
    monkeypatch: pytest.MonkeyPatch, aneurysm: ReviewedCase, film: FilmReview
) -> None:
    chest = AppTest.from_function(_chest_panel, args=(film,), default_timeout=30).run()
    assert not chest.exception
    assert _buttons(chest) == ["Numbers (JSON)", "Numbers (CSV)", "Report (HTML)",
                               "Report (PDF)", "Reviewed boxes (COCO)"]  # fmt: skip
    case = AppTest.from_function(_aneurysm_panel, args=(aneurysm,), default_timeout=30).run()
    assert not case.exception
    assert _buttons(case) == ["Numbers (JSON)", "Numbers (CSV)", "Report (HTML)", "Report (PDF)"]
    pdf_button = case.get("download_button")[3].proto
    assert pdf_button.deferred_file_id  # built on click, not on every rerun
    reason = "PDF reports need the system's Pango library (test)."
    monkeypatch.setattr("ui.chest.case_export.pdf_unavailable", lambda: reason)
    monkeypatch.setattr("ui.export_panel.pdf_unavailable", lambda: reason)
    for at in (chest.run(), case.run()):
        assert not at.exception
        assert "Report (PDF)" not in _buttons(at) and "Report (HTML)" in _buttons(at)
        assert reason in [c.value for c in at.caption]


def test_rendering_a_pdf_leaves_truncated_uploads_refused() -> None:
    """WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES at import; intake must
    still call a truncated JPEG truncated after a PDF has been rendered in the process."""
    from core.intake import BadFile, decode_image

    html_to_pdf("<p>x</p>")
    with pytest.raises(BadFile, match="truncated"):
        decode_image("LI-A.jpg", jpeg(ramp())[:-60])
