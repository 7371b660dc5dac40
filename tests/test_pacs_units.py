"""The PACS path's pieces that need no server: endpoint file, date filter, view rules, stamp."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from pacs_fixtures import split_run, xa_run
from pydicom.dataset import Dataset

from core import limits
from core.intake.decode import decode_image
from core.intake.errors import BadFile, TooLarge
from core.intake.frames import reduce_frames
from core.intake.guards import Geometry
from core.pacs.capture import WARNING, stamp
from core.pacs.config import Endpoint, load_config, resolve_endpoint
from core.pacs.dsa_rules import infer_view
from core.pacs.errors import PacsConfigError, PacsError, UnmappableStudy
from core.pacs.inventory import Instance, StudyInventory, earlier_result
from core.pacs.mapping import map_views, series_runs
from core.pacs.query import parse_date_range
from core.pacs.sr import MANUFACTURER
from core.pacs.stack import stack_run

GOOD = """
show_patient_identifiers = true
secrets_file = "{secrets}"

[[endpoint]]
name = "main"
url = "https://pacs.example.org/dicom-web/"
auth = "basic"
username_env = "T_PACS_USER"
password_env = "T_PACS_PASSWORD"

[[endpoint]]
name = "cloud"
url = "https://cloud.example.org/dicomweb"
auth = "bearer"
ca_bundle = "/etc/ssl/hospital.pem"
timeout_s = 12
"""


def _write(tmp_path: Path, text: str, secrets: str = "") -> Path:
    (tmp_path / "secrets.toml").write_text(secrets)
    (tmp_path / "secrets.toml").chmod(0o600)
    path = tmp_path / "pacs.toml"
    path.write_text(text.format(secrets=tmp_path / "secrets.toml"))
    return path


def test_config_reads_credentials_from_env_and_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_PACS_USER", "alice")
    monkeypatch.setenv("T_PACS_PASSWORD", "pw-from-env")
    cfg = load_config(_write(tmp_path, GOOD, '[cloud]\ntoken = "tok-from-file"\n'))
    main, cloud = cfg.endpoints["main"], cfg.endpoints["cloud"]
    assert cfg.show_patient_identifiers is True
    assert (main.url, main.auth, main.verify) == (
        "https://pacs.example.org/dicom-web",
        "basic",
        True,
    )
    assert main.credentials == {"username": "alice", "password": "pw-from-env"}
    assert (cloud.auth, cloud.verify, cloud.timeout_s) == ("bearer", "/etc/ssl/hospital.pem", 12.0)
    assert cloud.credentials == {"token": "tok-from-file"}
    assert "pw-from-env" not in repr(main) and "tok-from-file" not in repr(cloud)
    assert resolve_endpoint("cloud", config=cfg) is cloud


def test_config_refusals_say_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T_PACS_USER", raising=False)
    with pytest.raises(PacsConfigError, match="endpoint main: no username .*T_PACS_USER"):
        load_config(_write(tmp_path, GOOD))
    bad = '[[endpoint]]\nname = "x"\nurl = "https://u:p@h.org/dw"\n'
    with pytest.raises(PacsConfigError, match="must not carry credentials"):
        load_config(_write(tmp_path, bad))
    with pytest.raises(PacsConfigError, match="auth must be one of none, basic, bearer"):
        load_config(
            _write(tmp_path, '[[endpoint]]\nname = "x"\nurl = "https://h.org"\nauth = "ntlm"\n')
        )
    with pytest.raises(PacsConfigError, match=r"unknown keys \['password'\]"):
        load_config(
            _write(tmp_path, '[[endpoint]]\nname = "x"\nurl = "https://h.org"\npassword = "p"\n')
        )
    with pytest.raises(PacsConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")


def test_tls_off_is_logged_and_urls_only_for_the_cli(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path, '[[endpoint]]\nname = "lab"\nurl = "https://lab.org/dw"\nverify_tls = false\n'
    )
    with caplog.at_level(logging.WARNING, "core.pacs.config"):
        cfg = load_config(path)
    assert cfg.endpoints["lab"].verify is False and "TLS certificate checks are OFF" in caplog.text
    with pytest.raises(
        PacsConfigError, match="no PACS endpoint named 'https://other.org/dw'; configured: lab"
    ):
        resolve_endpoint("https://other.org/dw", config=cfg)
    monkeypatch.setenv("REVIEW_PACS_TOKEN", "t0k")
    ep = resolve_endpoint("https://other.org/dw", allow_url=True)
    assert (ep.name, ep.auth, ep.credentials) == ("other.org", "bearer", {"token": "t0k"})


def test_date_ranges() -> None:
    assert parse_date_range("20260101-20260131") == "20260101-20260131"
    assert parse_date_range("20260101-") == "20260101-"
    assert parse_date_range("20260229".replace("2026", "2024")) == "20240229"
    for bad in ("2026-01-01", "20260230", "20260201-20260101"):
        with pytest.raises(PacsError):
            parse_date_range(bad)


def _inst(desc: str = "", lat: str = "", pos: str = "", a1: float | None = None) -> Instance:
    return Instance("1.2", "1.2.3", "", "XA", 1, 1, Geometry(8, 8), desc, lat, pos, a1, None)


@pytest.mark.parametrize(
    ("inst", "view", "why"),
    [
        # structured attributes first: the description then only names the injection
        (_inst("ICA run", "L", "", 2.0), "LI-A", "side from Laterality"),
        (_inst("vert", "R", "LL"), "RV-B", "projection from ViewPosition"),
        (_inst("CAROTID", "R", "", -91.0), "RI-B", "lateral from the positioner angle"),
        # a second, different source: the series description alone
        (_inst("LEFT VERTEBRAL AP"), "LV-A", "side from the series description"),
        (_inst("RT ICA LATERAL"), "RI-B", "projection from the series description"),
    ],
)
def test_view_rules_read_each_source(inst: Instance, view: str, why: str) -> None:
    got, reason = infer_view(inst)
    assert got == view and why in reason


@pytest.mark.parametrize(
    ("inst", "why"),
    [
        (_inst("R ICA AP", "L"), "Laterality and the series description disagree"),
        (_inst("ICA", "L", "", 45.0), "+45 deg is oblique"),
        (_inst("L R ICA AP"), "names both sides"),
        (_inst("L AP"), "names no ICA or vertebral injection"),
        (_inst("L ICA"), "projection: no ViewPosition"),
    ],
)
def test_view_rules_refuse_to_guess(inst: Instance, why: str) -> None:
    got, reason = infer_view(inst)
    assert got is None and why in reason


@pytest.mark.parametrize("shape", [(300, 420, 3), (1024, 700, 3)])
def test_stamp_burns_the_warning_in(shape: tuple[int, int, int]) -> None:
    rgb = np.full(shape, 128, np.uint8)
    out = stamp(rgb)
    band = out[: shape[0] // 8]
    assert out.shape == rgb.shape and (rgb == 128).all()  # the input is not touched
    assert (band == 0).mean() > 0.5 and (band == 255).any()  # black band, white text
    assert (out[shape[0] // 2 :] == 128).all()  # the picture below is kept
    assert WARNING == "NOT FOR DIAGNOSTIC USE"


def test_endpoint_shown_never_holds_credentials() -> None:
    ep = Endpoint(
        "main", "https://pacs.org/dw", "basic", credentials={"username": "u", "password": "s3cr3t"}
    )
    assert ep.shown == "main (pacs.org)"
    assert "s3cr3t" not in repr(ep) and "credentials" not in repr(ep)


def _study(*instances: Instance) -> StudyInventory:
    return StudyInventory("1.2.9", list(instances), [("series 7 image 1", "not an image (SR)")])


def _img(
    series: str, number: int, modality: str, desc: str = "", frames: int = 1, **kw: object
) -> Instance:
    geo = Geometry(8, 8, frames)
    return Instance(series, f"{series}.{frames}", "", modality, number, 1, geo, desc, **kw)  # type: ignore[arg-type]


def test_dsa_mapping_takes_runs_and_reports_every_other_image() -> None:
    study = _study(
        _img("s1", 1, "XA", "L ICA AP", frames=1),
        _img("s1", 1, "XA", "L ICA AP", frames=12),  # the run of series 1
        _img("s2", 2, "XA", "LEFT ICA FRONTAL"),  # a second LI-A
        _img("s3", 3, "OT", "screen capture"),
        _img("s4", 4, "XA", "R VERT", view_position="LL"),
    )
    m = map_views(study, "aneurysm")
    assert {v: a.instance.sop_uid for v, a in m.views.items()} == {"LI-A": "s1.12", "RV-B": "s4.1"}
    reasons = {(label, why) for label, _, why in m.unmapped}
    assert reasons == {
        ("series 7 image 1", "not an image (SR)"),
        ("series 1 image 1", "series 1 image 1 is this series' run (12 frames)"),
        ("series 2 image 1", "also LI-A, taken by series 1 image 1"),
        ("series 3 image 1", "OT is not read by the aneurysm study (XA, XRF, RF)"),
    }
    fixed = map_views(study, "aneurysm", {"s2": "LI-B", "s4": ""})
    assert (
        sorted(fixed.views) == ["LI-A", "LI-B"]
        and fixed.views["LI-B"].reason == "chosen by the reader"
    )
    assert ("series 4 image 1", "s4", "left out by the reader") in fixed.unmapped
    # the reader's choice wins over the rule: series 1 is then the second LI-A
    chosen = map_views(study, "aneurysm", {"s2": "LI-A"})
    assert chosen.views["LI-A"].instance.series_uid == "s2"
    assert ("series 1 image 1", "s1", "also LI-A, taken by series 2 image 1") in chosen.unmapped
    with pytest.raises(PacsError, match="'XX' is not a view"):
        map_views(study, "aneurysm", {"s2": "XX"})


def test_chest_mapping_prefers_a_frontal_film() -> None:
    study = _study(
        _img("a", 1, "DX", view_position="LL"),
        _img("b", 2, "CR", view_position="PA"),
        _img("c", 3, "XA"),
    )
    m = map_views(study, "chest")
    assert m.views["image"].instance.series_uid == "b" and m.views["image"].reason == "CR film, PA"
    assert ("series 1 image 1", "a", "also image, taken by series 2 image 1") in m.unmapped
    assert map_views(study, "chest", {"a": "image"}).views["image"].instance.series_uid == "a"
    with pytest.raises(UnmappableStudy, match=r"XA is not read by the chest study \(CR, DX\)"):
        map_views(_study(_img("c", 3, "XA")), "chest")
    # films are not runs: two single-frame films of one series are never stacked
    lateral = Instance("f", "f.1", "", "DX", 1, 1, Geometry(8, 8), view_position="LL")
    frontal = Instance("f", "f.2", "", "DX", 1, 2, Geometry(8, 8), view_position="PA")
    pair = map_views(_study(lateral, frontal), "chest")
    assert pair.views["image"].instances == (frontal,)
    assert ("series 1 image 1", "f", "also image, taken by series 1 image 2") in pair.unmapped


def _frame(n: int, number: int | None, time: float | None = None, side: int = 8) -> Instance:
    geo = Geometry(side, side)
    return Instance("s1", f"s1.{n}", "", "XA", 1, number, geo, "L ICA AP", "L", "AP",
                    acquisition_time=time)  # fmt: skip


def test_a_series_of_single_frame_images_is_one_run_in_frame_order() -> None:
    images = [_frame(1, 3), _frame(2, 1), _frame(3, None, 5.0), _frame(4, 2),
              _frame(5, None, 2.0), _frame(6, 4, side=16)]  # fmt: skip
    unmapped: list[tuple[str, str, str]] = []
    (run,) = series_runs(images, unmapped)
    # InstanceNumber first; images without one after, by acquisition time
    assert [i.sop_uid for i in run] == ["s1.2", "s1.4", "s1.1", "s1.5", "s1.3"]
    assert unmapped == [
        ("series 1 image 4", "s1", "a different size from this series' run (series 1 images 1-?)")
    ]
    m = map_views(_study(*images), "aneurysm")
    li_a = m.views["LI-A"]
    assert li_a.instances == run and li_a.instance is run[0]
    assert li_a.reason.endswith("; 5 single-frame images stacked as a run")
    assert m.to_dict()["views"]["LI-A"]["image"] == "series 1 images 1-?"


def _part10(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("rule", ["minip", "peak"])
def test_a_stacked_run_decodes_exactly_as_its_multi_frame_twin(rule: str) -> None:
    # 12-bit without VOI: the intake stretches a run by its range over all frames, so
    # decoding each image alone (its own range) would give other pixels
    rng = np.random.default_rng(5)
    frames = rng.integers(200, 3000, size=(5, 24, 20), dtype=np.uint16)
    frames[3] //= 4  # the darkest frame: the peak
    frames[0, 0, 0] = 4095  # the run's maximum, in one frame only
    run = xa_run(frames, 12)
    want, want_info = decode_image("run.dcm", _part10(run), rule, study="aneurysm")  # type: ignore[arg-type]
    parts = [_part10(d) for d in sorted(split_run(run), key=lambda d: d.InstanceNumber)]
    stacked = stack_run("LI-A.dcm", parts, "aneurysm")
    got, info = decode_image("LI-A.dcm", stacked, rule, study="aneurysm")  # type: ignore[arg-type]
    assert np.array_equal(got, want)
    assert (info.frames, info.frame_rule) == (5, want_info.frame_rule)
    assert want_info.frame_rule in ("minimum-intensity projection over 5 frames",
                                    "peak frame 4 of 5 (lowest mean intensity)")  # fmt: skip
    alone = [decode_image(f"{n}.dcm", p)[0] for n, p in enumerate(parts)]
    assert not np.array_equal(reduce_frames(alone, rule)[0], want)  # type: ignore[arg-type]


def test_images_that_are_not_one_run_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [_part10(d) for d in split_run(xa_run(np.zeros((3, 16, 16), np.uint8)))]
    other = _part10(xa_run(np.zeros((16, 16), np.uint16), 12))
    with pytest.raises(BadFile, match="the run's 3 images differ in BitsAllocated"):
        stack_run("LI-A.dcm", [*parts[:2], other])
    monkeypatch.setattr(limits, "MAX_DECODE_BYTES", 2 * 16 * 16)
    with pytest.raises(TooLarge, match="declares 3 frames of 16x16"):
        stack_run("LI-A.dcm", parts)


def test_our_own_results_are_recognised_and_nothing_else() -> None:
    def ds(manufacturer: str, sop_class: str) -> Dataset:
        out = Dataset()
        out.Manufacturer, out.SOPClassUID = manufacturer, sop_class
        return out

    sr, sc, xa = (
        "1.2.840.10008.5.1.4.1.1.88.33",
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.12.1",
    )
    assert earlier_result(ds(MANUFACTURER, sr)) == "AI findings (SR)"
    assert earlier_result(ds(MANUFACTURER, sc)) == "heatmap capture"
    assert earlier_result(ds("Other AI vendor", sr)) is None  # another reader's results
    assert earlier_result(ds(MANUFACTURER, xa)) is None  # not a class we write


def test_folders_a_killed_server_left_are_swept_after_a_day(tmp_path: Path) -> None:
    import os
    import time

    from core.pacs.retrieve import STALE_AFTER_S, sweep_stale

    old, fresh, stray = tmp_path / "old", tmp_path / "fresh", tmp_path / "note.txt"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "0001.dcm").write_bytes(b"x")
    stray.write_text("not a retrieval")
    day_ago = time.time() - STALE_AFTER_S - 60
    for p in (old, stray):
        os.utime(p, (day_ago, day_ago))
    assert sweep_stale(tmp_path) == 1
    assert not old.exists() and fresh.is_dir() and stray.is_file()
    assert sweep_stale(tmp_path / "missing") == 0
