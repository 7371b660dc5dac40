"""``python -m core ensemble OUT_BUNDLE MEMBER...``: chest bundles fused into one.

The competition's winners ensembled detectors with weighted boxes fusion (IoU about
0.33-0.4, a tiny skip threshold) and ran a normal/abnormal classifier beside them. This
writes that as an ordinary chest bundle: each member detector's weights under the role
``detector_<family>``, the classifier (at most one member) under ``classifier``, and in
``settings`` the fusion, the classifier rule and the members, named by the SHA-256 of
their ``bundle.json``. ``predict``, ``evaluate`` and the app take it like any bundle, and
its weights are checked by the same loader.

``--fit DATA`` selects the members and fits their WBF weights, the classifier rule and
the per-class thresholds on the validation
films the members were trained with (the ``val_ids`` their bundles record; never the
held-out cohort) and records the ensemble's validation mAP@0.4 with and without the rule. A member whose
joining lowers that figure is left out of the weights, and named in ``settings.members``
with ``left_out``.
Without it the rule keeps its documented defaults and the first detector's thresholds.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.models.bundle import Bundle, BundleError, load_bundle, save_bundle
from core.studies import get_study
from core.studies.chest.ensemble import EnsembleSettings
from core.studies.chest.roles import CLASSIFIER, detector_roles
from core.studies.chest.rule import ClassifierRule

__all__ = ["configure", "run", "build_ensemble"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    defaults = EnsembleSettings()
    parser.add_argument("out", type=Path, help="ensemble bundle directory to write")
    parser.add_argument(
        "members", type=Path, nargs="+", help="chest bundles (detectors, one classifier)"
    )
    parser.add_argument(
        "--iou", type=float, default=defaults.iou_thr, help="WBF IoU (winners: 0.33-0.4)"
    )
    parser.add_argument(
        "--skip", type=float, default=defaults.skip_box_thr, help="WBF skip threshold"
    )
    parser.add_argument("--weights", type=float, nargs="+", help="one weight per detector member")
    parser.add_argument(
        "--fit",
        type=Path,
        help="the members' training folder: fit weights, rule and thresholds on its validation films",
    )
    parser.add_argument("--name", help="bundle name (default: the folder name)")


def _members(bundles: list[Bundle]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    models: dict[str, Any] = {}
    specs: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for b in bundles:
        if b.study != "chest":
            raise BundleError(f"{b.path}: a {b.study} bundle cannot join a chest ensemble")
        renamed: dict[str, str] = {}
        for role in b.models:
            if role == CLASSIFIER:
                if CLASSIFIER in models:
                    raise BundleError(f"{b.path}: a second classifier; an ensemble takes one")
                new = CLASSIFIER
            else:
                base = f"detector_{b.settings.get('family') or 'member'}"[:21]
                new, n = base, 2
                while new in models:
                    new, n = f"{base}_{n}", n + 1
            models[new], specs[new] = b.model(role), replace(b.spec(role), role=new)
            renamed[role] = new
        rows.append({"name": b.name, "bundle_sha256": b.manifest_sha256, "roles": renamed,
                     "family": b.settings.get("family"), "augmentation": b.settings.get("augmentation")})  # fmt: skip
    if not detector_roles(models):
        raise BundleError("an ensemble needs at least one detector member")
    return models, specs, rows


def _val_ids(bundles: list[Bundle]) -> list[str]:
    """The validation films every member held out of its training (their intersection)."""
    sets = [set((b.manifest.get("training_data") or {}).get("val_ids") or ()) for b in bundles]
    common = set.intersection(*sets) if sets else set()
    if any(s != common for s in sets):
        log.warning(
            "members were validated on different films; fitting on the %d they share", len(common)
        )
    return sorted(common)


def build_ensemble(out: Path, members: list[Path], settings: EnsembleSettings, *,
                   fit: Path | None = None, name: str | None = None) -> Path:  # fmt: skip
    """Write the ensemble bundle (see the module docstring) and return its path."""
    bundles = [load_bundle(m, device="cpu") for m in members]
    models, specs, rows = _members(bundles)
    n_det = len(detector_roles(models))
    if settings.weights is not None and len(settings.weights) != n_det:
        raise BundleError(f"{len(settings.weights)} weights for {n_det} detectors")
    first = next(b for b in bundles if detector_roles(b.models))
    block = {"ensemble": settings.to_dict(), "members": rows,
             "rule": ClassifierRule().to_dict() if CLASSIFIER in models else None}  # fmt: skip
    common = dict(schema=get_study("chest").schema, name=name or out.name, overwrite=True,
                  preprocessing={"per_role": {r: dict(b.manifest["preprocessing"]) for b in bundles for r in b.models}},
                  notes=f"WBF ensemble of {n_det} detectors" + (" and a classifier" if CLASSIFIER in models else ""))  # fmt: skip
    path = save_bundle(out, models, specs, first.thresholds, settings=block, **common)
    if fit is None:
        return path
    from core.studies.chest.fit_ensemble import fit_on_validation

    kept, fusion, rule, thresholds, metrics = fit_on_validation(path, fit, _val_ids(bundles))
    block["ensemble"] = fusion.to_dict()
    left_out = [r for r in detector_roles(models) if r not in kept]
    for row in rows:  # a member validation left out is named, never silently dropped
        row["left_out"] = [new for new in row["roles"].values() if new in left_out]
    models = {r: m for r, m in models.items() if r not in left_out}
    specs = {r: s for r, s in specs.items() if r not in left_out}
    if left_out:
        log.warning(
            "left out of the ensemble (validation mAP@0.4 is higher without them): %s", left_out
        )
    if rule is not None:
        block["rule"] = rule.to_dict()
    path = save_bundle(out, models, specs, thresholds, settings=block, metrics=metrics, **common)
    for role in left_out:  # the first save wrote every member's weights
        (path / f"{role}.safetensors").unlink(missing_ok=True)
    return path


def run(args: argparse.Namespace) -> int:
    try:
        settings = EnsembleSettings(iou_thr=args.iou, skip_box_thr=args.skip,
                                    weights=None if args.weights is None else tuple(args.weights))  # fmt: skip
        path = build_ensemble(args.out, args.members, settings, fit=args.fit, name=args.name)
    except (BundleError, ValueError) as err:
        log.error("%s", err)
        return 2
    log.info("ensemble bundle written to %s", path)
    return 0
