"""The PACS path's pieces that need no server: endpoint file, date filter, view rules, stamp."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from core.intake.guards import Geometry
from core.pacs.capture import WARNING, stamp
from core.pacs.config import Endpoint, load_config, resolve_endpoint
from core.pacs.dsa_rules import infer_view
from core.pacs.errors import PacsConfigError, PacsError, UnmappableStudy
from core.pacs.inventory import Instance, StudyInventory
from core.pacs.mapping import map_views
from core.pacs.query import parse_date_range

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
        ("series 3 image 1", "not an angiography series (OT)"),
    }
    fixed = map_views(study, "aneurysm", {"s2": "LI-B", "s4": ""})
    assert (
        sorted(fixed.views) == ["LI-A", "LI-B"]
        and fixed.views["LI-B"].reason == "chosen by the reader"
    )
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
    assert ("series 1 image 1", "a", "a second film (series 2 image 1 is used)") in m.unmapped
    assert map_views(study, "chest", {"a": "image"}).views["image"].instance.series_uid == "a"
    with pytest.raises(UnmappableStudy, match=r"not a CR/DX film \(XA\)"):
        map_views(_study(_img("c", 3, "XA")), "chest")
