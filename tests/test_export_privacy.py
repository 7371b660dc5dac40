"""Exports carry no patient identifier: not in their text, not readable in their pixels.

A DICOM case is built whose files carry a patient name, ID, birth date and institution,
whose pixels have the name and ID burned in (inside the field, where preprocessing finds
text, and in the margin outside the crop, where it never looks), and which comes with an
unusable file named after the patient. It runs through intake, preprocessing and a tiny
bundle (with its stage-1 heatmaps), and its HTML, PDF, JSON and CSV exports are scanned.

Pixels are checked by template matching: the burned-in string is rendered again with the
same font, scale and thickness, shrunk by the picture's scale, and matched
(``cv2.TM_CCOEFF_NORMED``) in every PNG embedded in the HTML (each names its view in its
``alt``), within the place the string was written grown by half the template's size: text
cannot move, and a whole-picture search for a 10-px-high strip scores about 0.5 on vessel
edges and box outlines alone. Calibration on the first two sample cases: the unredacted
control pictures (the originals with boxes, shrunk like the report's) score 0.69 to 0.93
where the string is; the exported pictures (originals and heatmap overlays) score at most
0.38. :data:`READABLE` = 0.5 lies between; the test asserts that the control clears it,
so a change that made the string unreadable anyway would show up. The PDF report's text
layer and metadata get the text scan, and every picture embedded in it (found again in
the HTML report by its pixels, for its view) the same template match.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from intake_fixtures import dicom
from pdf_fixtures import pdf_images, pdf_text
from PIL import Image
from pydicom import dcmread

from core.case import Case
from core.intake import case_from_files
from core.intake.naming import short_name
from core.models.bundle import load_bundle
from core.models.inference import preprocess_case, run_case
from core.preprocess.pipeline import preprocess_image
from core.review.drawing import draw_preprocessing
from core.review.export import export_csv, export_json, pdf_report
from core.review.overlay import HeatmapSettings, fit
from core.review.redact import MARGIN_FILL, file_token, redact_pixels, scrub, short_id
from core.review.report import REPORT_SIDE, html_report
from core.review.reviewed import ExportContext, ReviewedCase

NAME, PID, BIRTH, INSTITUTION = "DOE^JOHN", "1234567", "19650314", "ST ELSEWHERE GENERAL"
BURNED = f"{NAME} {PID}"
FONT, SCALE, MARGIN_SCALE, THICK = cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0.8, 3
#: Best template-match score below which the burned-in string counts as unreadable.
READABLE = 0.5
#: An unusable file, named by a person, and long enough for intake to shorten it in messages.
STRAY = f"{PID}_{NAME.replace('^', '_')}_referral_letter_from_the_general_practitioner.png"
CTX = ExportContext("bundle.json (training)", "tiny test bundle")
Boxes = list[tuple[int, int, int, int]]


def _burn(gray: np.ndarray) -> tuple[np.ndarray, Boxes]:
    """``gray`` with :data:`BURNED` written in the field's bottom-left corner and, where
    the left margin is wide enough, small in the margin; the image and the text boxes."""
    _, before = preprocess_image(gray)
    x0, y0, _, y1 = before.crop
    out, boxes = gray.copy(), []
    places = [(x0 + 12, y1 - 14, SCALE)]  # inside the field: preprocessing finds it
    if x0 >= cv2.getTextSize(BURNED, FONT, MARGIN_SCALE, THICK)[0][0] + 12:
        places.append((4, (y0 + y1) // 2, MARGIN_SCALE))  # margin: never searched for text
    for x, y, scale in places:
        (tw, th), base = cv2.getTextSize(BURNED, FONT, scale, THICK)
        cv2.putText(out, BURNED, (x, y), FONT, scale, 250, THICK, cv2.LINE_AA)
        boxes.append((x, y - th, x + tw, y + base))
    return out, boxes


def _dicom_with_identifiers(pixels: np.ndarray) -> bytes:
    ds = dcmread(io.BytesIO(dicom(pixels, identifiers=False)))
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = NAME, PID, BIRTH
    ds.InstitutionName = INSTITUTION
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def built(sample_cases: list[Path]) -> tuple[Case, dict[str, Boxes]]:
    """The case through intake, and per view where the string was burned in."""
    files, burned = [], {}
    for path in sorted(sample_cases[0].glob("*.jpg")):
        gray = np.asarray(Image.open(path).convert("L"))
        pixels, burned[path.stem[-4:]] = _burn(gray)
        files.append((path.with_suffix(".dcm").name, _dicom_with_identifiers(pixels)))
    files.append((STRAY, b"\x89PNG\r\n\x1a\n not really"))
    return case_from_files(files), burned


@pytest.fixture(scope="module")
def case(built: tuple[Case, dict[str, Boxes]]) -> Case:
    return built[0]


@pytest.fixture(scope="module")
def burned(built: tuple[Case, dict[str, Boxes]]) -> dict[str, Boxes]:
    return built[1]


@pytest.fixture(scope="module")
def reviewed(case: Case, tiny_bundle: Path) -> ReviewedCase:
    clean = preprocess_case(case)
    result = run_case(load_bundle(tiny_bundle), case)
    cams = {v: r.cam for v, r in result.views.items() if r.cam is not None}
    assert cams, "the tiny bundle's stage-1 heatmaps are part of what is exported"
    settings = HeatmapSettings("Aneurysm", "gradcam", 0.5, "shared")
    return ReviewedCase(case, clean, result, CTX).with_heatmaps(settings, cams, 1.0)


@pytest.fixture(scope="module")
def pdf(reviewed: ReviewedCase) -> bytes:
    return pdf_report(reviewed)


def _pngs(html: str) -> list[tuple[str, np.ndarray]]:
    """Every embedded PNG of the report as ``(view, grey image)``."""
    found = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"', html)
    return [
        (view, cv2.imdecode(np.frombuffer(base64.b64decode(b), np.uint8), 0)) for b, view in found
    ]


def _best_match(image: np.ndarray, original: np.ndarray, boxes: Boxes) -> float:
    """The best score of :data:`BURNED` around each place it was written in ``original``,
    in ``image`` (``original`` shrunk); the field's string first, then the margin's."""
    s = image.shape[1] / original.shape[1]
    best = -1.0
    for (x0, y0, x1, y1), font_scale in zip(boxes, (SCALE, MARGIN_SCALE)):
        (tw, th), base = cv2.getTextSize(BURNED, FONT, font_scale, THICK)
        canvas = np.zeros((th + base + 8, tw + 8), np.uint8)
        cv2.putText(canvas, BURNED, (4, th + 4), FONT, font_scale, 250, THICK, cv2.LINE_AA)
        t = fit(canvas, round(max(canvas.shape) * s))
        m = max(t.shape) // 2
        rows = slice(max(0, int(y0 * s) - m), int(y1 * s) + m)
        roi = image[rows, max(0, int(x0 * s) - m) : int(x1 * s) + m]
        score = cv2.matchTemplate(roi, t, cv2.TM_CCOEFF_NORMED)
        best = max(best, float(np.nan_to_num(score, nan=0.0).max()))
    return best


def test_the_fixture_has_identifiers_where_an_export_could_leak_them(
    case: Case, reviewed: ReviewedCase, burned: dict[str, Boxes]
) -> None:
    """Preconditions: text inside the field is found by preprocessing, text in the margin
    lies outside the crop, and the stray file is reported by its name."""
    in_margin = 0
    for view, boxes in burned.items():
        record = reviewed.clean[view].record
        fx0, fy0, fx1, fy1 = boxes[0]
        assert any(
            bx0 <= fx0 + 4 and fx1 - 4 <= bx1 and by0 <= fy0 + 4 and fy1 - 4 <= by1
            for bx0, by0, bx1, by1 in record.text_boxes
        ), f"{view}: the burned-in string was not found by preprocessing"
        for _, _, mx1, _ in boxes[1:]:
            assert mx1 <= record.crop[0]  # left of the crop: the margin
            in_margin += 1
    assert in_margin >= 1
    assert any(p.file == STRAY and PID in p.message for p in case.problems)


def test_no_identifier_in_the_text_of_any_export(reviewed: ReviewedCase) -> None:
    html, js, table = html_report(reviewed), export_json(reviewed), export_csv(reviewed)
    assert json.loads(js) and list(csv.reader(io.StringIO(table)))  # well-formed
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    for export in (text, js, table):
        for secret in (NAME, PID, BIRTH, INSTITUTION, "ELSEWHERE", STRAY):
            assert secret.lower() not in export.lower(), secret
        for word in ("doe", "john"):  # as a word: "does" is no leak, "_doe_" is
            assert not re.search(rf"(?i)(?<![a-z]){word}(?![a-z])", export), word
    assert file_token(STRAY) in js and file_token(STRAY) in text  # the file, by its digest
    sources = json.loads(js)["case"]["sources"]
    assert all(re.fullmatch(r"file-[0-9a-f]{12}\.dcm", s["name"]) for s in sources.values())


def test_burned_in_text_is_not_readable_in_exported_images(
    reviewed: ReviewedCase, burned: dict[str, Boxes]
) -> None:
    case = reviewed.case
    for view, cv in reviewed.clean.items():
        control = fit(draw_preprocessing(case.views[view].pixels, cv.record), REPORT_SIDE)
        grey = cv2.cvtColor(control, cv2.COLOR_RGB2GRAY)
        score = _best_match(grey, case.views[view].pixels, burned[view])
        assert score > READABLE, f"control {view}: the string should be found ({score:.2f})"
    images = _pngs(html_report(reviewed))
    assert len(images) == 16  # eight originals with boxes, eight heatmap overlays
    for view, image in images:
        score = _best_match(image, case.views[view].pixels, burned[view])
        assert score < READABLE, f"{view}: burned-in text readable in an export ({score:.2f})"


def test_no_identifier_in_the_text_or_metadata_of_the_pdf_report(pdf: bytes) -> None:
    reader, text = pdf_text(pdf)
    meta = " ".join(str(v) for v in (reader.metadata or {}).values())
    assert "Aneurysm AI review" in text and "Locations" in text  # the text layer is read
    for export in (text, meta):
        for secret in (NAME, PID, BIRTH, INSTITUTION, "ELSEWHERE", STRAY):
            assert secret.lower() not in export.lower(), secret
        for word in ("doe", "john"):
            assert not re.search(rf"(?i)(?<![a-z]){word}(?![a-z])", export), word
    assert file_token(STRAY) in text  # the stray file, by its digest


def test_burned_in_text_is_not_readable_in_the_pdf_reports_images(
    reviewed: ReviewedCase, burned: dict[str, Boxes], pdf: bytes
) -> None:
    html = _pngs(html_report(reviewed))
    embedded = pdf_images(pdf_text(pdf)[0])
    assert len(embedded) == len(html) == 16
    for image in embedded.values():
        grey = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
        diff, view = min(
            (float(np.abs(grey.astype(int) - g).mean()), v)
            for v, g in html
            if g.shape == grey.shape
        )
        assert diff < 1.0, "a PDF picture that is not one of the HTML report's"
        score = _best_match(grey, reviewed.case.views[view].pixels, burned[view])
        assert score < READABLE, f"{view}: burned-in text readable in the PDF ({score:.2f})"


def test_redaction_fills_text_boxes_and_margin_opaquely(reviewed: ReviewedCase) -> None:
    view, cv = next((v, c) for v, c in reviewed.clean.items() if c.record.text_boxes)
    original = reviewed.case.views[view].pixels
    out = redact_pixels(original, cv.record)
    x0, y0, x1, y1 = cv.record.text_boxes[0]
    assert out[y0:y1, x0:x1].std() == 0  # one grey: nothing of the strokes is left
    cx0, cy0, cx1, cy1 = cv.record.crop
    outside = np.ones(original.shape, bool)
    outside[cy0:cy1, cx0:cx1] = False
    assert (out[outside] == MARGIN_FILL).all()
    assert original[y0:y1, x0:x1].std() > 0  # the input is untouched


def test_names_are_digests_and_long_ids_are_cut() -> None:
    token = file_token("DOE_JOHN_1234567 LI-A.DCM")
    assert re.fullmatch(r"file-[0-9a-f]{12}\.dcm", token) and "DOE" not in token
    assert file_token("no-extension").startswith("file-") and "." not in file_token("x.y z")
    assert scrub("a.dcm and long_name.dcm", ["long_name.dcm"]) == (
        f"a.dcm and {file_token('long_name.dcm')}"
    )
    named = "DOE_JOHN_" + "scan" * 20 + ".png"  # intake's messages shorten it
    assert scrub(f"{short_name(named)}: unreadable", [named]) == f"{file_token(named)}: unreadable"
    assert short_id("12") == "12"
    long = "patient-" + "x" * 80
    assert len(short_id(long)) == 40 and short_id(long) != short_id(long + "y")
