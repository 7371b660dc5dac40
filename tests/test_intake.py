"""Intake: every format decodes to the documented grey image, and every bad input is a
clear problem, never a traceback. All files are written here; the real DICOMs come from
pydicom's own test files and the ``pydicom-data`` package already on disk."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pandas as pd
import pytest
from intake_fixtures import (
    PATIENT_ID,
    PATIENT_NAME,
    RawMember,
    apng,
    deflated_bomb,
    deflated_dicom,
    dicom,
    dicom_claiming,
    jpeg,
    jpeg_claiming,
    png,
    png_claiming,
    ramp,
    raw_zip,
    relabelled_deflated,
    view_files,
    zip_of,
)
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, RLELossless

from core import limits
from core.case import Case, SourceInfo, ViewImage
from core.intake import (
    BadFile,
    TooLarge,
    case_from_files,
    case_from_zip,
    decode_image,
    parse_name,
    parse_view,
    read_kium_folder,
    safe_basename,
)
from core.intake.dicomread import read_dicom_header
from core.intake.frames import reduce_frames
from core.intake.guards import check_study_pixels
from core.intake.inflate import Inflater
from core.intake.naming import short_name
from core.schema import LOCATIONS, TRAIN_COLUMNS, VIEWS


def _testdata(name: str) -> bytes:
    """A file pydicom or pydicom-data ships; skipped (never downloaded) when absent."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed")
    with open(path, "rb") as fh:
        return fh.read()


def _kinds(case) -> list[tuple[str, str]]:
    return [(p.file, p.kind) for p in case.problems if p.kind != "missing"]


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "view", "index"),
    [
        ("1428LI-A.jpg", "LI-A", 1428),
        ("0012LI-A.jpg", "LI-A", 12),
        ("12_rv-b.JPEG", "RV-B", 12),
        ("LI-A.png", "LI-A", None),
        ("li_a.png", "LI-A", None),
        ("L I B.png", "LI-B", None),
        ("case7_RV-B.dcm", "RV-B", None),
        ("LV-A (1).jpg", "LV-A", None),
        ("scan_lv-b", "LV-B", None),  # DICOM files often have no suffix
        ("uploads/../0003RI-A.jpg", "RI-A", 3),
        ("C:\\Users\\x\\0005RV-A.jpg", "RV-A", 5),
    ],
)
def test_names_that_name_a_view(name: str, view: str, index: int | None) -> None:
    parsed = parse_name(name)
    assert (parsed.view, parsed.index) == (view, index)


@pytest.mark.parametrize(
    "name",
    ["LIA.png", "rib.png", "xLI-A.jpg", "LI-Ax.jpg", "LX-A.jpg", "notes.jpg", "LI-A_vs_RV-B.png"],
)
def test_names_that_do_not(name: str) -> None:
    assert parse_name(name).view is None


def test_two_views_in_one_name_are_ambiguous() -> None:
    parsed = parse_name("LI-A_vs_RV-B.png")
    assert parsed.ambiguous and parsed.candidates == ("LI-A", "RV-B")


def test_client_paths_are_cut_to_the_base_name() -> None:
    assert safe_basename("../../etc/LI-A.jpg") == "LI-A.jpg"
    assert safe_basename("C:\\temp\\x\\LI-A.jpg") == "LI-A.jpg"
    assert safe_basename("/abs/") == "unnamed file"
    assert parse_view(" li_b ") == "LI-B" and parse_view("LI-A.jpg") is None


# ---------------------------------------------------------------- JPEG / PNG


def test_jpeg_grey_decodes_close_to_source() -> None:
    src = ramp()
    px, info = decode_image("LI-A.jpg", jpeg(src))
    assert px.dtype == np.uint8 and px.shape == src.shape
    assert np.abs(px.astype(int) - src).mean() < 3
    assert (info.format, info.bit_depth, info.frames, info.frame_rule) == ("jpeg", 8, 1, None)


def test_png_8bit_grey_is_exact() -> None:
    src = ramp()
    px, info = decode_image("LI-A.png", png(src))
    np.testing.assert_array_equal(px, src)
    assert info.notes == ()


def test_png_16bit_is_scaled_by_its_actual_range() -> None:
    src = ramp(hi=4000, dtype=np.uint16) + 1000  # 12-bit data in a 16-bit file
    px, info = decode_image("LI-A.png", png(src))
    expected = np.rint((src.astype(float) - 1000) * 255 / 4000).astype(np.uint8)
    np.testing.assert_array_equal(px, expected)
    assert info.bit_depth == 16 and "actual range 1000..5000" in info.notes[0]


def test_png_rgb_uses_bt601_luminance() -> None:
    src = np.zeros((4, 3, 3), np.uint8)
    src[:, 0] = (255, 0, 0)
    src[:, 1] = (0, 255, 0)
    src[:, 2] = (0, 0, 255)
    px, info = decode_image("LI-A.png", png(src))
    np.testing.assert_array_equal(px[0], [76, 150, 29])
    assert info.photometric == "RGB" and "luminance" in info.notes[0]


