"""The case page's fast paths, functionally (no timing asserts): display-size overlay layers
that show what the full-resolution composite shows, JPEG bytes for display, caches that
stay bounded, and a heatmap control that reruns the page's fragment alone with 0 forward
passes (as the server does; AppTest alone would rerun the whole script)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from models_fixtures import synthetic_case
from streamlit.testing.v1 import AppTest

from bench.case_page import fragment_id, fragment_rerun
from core.case import Case, PreprocessRecord, SourceInfo, ViewImage
from core.models.bundle import load_bundle
from core.models.inference import run_case
from core.models.result import CaseResult, ViewCam
from core.review.overlay import (
    HeatmapSettings,
    blend,
    case_bases,
    case_layers,
    case_overlays,
    colourise,
    display_base,
    encode_jpeg,
    letterbox,
    overlay_layers,
)
from core.schema import VIEWS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CELL = (480, 400)


@pytest.fixture(scope="module")
def case() -> Case:
    return synthetic_case("11")


@pytest.fixture(scope="module")
def result(tiny_bundle: Path, case: Case) -> CaseResult:
    return run_case(load_bundle(tiny_bundle), case)


def _cams(result: CaseResult) -> dict[str, ViewCam]:
    return {v: r.cam for v, r in result.views.items() if r.cam is not None}


@pytest.mark.parametrize("scale", ["shared", "per_view"])
def test_blended_layers_match_the_full_resolution_composite(
    case: Case, result: CaseResult, scale: str
) -> None:
    """Second source: the old path, a full-resolution composite letterboxed afterwards."""
    cams = _cams(result)
    settings = HeatmapSettings("Aneurysm", "gradcam", 0.7, scale)  # type: ignore[arg-type]
    full = case_overlays(case, result, cams, settings, None)
    layers = case_layers(result, cams, settings.scale, case_bases(case, result, *CELL))
    assert set(layers) == set(VIEWS)
    for view in VIEWS:
        ref = letterbox(full[view], *CELL).astype(int)
        diff = np.abs(blend(layers[view], 0.7).astype(int) - ref)
        assert diff.mean() < 1.5, (view, diff.mean())
        # ...and the comparison can tell: the plain view is far from the overlay.
        if layers[view].weight is not None and layers[view].weight.max() > 128:
            assert np.abs(layers[view].base.astype(int) - ref).mean() > diff.mean()
    # The enlarged view: the same layers on the original's own canvas.
    one = case_layers(result, cams, settings.scale, case_bases(case, result, None, None, ["LI-A"]))
    assert set(one) == {"LI-A"}
    diff = np.abs(blend(one["LI-A"], 0.7).astype(int) - full["LI-A"])
    assert full["LI-A"].shape == one["LI-A"].base.shape and diff.mean() < 1.0


def test_layers_place_the_map_in_the_crop_on_the_display_canvas() -> None:
    """Hand-built: a 200x100 image (2:1 into 480x400 -> 480x240, 80 px bars above and
    below), crop x 100..200, a map hot in its right half only."""
    img = np.full((100, 200), 60, np.uint8)
    rec = PreprocessRecord("margin", (100, 0, 200, 100), (), (200, 100))
    hot_right = np.array([[0.0, 0.0, 1.0, 1.0]] * 4, np.float32)
    lay = overlay_layers(display_base(img, *CELL), hot_right, rec)
    assert lay.weight is not None and lay.weight.shape == (400, 480)
    assert lay.weight[:80].max() == 0 and lay.weight[320:].max() == 0  # the letterbox bars
    assert lay.weight[200, :240].max() == 0  # left of the crop: never seen by the model
    assert lay.weight[200, 470] == 255 and lay.weight[200, 250] == 0  # hot right, cold left
    out = blend(lay, 1.0)
    assert lay.colour is not None and (out[200, 100] == 60).all()
    assert tuple(out[200, 470]) == tuple(lay.colour[200, 470])
    assert (blend(lay, 0.0) == lay.base).all()
    assert not lay.base.flags.writeable  # shared by reruns: read-only
    with pytest.raises(ValueError):
        blend(lay, 1.5)


def test_a_view_without_a_map_is_the_plain_letterboxed_view(case: Case, result: CaseResult) -> None:
    px = case.views["LI-A"].pixels
    lay = overlay_layers(display_base(px, *CELL), None, result.views["LI-A"].record)
    assert lay.weight is None and (blend(lay, 0.9) == letterbox(px, *CELL)).all()
    shrunk = {v: ViewImage(v, im.pixels[10:], SourceInfo(f"{v}.jpg", "jpeg"))
              for v, im in case.views.items()}  # fmt: skip
    with pytest.raises(ValueError, match="does not match"):
        case_bases(Case("11", shrunk, expected_views=VIEWS), result, *CELL)


def test_jpeg_bytes_decode_to_the_overlay() -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (48, 1))
    rgb = colourise(ramp)  # smooth colour: what a heatmap looks like
    data = encode_jpeg(rgb)
    assert data[:3] == b"\xff\xd8\xff"
    back = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)  # fmt: skip
    assert back.shape == rgb.shape and np.abs(back.astype(int) - rgb).mean() < 3
    assert np.abs(back[..., ::-1].astype(int) - rgb).mean() > 20  # channel order matters


def test_overlay_caches_are_bounded(
    monkeypatch: pytest.MonkeyPatch, case: Case, result: CaseResult
) -> None:
    """One more setting than the bound evicts the oldest, which is then computed again."""
    import ui.heatmap_panel as panel

    panel._layers.clear()
    calls: Counter[str] = Counter()

    def counting(*args: object) -> dict:
        calls[str(args[3])] += 1
        return {}

    monkeypatch.setattr(panel, "case_layers", counting)
    keys = [("h", "b", "Aneurysm", f"m{i}", "shared", "p") for i in range(panel.LAYER_SETS + 1)]
    for key in keys:
        panel._layers(case, result, {}, key)
    panel._layers(case, result, {}, keys[-1])  # the newest is still cached
    assert sum(calls.values()) == panel.LAYER_SETS + 1
    panel._layers(case, result, {}, keys[0])  # the oldest was evicted
    assert sum(calls.values()) == panel.LAYER_SETS + 2
    panel._layers.clear()


def test_a_heatmap_control_reruns_the_fragment_alone_with_no_forward_pass(
    app_env: Path, sample_cases: list[Path]
) -> None:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.file_uploader(key="uploads").set_value(
        [(p.name, p.read_bytes(), "image/jpeg") for p in sorted(sample_cases[1].glob("*.jpg"))]
    )
    at.run()
    assert not at.exception and "Results" in [s.value for s in at.subheader]
    fid = fragment_id(at, "heatmaps_fragment")
    forwards: Counter[str] = Counter()
    handles = [
        m.register_forward_hook(lambda *_a, role=role: forwards.update([role]))
        for role, m in load_bundle(app_env.resolve()).models.items()
    ]
    try:
        at.slider(key="cam_opacity").set_value(0.9)
        fragment_rerun(at, fid)
        # Only the fragment was sent: its subheaders, not the page's.
        assert [s.value for s in at.subheader] == ["Heatmaps", "Timings and export"]
        assert len(at.image) == 1 + len(VIEWS)  # colour bar + grid
        at.radio(key="cam_scale").set_value("per_view")
        fragment_rerun(at, fid)
        at.selectbox(key="cam_enlarge").set_value("LI-A")
        fragment_rerun(at, fid)
        assert len(at.image) == 2 + len(VIEWS)  # + the enlarged view
        assert at.image[-1].captions[0].endswith(" px")
    finally:
        for h in handles:
            h.remove()
    assert sum(forwards.values()) == 0, forwards
