"""The ``full`` profile's three networks at their real input sizes, with random weights.

Why: every other model test runs the 64-px ``tiny`` entries, so nothing else shows that a
724-px stage 1, timm ``swinv2_cr_tiny_ns_224`` and torchvision ResNet18 at 224 px load from
a saved bundle, predict one case, and give a heatmap with every CAM method on every network
(the SwinV2's CAM layer is channels-last and needs its reshape). CPU only; the cost is
dominated by the 724-px stage-1 passes over eight views.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from models_fixtures import fixed_thresholds, synthetic_case

from core.cam.methods import METHODS
from core.models.aneurysm_models import default_keys
from core.models.build import build_model
from core.models.bundle import Bundle, load_bundle, save_bundle
from core.models.explain import STAGE1_TARGET, explain
from core.models.inference import preprocess_case, run_case
from core.models.registry import get_spec
from core.preprocess.params import recorded_params
from core.schema import LOCATIONS, VIEWS
from core.studies.aneurysm import schema_for

#: Role -> (architecture, input side, the view and the target its CAM is asked for).
REAL = {
    "stage1": ("torchvision:resnet18", 724, "LI-A", STAGE1_TARGET),
    "anterior": ("timm:swinv2_cr_tiny_ns_224", 224, "LI-A", "L_MCA"),
    "posterior": ("torchvision:resnet18", 224, "LV-A", "L_VA"),
}


@pytest.fixture(scope="module")
def full_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    specs = {role: get_spec(key) for role, key in default_keys("full").items()}
    models = {role: build_model(spec, seed=i) for i, (role, spec) in enumerate(specs.items())}
    out = tmp_path_factory.mktemp("full") / "full"
    save_bundle(out, models, specs, fixed_thresholds(0.0, 0.5), schema=schema_for())
    return load_bundle(out, device="cpu")


def test_the_full_entries_are_the_original_sizes(full_bundle: Bundle) -> None:
    for role, (arch, side, _, _) in REAL.items():
        spec = full_bundle.spec(role)  # type: ignore[arg-type]
        assert (spec.arch, spec.input.size) == (arch, (side, side)), role


def _record_input_sides(bundle: Bundle) -> tuple[dict[str, set[tuple[int, int]]], list]:
    seen: dict[str, set[tuple[int, int]]] = {role: set() for role in REAL}
    handles = []
    for role in REAL:
        model = bundle.models[role]  # type: ignore[index]

        def hook(_: torch.nn.Module, args: tuple, role: str = role) -> None:
            seen[role].add(tuple(args[0].shape[-2:]))

        handles.append(model.register_forward_pre_hook(hook))
    return seen, handles


def test_one_case_through_predict_at_the_real_sizes(full_bundle: Bundle) -> None:
    seen, handles = _record_input_sides(full_bundle)
    try:
        result = run_case(full_bundle, synthetic_case("3", height=900, width=1100), cam=False)
    finally:
        for h in handles:
            h.remove()
    assert {role: sides for role, sides in seen.items()} == {
        role: {(side, side)} for role, (_, side, _, _) in REAL.items()
    }
    assert list(result.views) == list(VIEWS) and result.gate.positive  # stage 1 at 0.0
    probs = np.array([result.probabilities[c] for c in LOCATIONS])
    assert np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()
    assert len(set(np.round(probs, 6))) > 3  # real outputs, not one constant
    scores = [vr.stage1_probability for vr in result.views.values()]
    assert all(0 <= p <= 1 for p in scores) and len(set(scores)) == len(VIEWS)


def test_stage1_heatmap_peaks_land_in_the_original_image(full_bundle: Bundle) -> None:
    case = synthetic_case("5", views=("LI-A",), height=900, width=1100)
    result = run_case(full_bundle, case, cam=True)  # the predict CLI's peak, on one view
    cam = result.views["LI-A"].cam
    assert cam is not None and cam.raw.shape == (23, 23)  # layer4 of a 724-px input
    x, y = cam.peak_xy
    assert 0 <= x < 1100 and 0 <= y < 900


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_cam_method_on_every_network(full_bundle: Bundle, method: str) -> None:
    case = synthetic_case("4", height=900, width=1100)
    clean = preprocess_case(case, recorded_params(full_bundle.manifest, str(full_bundle.path)))
    for role, (_, side, view, target) in REAL.items():
        cams = explain(full_bundle, {view: clean[view]}, target, method=method)
        cam = cams[view]
        layer_side = -(-side // 32)  # ResNet18 layer4, SwinV2-CR's last stage: stride 32, ceil
        assert cam.raw.shape == (layer_side, layer_side), (role, method)
        assert np.isfinite(cam.raw).all() and (cam.raw >= 0).all(), (role, method)
        assert np.isfinite(cam.logit) and cam.method == method, (role, method)
        if method == "eigencam":  # the first principal component never vanishes
            assert cam.raw.max() > 0, role