def test_png_rgba_is_composited_over_white() -> None:
    src = np.zeros((2, 2, 4), np.uint8)
    src[0] = (0, 0, 0, 255)  # opaque black stays black
    src[1] = (0, 0, 0, 0)  # transparent becomes white
    px, info = decode_image("LI-A.png", png(src))
    np.testing.assert_array_equal(px, [[0, 0], [255, 255]])
    assert "composited over white" in info.notes[-1]


def test_png_rgba_opaque_equals_rgb() -> None:
    rgb = np.dstack([ramp(), ramp()[:, ::-1], np.full_like(ramp(), 40)])
    rgba = np.dstack([rgb, np.full_like(ramp(), 255)])
    a, _ = decode_image("a.png", png(rgb))
    b, info = decode_image("b.png", png(rgba))
    np.testing.assert_array_equal(a, b)
    assert not any("composited" in n for n in info.notes)


# ---------------------------------------------------------------- DICOM written here


def test_dicom_16bit_without_window_uses_actual_range() -> None:
    src = ramp(hi=3000, dtype=np.uint16) + 200
    px, info = decode_image("LI-A.dcm", dicom(src, bits_stored=12))
    np.testing.assert_array_equal(px[0, [0, -1]], [0, 255])
    assert (info.format, info.bit_depth, info.photometric) == ("dicom", 12, "MONOCHROME2")
    assert "actual range 200..3200" in info.notes[-1]


def test_dicom_monochrome1_is_inverted() -> None:
    src = ramp(hi=4095, dtype=np.uint16)
    mono2, _ = decode_image("a.dcm", dicom(src, bits_stored=12))
    mono1, info = decode_image("b.dcm", dicom(src, bits_stored=12, photometric="MONOCHROME1"))
    np.testing.assert_array_equal(mono1, 255 - mono2)
    assert "MONOCHROME1 inverted" in info.notes


def test_dicom_window_is_applied_by_pydicom() -> None:
    src = ramp(hi=4095, dtype=np.uint16)
    px, info = decode_image("a.dcm", dicom(src, bits_stored=12, window=(2048, 1024)))
    below, above = src < 1536, src > 2560
    assert (px[below] == 0).all() and (px[above] == 255).all()
    middle = px[~below & ~above]
    assert 0 < middle.min() and middle.max() < 255 and len(np.unique(middle)) > 3
    assert "VOI LUT applied (window 2048/1024, linear)" in info.notes


def test_dicom_rescale_then_window() -> None:
    """Window values are in rescaled units: slope 2 doubles every stored value first."""
    src = ramp(hi=2047, dtype=np.uint16)
    px, info = decode_image(
        "a.dcm", dicom(src, bits_stored=12, rescale=(2, 0), window=(2048, 1024))
    )
    assert (px[src < 768] == 0).all() and (px[src > 1280] == 255).all()
    assert info.notes[0] == "Modality LUT applied (rescale slope 2, intercept 0)"


def _run() -> np.ndarray:
    """A 3-frame run: each frame fills a different vessel (a dark column) on grey."""
    run = np.full((3, 8, 9), 200, np.uint8)
    for k in range(3):
        run[k, :, 3 * k] = 20 + 10 * k
    run[2, 0, :] = 0  # the last frame is darkest overall
    return run


def test_multiframe_minip_keeps_every_vessel() -> None:
    run = _run()
    px, info = decode_image("LI-A.dcm", dicom(run))
    np.testing.assert_array_equal(px, run.min(axis=0))
    assert info.frames == 3
    assert info.frame_rule == "minimum-intensity projection over 3 frames"


def test_multiframe_peak_frame_is_the_darkest_frame() -> None:
    run = _run()
    px, info = decode_image("LI-A.dcm", dicom(run), frame_rule="peak")
    np.testing.assert_array_equal(px, run[2])
    assert info.frame_rule == "peak frame 3 of 3 (lowest mean intensity)"


def test_unknown_frame_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown frame rule"):
        reduce_frames([ramp()], "mean")  # type: ignore[arg-type]


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless])
def test_lossless_compressed_dicom_equals_uncompressed(syntax: str) -> None:
    frame = ramp(40, 48, hi=4095, dtype=np.uint16)  # J2K needs sides >= 32 for its levels
    src = np.stack([frame, frame[:, ::-1]])
    plain, _ = decode_image("a.dcm", dicom(src, bits_stored=12))
    packed, info = decode_image("b.dcm", dicom(src, bits_stored=12, syntax=syntax))
    np.testing.assert_array_equal(packed, plain)
    assert info.notes[0] == f"decoded from {syntax.name}"


def test_jpeg_baseline_dicom_decodes() -> None:
    src = ramp()
    px, info = decode_image("a.dcm", dicom(src, syntax=JPEGBaseline8Bit))
    assert np.abs(px.astype(int) - src).mean() < 3
    assert info.notes[0] == "decoded from JPEG Baseline (Process 1)"


