"""``make full-profile``: the ``full`` profile trained end to end at its real sizes, briefly.

Why: the full profile (724-px stage 1, timm ``swinv2_cr_tiny_ns_224``, torchvision
ResNet18 at 224 px) is what a GPU and real data would use, and the unit tests only build it
with random weights. This script proves the whole path on this machine in minutes:

1. generate a 12-patient synthetic cohort (its own seed, never a demo cohort);
2. train the ``full`` profile for one epoch per stage (``with_overrides(epochs=1)``; the
   data loader runs in-process and two workers cache images, as a 2-core CPU wants);
3. ``predict`` that cohort with the new bundle (stage-1 Grad-CAM peaks included);
4. open one patient on the case page in Streamlit's AppTest with ``REVIEW_BUNDLE`` set to
   the new bundle, focused on ``L_MCA`` (an anterior location, so the SwinV2 explains it),
   and check that its heatmaps are drawn: the SwinV2 ran, and the LI views' images carry
   a CAM logit in their captions.

The numbers such a bundle scores mean nothing (one epoch, 12 patients); the wall time of
each step is printed as one JSON object and written to ``<bundle>/full_profile_run.json``.
Exit status 0 when every step passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

log = logging.getLogger("full_profile")

#: The anterior location whose heatmaps the app check asks for, and the views that show it.
TARGET, TARGET_VIEWS = "L_MCA", ("LI-A", "LI-B")


def generate(folder: Path, patients: int, seed: int) -> None:
    from core.demo_cohorts import generate_parallel

    generate_parallel(folder, patients, seed, workers=2)


def train(cohort: Path, bundle: Path) -> None:
    import shutil

    from core.training.options import TrainOptions
    from core.training.profiles import get_profile
    from core.training.trainer import train_bundle

    shutil.rmtree(bundle, ignore_errors=True)
    profile = get_profile("full").with_overrides(epochs=1, num_workers=0, cache_workers=2)
    ckpt = bundle.with_name(bundle.name + ".checkpoints")
    shutil.rmtree(ckpt, ignore_errors=True)
    train_bundle(cohort, bundle, profile, TrainOptions(seed=0, checkpoints=ckpt, n_boot=0))


def predict(bundle: Path, cohort: Path) -> int:
    from core.models import predict_cli

    parser = argparse.ArgumentParser()
    predict_cli.configure(parser)
    out = bundle / "full_profile_predictions.csv"
    return predict_cli.run(parser.parse_args([str(bundle), str(cohort), str(out)]))


def _captions(at: object) -> list[str]:
    """Every image caption on the page (each image element carries its list of images)."""
    return [img.caption for element in at.image for img in element.proto.imgs]  # type: ignore[attr-defined]


def app_check(bundle: Path, cohort: Path, data: Path) -> dict[str, object]:
    """Open one patient of ``cohort`` on the case page with ``bundle`` and the SwinV2 target."""
    os.environ["REVIEW_BUNDLE"] = str(bundle)
    os.environ["REVIEW_DATA_DIR"] = str(data)
    from streamlit.testing.v1 import AppTest

    from core.cohort import OPEN_CASE_DIR, OPEN_CASE_FOCUS, OPEN_CASE_ID, OPEN_CASE_INDEX
    from core.intake.folder import read_kium_folder
    from core.models.bundle import load_bundle

    loaded = load_bundle(bundle.resolve())
    anterior = loaded.spec("anterior")
    calls: list[int] = []
    hook = loaded.models["anterior"].register_forward_hook(lambda *_: calls.append(1))
    index = read_kium_folder(cohort).indices[0]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state[OPEN_CASE_DIR] = str(cohort.resolve())
    at.session_state[OPEN_CASE_INDEX] = index
    at.session_state[OPEN_CASE_ID] = str(index)
    at.session_state[OPEN_CASE_FOCUS] = TARGET
    try:
        at.run()
    finally:
        hook.remove()
    errors = [str(e.value) for e in at.exception]
    captions = _captions(at)
    with_cam = [c for c in captions if c.split(" ·")[0] in TARGET_VIEWS and "logit" in c]
    ok = (
        not errors
        and anterior.arch == "timm:swinv2_cr_tiny_ns_224"
        and tuple(anterior.input.size) == (224, 224)
        and at.selectbox(key="cam_target").value == TARGET
        and len(with_cam) == len(TARGET_VIEWS)
        and len(calls) > 0
    )
    return {
        "ok": ok, "patient": index, "anterior": anterior.arch, "anterior_input": anterior.input.size,
        "target": TARGET, "anterior_forward_calls": len(calls), "heatmap_captions": with_cam,
        "exceptions": errors[:3],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="data folder")
    parser.add_argument("--patients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1212, help="cohort seed (not a demo one)")
    parser.add_argument(
        "--app-only", action="store_true", help="only the app check, on the bundle already built"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    data = args.data.resolve()
    cohort = data / "cohorts" / f"full-profile-{args.patients}"
    bundle = data / "bundles" / "full-profile"
    times: dict[str, float] = {}
    t_all = time.perf_counter()
    steps = (
        ("generate", lambda: generate(cohort, args.patients, args.seed)),
        ("train", lambda: train(cohort, bundle)),
        ("predict", lambda: predict(bundle, cohort)),
    )
    for name, step in () if args.app_only else steps:
        t0 = time.perf_counter()
        step()
        times[name] = round(time.perf_counter() - t0, 1)
        log.info("%s: %.1f s", name, times[name])
    t0 = time.perf_counter()
    check = app_check(bundle, cohort, data)
    times["app_check"] = round(time.perf_counter() - t0, 1)
    times["total"] = round(time.perf_counter() - t_all, 1)
    report = {"cohort": str(cohort), "bundle": str(bundle), "wall_s": times, "app": check}
    text = json.dumps(report, indent=2, default=list)
    name = "full_profile_app_check.json" if args.app_only else "full_profile_run.json"
    (bundle / name).write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
