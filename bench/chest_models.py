"""Chest detectors on CPU: warm single-film inference per detector and for the ensemble,
and training throughput per detector.

Models: the chest demo's ensemble bundle when ``core.paths.chest_demo_bundle_dir()`` holds
one, else randomly initialised members at the demo plan's sides (speed barely depends on
the weights; an untrained detector keeps its full 100 boxes, so fusion is timed at its
worst). The film: one synthetic 1024-px chest DICOM, decoded once (decoding is the
intake's and is not counted). Inference rows are the median of ``REPEATS`` warm runs,
split into preprocessing (resize to the model's side, to a tensor), the detector's
forward pass with its box post-processing, WBF fusion and the classifier rule, and
EigenCAM; the ratio column is each row against Faster R-CNN in the same run. Training rows
are images per second over ``TRAIN_STEPS`` steps of batch 4 after a warm-up step, on the
demo's augmentation set.

    .venv/bin/python -m bench chest_models
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from core.device import describe_device
from core.models.build import build_model
from core.models.bundle import Bundle, load_bundle, save_bundle
from core.models.manifest import is_bundle_dir
from core.models.registry import get_spec
from core.paths import chest_demo_bundle_dir
from core.studies import get_study
from core.studies.chest.cam import detector_eigencam
from core.studies.chest.demo import CHEST_PLAN, members_dir
from core.studies.chest.ensemble import EnsembleSettings, fuse_members
from core.studies.chest.ensemble_cli import build_ensemble
from core.studies.chest.layout import load_film
from core.studies.chest.roles import CLASSIFIER, detector_roles
from core.studies.chest.rule import apply_rule
from core.studies.chest.runner import ChestRunner, classify_batch, detect_batch, resize_film
from core.studies.chest.synth import generate_chest_cohort
from core.studies.chest.train import MODELS
from core.studies.chest.train_eval import fixed_thresholds

__all__ = ["main"]

REPEATS = 5
TRAIN_STEPS = 4


def _random_ensemble(tmp: Path) -> Bundle:
    members = []
    for model in CHEST_PLAN.members:
        side = CHEST_PLAN.classifier_side if model == "classifier" else CHEST_PLAN.detector_side
        spec = get_spec(MODELS[model], size=side)
        role = CLASSIFIER if model == "classifier" else "detector"
        members.append(save_bundle(
            tmp / model, {role: build_model(spec, seed=0).eval()}, {role: spec}, fixed_thresholds(),
            schema=get_study("chest").schema, preprocessing={}, settings={"family": model},
        ))  # fmt: skip
    return load_bundle(build_ensemble(tmp / "ensemble", members, EnsembleSettings()))


def bench_bundle(tmp: Path) -> tuple[Bundle, str]:
    """The chest demo's ensemble when it is built, else random-initialised members saved
    under ``tmp`` (speed does not depend on the weights), and a line naming which."""
    demo = chest_demo_bundle_dir()
    if is_bundle_dir(demo):
        return load_bundle(demo), f"demo bundle {demo}"
    return _random_ensemble(tmp), "random-initialised members (no chest demo bundle)"


def _median_ms(fn, repeats: int = REPEATS) -> float:  # noqa: ANN001
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _inference(
    bundle: Bundle, pixels: np.ndarray, size: tuple[int, int]
) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    found = {}
    for role in detector_roles(bundle.models):
        model, spec = bundle.model(role), bundle.spec(role)
        side = spec.input.size[0]
        holder: dict[str, torch.Tensor] = {}

        def prep(side: int = side) -> None:
            holder["x"] = torch.from_numpy(
                resize_film(pixels, side)[None, None].astype(np.float32) / 255.0
            )

        pre = _median_ms(prep)
        det = _median_ms(
            lambda m=model: found.__setitem__(role, detect_batch(m, holder["x"], [size])[0])
        )
        cam = _median_ms(lambda m=model, s=spec: detector_eigencam(m, s, holder["x"]), repeats=2)
        rows[role.removeprefix("detector_")] = {
            "preprocess": pre,
            "detector": det,
            "fusion": 0.0,
            "cam": cam,
        }
    if CLASSIFIER in bundle.models:
        spec = bundle.spec(CLASSIFIER)
        x = torch.from_numpy(
            resize_film(pixels, spec.input.size[0])[None, None].astype(np.float32) / 255.0
        )
        rows["classifier"] = {"preprocess": 0.0, "detector": _median_ms(
            lambda: classify_batch(bundle.model(CLASSIFIER), x, spec.input.mean[0], spec.input.std[0])),
            "fusion": 0.0, "cam": 0.0}  # fmt: skip
    members = list(found.values())
    fusion = _median_ms(
        lambda: apply_rule(
            *fuse_members(members, size, EnsembleSettings()), 0.5, ChestRunner(bundle).rule
        )
    )
    runner = ChestRunner(bundle)
    total = _median_ms(lambda: runner.run([pixels], [size], ["bench"]))
    rows["ensemble (end to end)"] = {
        "preprocess": float("nan"),
        "detector": float("nan"),
        "fusion": fusion,
        "cam": float("nan"),
        "total": total,
    }
    return rows


def _training(pixels: np.ndarray) -> dict[str, float]:
    from core.studies.chest.augment import Augmenter, Sample

    out = {}
    side = CHEST_PLAN.detector_side
    image = resize_film(pixels, side)
    boxes = np.array([[0.2, 0.3, 0.45, 0.6], [0.55, 0.2, 0.8, 0.5]], np.float32) * side
    sample = Sample(image, boxes, np.array([3, 10], np.int64))
    aug = Augmenter("flip-rot-zoom")
    rng = np.random.default_rng(0)
    for model in (m for m in MODELS if m != "classifier"):
        net = build_model(get_spec(MODELS[model], size=side), seed=0).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

        def step() -> None:
            items = [aug(sample, rng) for _ in range(4)]
            x = torch.from_numpy(
                np.stack([i.image for i in items])[:, None].astype(np.float32) / 255.0
            )
            targets = [
                {
                    "boxes": torch.as_tensor(i.boxes).reshape(-1, 4),
                    "labels": torch.as_tensor(i.labels),
                }
                for i in items
            ]
            loss = sum(net(x, targets).values())
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        t = time.perf_counter()
        for _ in range(TRAIN_STEPS):
            step()
        out[model] = 4 * TRAIN_STEPS / (time.perf_counter() - t)
    return out


def main() -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = generate_chest_cohort(Path(tmp) / "film", 1, 11, size=1024, workers=1)
        film = load_film(next(folder.glob("*.dicom")))
        demo = chest_demo_bundle_dir()
        bundle, source = bench_bundle(Path(tmp))
        rows = _inference(bundle, film.pixels, film.original_size)
        if is_bundle_dir(demo):  # members the ensemble's validation left out are timed too
            for member in sorted(members_dir(demo.parent.parent).glob("*")):
                family = member.name
                if is_bundle_dir(member) and family not in rows and family != "classifier":
                    own = _inference(load_bundle(member), film.pixels, film.original_size)
                    rows[f"{family} (left out)"] = own["detector"]
        train = _training(film.pixels)
    print(f"one {film.original_size[0]}x{film.original_size[1]} film, {source}, "
          f"{describe_device(torch.device('cpu'))}; median of {REPEATS} warm runs (CAM: of 2)")  # fmt: skip
    ref = rows.get("frcnn", {}).get("detector")
    print(
        f"{'model':<24}{'prep ms':>9}{'model ms':>10}{'fusion ms':>11}{'CAM ms':>9}{'total ms':>10}{'x frcnn':>9}"
    )
    for name, r in rows.items():
        total = r.get("total", r["preprocess"] + r["detector"] + r["fusion"])
        ratio = "" if ref is None or np.isnan(r["detector"]) else f"{r['detector'] / ref:.2f}"
        print(
            f"{name:<24}{r['preprocess']:>9.1f}{r['detector']:>10.1f}{r['fusion']:>11.1f}{r['cam']:>9.1f}{total:>10.1f}{ratio:>9}"
        )
    print(
        f"\ntraining at {CHEST_PLAN.detector_side} px, batch 4, flip-rot-zoom, {TRAIN_STEPS} steps after a warm-up"
    )
    ref_t = train.get("frcnn")
    print(f"{'detector':<12}{'images/s':>10}{'x frcnn':>9}")
    for name, rate in train.items():
        print(f"{name:<12}{rate:>10.2f}{rate / ref_t if ref_t else float('nan'):>9.2f}")


if __name__ == "__main__":
    main()