# ---------------------------------------------------------------- real DICOM files


@pytest.mark.parametrize(
    "compressed", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"]
)
def test_real_compressed_mr_matches_uncompressed(compressed: str) -> None:
    plain, _ = decode_image("a.dcm", _testdata("MR_small.dcm"))
    packed, info = decode_image("b.dcm", _testdata(compressed))
    np.testing.assert_array_equal(packed, plain)
    assert "VOI LUT applied (window 600/1600, linear)" in info.notes


def test_real_jpeg_lossless_rgb_matches_uncompressed() -> None:
    plain, _ = decode_image("a.dcm", _testdata("SC_rgb.dcm"))
    packed, info = decode_image("b.dcm", _testdata("SC_rgb_jpeg_gdcm.dcm"))
    np.testing.assert_array_equal(packed, plain)
    assert "JPEG Lossless" in info.notes[0] and "luminance" in info.notes[-1]


def test_real_jpeg_lossless_8bit_grey() -> None:
    px, info = decode_image("a.dcm", _testdata("JPGLosslessP14SV1_1s_1f_8b.dcm"))
    assert px.shape == (768, 1024) and px.std() > 5
    assert info.bit_depth == 8


def test_real_cr_chest_monochrome1_j2k_matches_uncompressed() -> None:
    plain, info = decode_image("RG1_UNCR.dcm", _testdata("RG1_UNCR.dcm"))
    packed, _ = decode_image("RG1_J2KR.dcm", _testdata("RG1_J2KR.dcm"))
    np.testing.assert_array_equal(packed, plain)
    assert info.photometric == "MONOCHROME1" and "MONOCHROME1 inverted" in info.notes
    assert info.bit_depth == 15 and plain.shape == (1955, 1841)


def test_real_multiframe_and_lut_files() -> None:
    _, info = decode_image("a.dcm", _testdata("emri_small.dcm"))
    assert info.frames == 10 and info.frame_rule.startswith("minimum-intensity")
    _, info = decode_image("b.dcm", _testdata("vlut_04.dcm"))
    assert "VOI LUT applied (VOI LUT sequence, item 1)" in info.notes
    _, info = decode_image("c.dcm", _testdata("mlut_18.dcm"))
    assert "Modality LUT applied (LUT sequence)" in info.notes


def test_dicom_identifiers_never_leave_the_loader(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    files = [
        ("LI-A.dcm", dicom(ramp(hi=4095, dtype=np.uint16), bits_stored=12)),
        ("LI-B.dcm", dicom(_run())),
        ("LV-A.dcm", dicom_claiming(60000, 60000)),  # too large: a problem message
        ("LV-B.dcm", dicom(ramp())[:-40]),  # cut short: another problem message
    ]
    case = case_from_files(files)
    assert set(case.views) == {"LI-A", "LI-B"}
    texts = [repr(case.views[v].source) for v in case.views]
    texts += [repr(p) for p in case.problems] + [case.case_id, caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    for secret in (PATIENT_NAME, PATIENT_ID, "Doe", "19700101"):
        assert not any(secret in t for t in texts), secret


# ---------------------------------------------------------------- bad files


def test_bad_files_give_clear_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = {
        "empty.jpg": (b"", BadFile, "empty.jpg: the file is empty"),
        "LI-A.jpg": (
            jpeg(ramp())[:-60],
            BadFile,
            "LI-A.jpg: the JPEG is truncated (file ends early)",
        ),
        "text.png": (b"hello, not an image", BadFile, "not a JPEG, PNG or DICOM image"),
        "wide.jpg": (
            jpeg_claiming(9000, 100),
            TooLarge,
            "9000x100 pixels; the longest side allowed is 8192",
        ),
        "huge.jpg": (jpeg_claiming(65000, 65000), TooLarge, "far too many pixels"),
        "huge.png": (png_claiming(100000, 100000), TooLarge, "far too many pixels"),
        "big.png": (png_claiming(8000, 8000), TooLarge, "= 64,000,000 pixels; at most 50,000,000"),
        "huge.dcm": (dicom_claiming(60000, 60000), TooLarge, "60000x60000 pixels"),
        "run.dcm": (dicom_claiming(4000, 4000, frames=40), TooLarge, "40 frames of 4000x4000"),
        "cut.dcm": (dicom(ramp(64, 64))[:-100], BadFile, "pixel data could not be decoded"),
        "nopix.dcm": (dicom(ramp())[:-1200], BadFile, "no pixel data"),
    }
    for name, (data, exc, text) in cases.items():
        with pytest.raises(exc) as err:
            decode_image(name, data)
        assert text in str(err.value), (name, str(err.value))
        assert str(err.value).startswith(f"{name}: ")
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 10)
    with pytest.raises(TooLarge, match="MiB per file"):
        decode_image("LI-A.png", png(ramp()))


def test_bad_files_become_problems_and_the_rest_still_loads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="core.intake")
    files = view_files()
    files[0] = ("1428LI-A.jpg", files[0][1][:-60])
    files[1] = ("1428LI-B.png", png_claiming(100000, 100000))
    files[2] = ("1428LV-A.jpg", b"")
    case = case_from_files(files)
    assert set(case.views) == set(VIEWS) - {"LI-A", "LI-B", "LV-A"}
    assert _kinds(case) == [("1428LI-A.jpg", "bad_file"), ("1428LI-B.png", "too_large"),
                            ("1428LV-A.jpg", "bad_file")]  # fmt: skip
    assert [p.message.split(":")[0] for p in case.problems if p.kind == "missing"] == [
        "LI-A (left ICA injection, frontal)", "LI-B (left ICA injection, lateral)",
        "LV-A (left vertebral injection, frontal)",
    ]  # fmt: skip
    assert case.case_id == "1428"
    assert "1428LI-A.jpg: the JPEG is truncated (file ends early)" in caplog.text


# ---------------------------------------------------------------- uploads


def test_complete_upload() -> None:
    case = case_from_files(view_files("0012"))
    assert case.is_complete and case.problems == [] and case.case_id == "12"
    assert case.views["LI-A"].source.name == "0012LI-A.jpg"


def test_missing_duplicate_and_unrecognised_names() -> None:
    files = view_files()[:6] + [
        ("again/1428LI-A.jpg", jpeg(ramp())),
        ("scan3.png", png(ramp())),
        ("LI-A_vs_RV-B.png", png(ramp())),
    ]
    case = case_from_files(files)
    assert case.missing_views == ["RV-A", "RV-B"]
    by_kind = {p.kind: p.message for p in case.problems}
    assert by_kind["duplicate"] == (
        "1428LI-A.jpg: a second file for LI-A (1428LI-A.jpg is used); this one was ignored"
    )
    assert case.problems[1].message.startswith("scan3.png: no view in the file name")
    assert "matches several views (LI-A, RV-B)" in case.problems[2].message
    assert [p.kind for p in case.problems].count("missing") == 2


def test_override_fixes_a_misnamed_file() -> None:
    files = view_files()[:7] + [("scan3.png", png(ramp()))]
    case = case_from_files(files, overrides={"scan3.png": "rv_b"})
    assert case.is_complete and case.problems == []
    assert case.views["RV-B"].source.name == "scan3.png"
    bad = case_from_files(files, overrides={"scan3.png": "XX"})
    assert bad.problems[0].message == (
        "scan3.png: the chosen view 'XX' is not one of " + ", ".join(VIEWS)
    )


def test_a_bad_first_copy_does_not_block_a_good_second() -> None:
    files = [("LI-A.jpg", b"junk"), ("LI-A (1).jpg", jpeg(ramp()))]
    case = case_from_files(files, case_id="x")
    assert case.views["LI-A"].source.name == "LI-A (1).jpg"
    assert _kinds(case) == [("LI-A.jpg", "bad_file")]


def test_mixed_patient_indices_are_reported() -> None:
    files = [("12LI-A.jpg", jpeg(ramp())), ("13LI-B.jpg", jpeg(ramp()))]
    case = case_from_files(files)
    assert case.case_id.startswith("upload-")
    assert any("different patient indices (12, 13)" in p.message for p in case.problems)
    named = case_from_files(files, case_id="mine")
    assert named.case_id == "mine"
    assert any("different patient indices (12, 13)" in p.message for p in named.problems)


# ---------------------------------------------------------------- zip


def test_zip_with_folders_and_mac_clutter() -> None:
    members = [(f"case/sub/{n}", d) for n, d in view_files()]
    members += [("__MACOSX/case/._1428LI-A.jpg", b"junk"), ("case/.DS_Store", b"junk"),
                ("case/readme.txt", b"hello")]  # fmt: skip
    case = case_from_zip(zip_of(members))
    assert case.is_complete and case.case_id == "1428"
    (note,) = case.problems  # one line lists what was not read, nothing is dropped unsaid
    assert (note.file, note.kind) == ("", "unrecognised_name")
    assert note.message == (
        "archive.zip: 3 entries not read as images: __MACOSX/case/._1428LI-A.jpg (Mac "
        "metadata), case/.DS_Store (hidden file), case/readme.txt (not an image name)"
    )


def test_zip_path_traversal_is_refused_not_extracted() -> None:
    members = view_files()[:3] + [
        ("../1428LV-B.jpg", jpeg(ramp())),
        ("/abs/1428RI-A.jpg", jpeg(ramp())),
        ("C:/x/1428RI-B.jpg", jpeg(ramp())),
        ("a\\..\\..\\1428RV-A.jpg", jpeg(ramp())),
    ]
    case = case_from_zip(zip_of(members), zip_name="upload.zip")
    refused = [p for p in case.problems if p.kind == "bad_file"]
    assert len(refused) == 4
    assert all("refused, the path points outside the archive folder" in p.message for p in refused)
    assert case.missing_views == ["LV-B", "RI-A", "RI-B", "RV-A", "RV-B"]


def test_zip_bomb_member_is_refused_before_reading() -> None:
    members = view_files()[:7] + [("1428RV-B.dcm", bytes(20 * 2**20))]
    case = case_from_zip(zip_of(members))
    (bomb,) = [p for p in case.problems if p.kind == "too_large"]
    assert bomb.file == "1428RV-B.dcm" and "possible zip bomb" in bomb.message
    assert case.missing_views == ["RV-B"]


def test_zip_with_too_many_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_ZIP_MEMBERS", 4)
    case = case_from_zip(zip_of(view_files()), zip_name="big.zip")
    assert case.problems[0].message == "big.zip: the zip has 8 entries; at most 4"
    assert case.views == {}


def test_zip_member_lying_about_its_size_is_caught() -> None:
    data = bytearray(zip_of(view_files()[:1]))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 10)  # declared uncompressed size
    case = case_from_zip(bytes(data))
    assert _kinds(case) == [("1428LI-A.jpg", "bad_file")]
    assert "could not be unpacked" in case.problems[0].message


def test_inflater_stops_at_the_cap() -> None:
    packed = zlib.compress(b"x" * 10)[2:-4]  # raw deflate, as in zip and DICOM
    assert Inflater(packed, "a", "it").rest(10, "test") == b"x" * 10
    with pytest.raises(TooLarge, match="inflates past 9 bytes"):
        Inflater(packed, "a", "it").rest(9, "test")


def test_not_a_zip() -> None:
    case = case_from_zip(b"PK but not really", zip_name="c:\\x\\up.zip")
    assert case.problems[0].file == "up.zip" and "not a readable zip" in case.problems[0].message


# ---------------------------------------------------------------- K-Ium folder


def _train(rows: dict[int, list[str]]) -> pd.DataFrame:
    records = []
    for idx, positive in rows.items():
        rec = {c: 0 for c in TRAIN_COLUMNS} | {"Index": idx, "Aneurysm": int(bool(positive))}
        records.append(rec | {c: 1 for c in positive})
    return pd.DataFrame(records, columns=list(TRAIN_COLUMNS))


def test_kium_folder_with_zero_padded_names(tmp_path) -> None:
    for name, data in view_files("0012"):
        (tmp_path / name).write_bytes(data)
    for name, data in view_files("7")[:4]:
        (tmp_path / name).write_bytes(data)
    (tmp_path / "12LI-A.jpg").write_bytes(jpeg(ramp()))  # duplicate of 0012LI-A.jpg
    (tmp_path / "notes.jpg").write_bytes(b"x")
    (tmp_path / "README.txt").write_text("not an image")
    _train({12: ["L_MCA", "BA"], 7: [], 99: []}).to_csv(tmp_path / "train.csv", index=False)

    folder = read_kium_folder(tmp_path)
    assert folder.indices == [7, 12] and len(folder) == 2
    assert folder.labels[12]["L_MCA"] == 1 and folder.labels[12]["Aneurysm"] == 1
    assert list(folder.labels[12]) == ["Aneurysm", *LOCATIONS]
    kinds = [(p.file, p.kind) for p in folder.problems]
    assert kinds == [("12LI-A.jpg", "duplicate"), ("notes.jpg", "unrecognised_name"),
                     ("train.csv", "missing")]  # fmt: skip
    assert folder.problems[2].message == (
        "train.csv: labelled indices without images: 1 (e.g. 99); skipped"
    )

    case = folder.load_case("0012")
    assert case.case_id == "12" and case.is_complete
    assert case.labels == folder.labels[12]
    assert case.views["LI-A"].source.name == "0012LI-A.jpg"
    assert [p.kind for p in case.problems] == ["duplicate"]
    partial = folder.load_case(7)
    assert len(partial.views) == 4 and partial.labels["Aneurysm"] == 0
    with pytest.raises(KeyError, match="no images for Index 5"):
        folder.load_case(5)


def test_kium_folder_without_train_csv_is_unlabelled(tmp_path) -> None:
    for name, data in view_files("0031"):
        (tmp_path / name).write_bytes(data)
    folder = read_kium_folder(tmp_path)
    assert folder.indices == [31] and folder.labels is None and folder.problems == []
    case = folder.load_case(31)
    assert case.is_complete and case.labels is None


def test_kium_folder_images_without_labels_and_oversized_files(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, data in view_files("3"):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "0044LI-A.jpg").write_bytes(jpeg(ramp()))
    _train({3: []}).to_csv(tmp_path / "train.csv", index=False)
    folder = read_kium_folder(tmp_path)
    assert folder.indices == [3, 44]
    assert folder.problems[0].message == (
        "train.csv: no row for indices with images: 1 (e.g. 44); they load unlabelled"
    )
    assert folder.load_case(44).labels is None
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 10)
    case = folder.load_case(3)
    assert case.views == {} and case.labels == folder.labels[3]
    assert [p.kind for p in case.problems][:8] == ["too_large"] * 8


def test_kium_folder_errors(tmp_path) -> None:
    with pytest.raises(BadFile, match="no such folder"):
        read_kium_folder(tmp_path / "absent")
    pd.DataFrame({"Index": [1], "Aneurysm": [1]}).to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(BadFile, match="^train.csv: train.csv must have the 23 K-Ium columns"):
        read_kium_folder(tmp_path)
    bad = _train({1: []})
    bad.loc[0, "BA"] = 2
    bad.to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(BadFile, match="labels must all be 0 or 1"):
        read_kium_folder(tmp_path)


# ---------------------------------------------------------------- case identity


def _old_content_hash(case: Case) -> str:
    """``Case.content_hash`` as it was before it covered every view: the 8 DSA names only."""
    h = hashlib.sha256()
    for v in VIEWS:
        if v in case.views:
            px = np.ascontiguousarray(case.views[v].pixels)
            h.update(f"{v}:{px.shape[0]}x{px.shape[1]};".encode())
            h.update(px.tobytes())
    return h.hexdigest()


def _case(views: dict[str, np.ndarray], expected: tuple[str, ...] = ()) -> Case:
    return Case(
        "x",
        {v: ViewImage(v, px, SourceInfo(f"{v}.png", "png")) for v, px in views.items()},
        expected_views=expected,
    )


def test_cases_with_other_view_names_get_different_keys() -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (16, 12), dtype=np.uint8) for _ in range(2))
    assert _case({"image": a}).content_hash() != _case({"image": b}).content_hash()
    assert _case({"a": a, "b": b}).content_hash() != _case({"a": a, "b": a}).content_hash()
    assert _case({"a": a}).content_hash() != _case({"b": a}).content_hash()  # names count
    assert _case({"image": a}).content_hash() == _case({"image": a.copy()}).content_hash()


def test_dsa_case_keeps_the_key_it_had_before() -> None:
    case = case_from_files(view_files())
    assert case.content_hash() == _old_content_hash(case)
    partial = case_from_files(view_files()[:3])
    assert partial.content_hash() == _old_content_hash(partial)
    # the order the old hash used is the sorted order the new one uses
    assert list(VIEWS) == sorted(VIEWS)
    raw = _case({v: np.clip(ramp() // 2 + 10 * i, 0, 255).astype(np.uint8)
                 for i, v in enumerate(VIEWS)})  # fmt: skip
    # the value the code before this change gave for these pixels
    assert raw.content_hash() == "8b9e67ec05055779678dce96dd6bdd20db240d0a238442db19d388d3a09de2b6"


def test_intake_expects_the_dsa_views_and_a_case_may_expect_others() -> None:
    case = case_from_files(view_files()[:2])
    assert case.expected_views == VIEWS and case.missing_views == list(VIEWS[2:])
    film = _case({"image": ramp()}, expected=("image",))
    assert film.is_complete and _case({}, expected=("image",)).missing_views == ["image"]


# ---------------------------------------------------------------- memory budget and caps


def test_dicom_budget_counts_frames_and_bytes_per_sample() -> None:
    run = dicom_claiming(2000, 2000, frames=40, bits=16)  # 160 M pixels, 305 MiB to decode
    text = "40 frames of 2000x2000, 1 sample(s) of 16 bits per pixel: 305 MiB to decode; "
    with pytest.raises(TooLarge, match=re.escape(text + "at most 256 MiB")):
        decode_image("run.dcm", run)


def test_jpeg2000_run_budget_comes_from_the_dicom_header() -> None:
    frame = ramp(40, 48, hi=4095, dtype=np.uint16)
    base = dicom(np.stack([frame, frame]), bits_stored=12, syntax=JPEG2000Lossless)
    run = dicom_claiming(1200, 1200, frames=40, samples=3, bits=16, base=base)
    with pytest.raises(TooLarge, match=re.escape("3 sample(s) of 16 bits per pixel: 330 MiB")):
        decode_image("run.dcm", run)


def test_raster_budget_counts_channels_and_bit_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_DECODE_BYTES", 3000)
    grey, grey16 = ramp(32, 32), ramp(32, 32, hi=4000, dtype=np.uint16)
    rgb = np.dstack([grey] * 3)
    decode_image("grey.png", png(grey))  # 1,024 bytes
    decode_image("grey16.png", png(grey16))  # 2,048 bytes
    for name, data in (("rgb.png", png(rgb)), ("rgb.jpg", jpeg(rgb))):  # 3,072 bytes
        with pytest.raises(TooLarge, match=re.escape("32x32, 3 sample(s) of 8 bits")):
            decode_image(name, data)
    monkeypatch.setattr(limits, "MAX_DECODE_BYTES", 2000)
    with pytest.raises(TooLarge, match=re.escape("32x32, 1 sample(s) of 16 bits")):
        decode_image("grey16.png", png(grey16))


def test_per_study_pixel_caps_are_checked_before_decoding() -> None:
    assert limits.STUDY_MAX_PIXELS == {"aneurysm": 2048 * 2048, "chest": 4096 * 4096}
    big = png(np.zeros((2100, 2100), np.uint8))  # 4.4 MP: a fine chest film, too big for DSA
    assert decode_image("film.png", big, study="chest")[0].shape == (2100, 2100)
    case = case_from_files(view_files()[:7] + [("1428RV-B.png", big)])
    assert sorted(case.views) == sorted(VIEWS[:7])
    assert _kinds(case) == [("1428RV-B.png", "too_large")]
    assert case.problems[0].message == (
        "1428RV-B.png: the image is 2100x2100 = 4.4 MP; the aneurysm study takes at most "
        "4.2 MP (4,194,304 pixels) per view. It was not decoded."
    )
    with pytest.raises(TooLarge, match="the chest study takes at most 16.8 MP"):
        decode_image("film.png", png_claiming(4100, 4100), study="chest")
    with pytest.raises(TooLarge, match="the chest study"):
        check_study_pixels("film.dcm", 4100, 4100, "chest")
    check_study_pixels("film.dcm", 4096, 4096, "chest")


def test_deflated_dicom_decodes_like_the_plain_one() -> None:
    src = ramp(40, 48, hi=4095, dtype=np.uint16)
    plain, _ = decode_image("a.dcm", dicom(src, bits_stored=12))
    packed, info = decode_image("b.dcm", deflated_dicom(src))
    np.testing.assert_array_equal(packed, plain)
    assert info.notes[0] == "inflated from Deflated Explicit VR Little Endian"
    assert read_dicom_header("b.dcm", deflated_dicom(src)).Rows == 40


def test_deflated_bomb_is_refused_fast_and_with_little_memory() -> None:
    bomb = deflated_bomb(1000)  # < 1 MiB that inflates to 1000 MiB (deflate tops at ~1030:1)
    assert len(bomb) < 2**20
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(TooLarge, match="possible decompression bomb"):
            decode_image("bomb.dcm", bomb)
        with pytest.raises(TooLarge, match="possible decompression bomb"):
            decode_image("bomb.dcm", bomb, study="chest")
        header = read_dicom_header("bomb.dcm", bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0 and peak < 8 * 2**20, peak
    assert (header.Rows, header.Columns) == (64, 64)


def test_dicom_labelled_deflated_but_not_deflated_is_a_reason() -> None:
    files = view_files()[:7] + [("1428RV-B.dcm", relabelled_deflated(dicom(ramp())))]
    case = case_from_files(files)
    assert len(case.views) == 7 and _kinds(case) == [("1428RV-B.dcm", "bad_file")]
    assert "labelled Deflated Explicit VR Little Endian, but is not deflated" in (
        case.problems[0].message
    )


def test_compressed_frame_larger_than_its_header_is_refused() -> None:
    base = dicom(ramp(40, 48, hi=4095, dtype=np.uint16), bits_stored=12, syntax=JPEG2000Lossless)
    with pytest.raises(BadFile, match="frame 1's compressed image declares 48x40 with 1 "
                                      "components, the DICOM header 32x32 with 1"):  # fmt: skip
        decode_image("lying.dcm", dicom_claiming(32, 32, bits=16, base=base))


def test_pixel_data_beyond_the_declared_frames_is_not_decoded() -> None:
    ds = dcmread(io.BytesIO(dicom(ramp(4, 4))))
    ds.PixelData = ds.PixelData * 100  # 100 frames of data under a one-frame header
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    with pytest.warns(UserWarning, match="excess"):  # pydicom says what it leaves out
        px, info = decode_image("extra.dcm", buf.getvalue())
    assert px.shape == (4, 4) and info.frames == 1


# ---------------------------------------------------------------- every file: a view or a reason


def test_damaged_png_header_beside_seven_good_jpegs() -> None:
    bad = bytearray(png(ramp()))
    bad[8:12] = struct.pack(">I", 12)  # IHDR length 12: PIL raised ValueError here
    case = case_from_files(view_files()[:7] + [("1428RV-B.png", bytes(bad))])
    assert sorted(case.views) == sorted(VIEWS[:7])
    assert _kinds(case) == [("1428RV-B.png", "bad_file")]
    assert "the PNG header is damaged or cut short" in case.problems[0].message


def test_dicom_with_garbage_after_the_preamble() -> None:
    junk = bytes(128) + b"DICM" + np.random.default_rng(3).bytes(4000)
    case = case_from_files(view_files()[:7] + [("1428RV-B.dcm", junk)])
    assert len(case.views) == 7 and _kinds(case) == [("1428RV-B.dcm", "bad_file")]


def _raw_members() -> list[RawMember]:
    return [RawMember(name.encode(), data) for name, data in view_files()]


def test_zip_names_that_are_not_utf8_are_read() -> None:
    members = _raw_members()
    members[0] = RawMember(b"1428LI-A\xff\xfe.jpg", members[0].data, flags=1 << 11)  # not UTF-8
    members[1] = RawMember(b"1428LI-B_\x81.jpg", members[1].data)  # cp437, no UTF-8 flag
    case = case_from_zip(raw_zip(members))
    assert case.is_complete and case.problems == []
    assert case.views["LI-A"].source.name == "1428LI-A\xa0\u25a0.jpg"
    assert case.views["LI-B"].source.name == "1428LI-B_\u00fc.jpg"


def test_zip_members_that_cannot_be_unpacked_lose_only_themselves() -> None:
    members = _raw_members()
    deflated = zlib.compress(members[2].data)[2:-4]
    members[0] = RawMember(b"1428LI-A.jpg", members[0].data, payload=b"\xff" * 50)
    members[1] = RawMember(b"1428LI-B.jpg", members[1].data, method=0, crc=0)
    members[2] = RawMember(b"1428LV-A.jpg", members[2].data, payload=deflated[:-20])
    members[3] = RawMember(b"1428LV-B.jpg", members[3].data, method=12)
    members[4] = RawMember(b"1428RI-A.jpg", members[4].data, flags=1)
    case = case_from_zip(raw_zip(members))
    assert sorted(case.views) == ["RI-B", "RV-A", "RV-B"]
    reasons = {p.file: p.message for p in case.problems if p.kind == "bad_file"}
    assert "its data is not a valid deflate stream" in reasons["1428LI-A.jpg"]
    assert "checksum (CRC-32) does not match" in reasons["1428LI-B.jpg"]
    assert "compressed data ends early" in reasons["1428LV-A.jpg"]
    assert "compression method 12" in reasons["1428LV-B.jpg"]
    assert "password-protected" in reasons["1428RI-A.jpg"]


def test_zip_member_count_comes_from_the_end_record_before_the_index() -> None:
    members = _raw_members()
    case = case_from_zip(raw_zip(members, entries=100), zip_name="up.zip")
    assert case.views == {} and case.problems[0].message == (
        "up.zip: the zip has 100 entries; at most 64"
    )
    case = case_from_zip(raw_zip(members, entries=10**6, zip64=True), zip_name="up.zip")
    assert case.problems[0].message == "up.zip: the zip has 1000000 entries; at most 64"
    assert case_from_zip(raw_zip(members, zip64=True)).is_complete  # a true zip64 record


def test_nested_zips_and_folders_are_reported_not_dropped() -> None:
    inner = zip_of(view_files()[:2])
    members = [("case/", b""), *((f"case/{n}", d) for n, d in view_files())]
    case = case_from_zip(zip_of([*members, ("case/more.zip", inner)]), zip_name="up.zip")
    assert case.is_complete
    assert [(p.file, p.kind) for p in case.problems] == [("more.zip", "bad_file"),
                                                         ("", "unrecognised_name")]  # fmt: skip
    assert "a zip inside the zip is not opened" in case.problems[0].message
    assert case.problems[1].message == "up.zip: 1 entry not read as images: case/ (folder)"


def test_extra_frames_of_an_animated_png_are_reported() -> None:
    px, info = decode_image("LI-A.png", apng(3))
    np.testing.assert_array_equal(px, ramp() // 2)  # the first frame
    assert info.frames == 3
    assert (
        info.frame_rule == "first frame only; the other 2 frames of the animated PNG were not read"
    )


def test_other_formats_are_named_in_the_reason() -> None:
    for fmt, what in (("GIF", "a GIF image"), ("TIFF", "a TIFF image")):
        buf = io.BytesIO()
        Image.fromarray(ramp()).save(buf, fmt)
        with pytest.raises(BadFile, match=f"{what}; only JPEG, PNG and DICOM files are read"):
            decode_image("x", buf.getvalue())


def test_long_names_are_shortened_in_messages_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="core.intake")
    long = "Doe_Jane_" + "x" * 250 + "\n\u202e" + "1428LI-A.jpg"
    case = case_from_files([(long, b"junk")], case_id="c")
    (problem,) = [p for p in case.problems if p.kind == "bad_file"]
    shown = short_name(long)
    assert problem.file == long  # kept whole: the UI matches a view override to it
    assert len(shown) == 61 and shown.endswith("xxxxxx??1428LI-A.jpg") and shown[40] == "\u2026"
    assert problem.message.startswith(f"{shown}: ") and "\n" not in problem.message
    assert "x" * 100 not in caplog.text and shown in caplog.text


def test_rle_decoder_panic_is_a_reason_not_a_crash() -> None:
    """pylibjpeg-rle (Rust) panics on a shifted segment; pyo3 raises that as a BaseException."""
    data = dicom(ramp(40, 48, hi=4095, dtype=np.uint16), bits_stored=12, syntax=RLELossless)
    at = data.index(b"\xe0\x7f\x10\x00") + 100
    files = view_files()[:7] + [("1428RV-B.dcm", data[:at] + b"\x00" + data[at:])]
    case = case_from_files(files)
    assert len(case.views) == 7 and _kinds(case) == [("1428RV-B.dcm", "bad_file")]
    assert "PanicException" in case.problems[0].message
