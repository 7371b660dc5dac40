"""``python -m core train DATA OUT``: train a bundle on a labelled folder.

``--study aneurysm`` (the default) trains the two-stage bundle on a K-Ium folder;
``--study chest --model frcnn|effdet|fcos|classifier --aug SET`` trains one chest network
on a VinBigData folder (:mod:`core.studies.chest.train`), the readers' boxes fused first
by ``--fusion`` (recorded in the bundle).

Runs unchanged under ``torchrun --nproc_per_node=N -m core train ...`` (DDP; rank 0 writes).
``--groups view-shows`` puts each base location in the circulation whose views show it
(:data:`core.schema.VIEW_SHOWS`: PCOM with the anterior views); the default is the
original pipeline's grouping (PCOM posterior).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from core.models.calibration import DEFAULT_TARGET
from core.models.threshold_rules import DEFAULT_RULE, RULE_NAMES, rules_help
from core.training.groups import GROUPINGS
from core.training.options import InitWeights, TrainOptions
from core.training.profiles import PROFILES, get_profile
from core.training.trainer import train_bundle

__all__ = ["configure", "run"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data", type=Path, help="labelled folder: K-Ium, or VinBigData with --study chest"
    )
    parser.add_argument("out", type=Path, help="bundle directory to write")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="demo")
    parser.add_argument("--epochs", type=int, help="override the epochs of every stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints")
    parser.add_argument(
        "--checkpoints", type=Path, help="checkpoint folder (default OUT.checkpoints)"
    )
    parser.add_argument("--val-fraction", type=float, help="patients held back for validation")
    parser.add_argument("--medicalnet", type=Path, help="MedicalNet resnet_18.pth for stage 1")
    parser.add_argument("--imagenet-timm", type=Path, help="timm SwinV2-CR ImageNet weights")
    parser.add_argument("--imagenet-tv", type=Path, help="torchvision ResNet18 ImageNet weights")
    parser.add_argument(
        "--threshold-rule",
        choices=RULE_NAMES,
        default=DEFAULT_RULE,
        help=f"fitted on the training patients; {rules_help()}",
    )
    parser.add_argument(
        "--target-sensitivity",
        type=float,
        default=DEFAULT_TARGET,
        help="sensitivity to reach, for the rules that take a target (default: %(default)s)",
    )
    parser.add_argument("--groups", choices=sorted(GROUPINGS), default="original")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: GPU when present)")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process")
    parser.add_argument("--bootstrap", type=int, default=200, help="resamples for validation CIs")
    parser.add_argument("--study", choices=("aneurysm", "chest"), default="aneurysm")
    chest = parser.add_argument_group("chest (--study chest) only")
    from core.studies.chest.augment import AUG_SETS
    from core.studies.chest.fusion import METHODS
    from core.studies.chest.train import MODELS

    chest.add_argument("--model", choices=sorted(MODELS), default="frcnn")
    chest.add_argument("--aug", choices=AUG_SETS, default="original", help="augmentation set")
    chest.add_argument("--side", type=int, help="square input side in px (default: the model's)")
    chest.add_argument("--batch-size", type=int, default=4)
    chest.add_argument("--lr", type=float, help="learning rate (default: the family's)")
    chest.add_argument(
        "--fusion",
        choices=METHODS,
        default="wbf",
        help="how readers' boxes are fused before training",
    )
    chest.add_argument("--fusion-iou", type=float, default=0.4, help="IoU of the readers' fusion")
    chest.add_argument(
        "--pretrained", type=Path, help="local COCO/ImageNet weights (.safetensors or .pth)"
    )
    chest.add_argument(
        "--abnormal-only", action="store_true", help="detectors train on abnormal films only"
    )
    chest.add_argument(
        "--backbone-from",
        type=Path,
        help="classifier: start from this frcnn bundle's ResNet18 backbone",
    )


def _run_chest(args: argparse.Namespace) -> int:
    from core.studies.chest.fusion import FusionSettings
    from core.studies.chest.train import ChestTrainOptions, train_chest

    opts = ChestTrainOptions(
        model=args.model, aug=args.aug, side=args.side, epochs=args.epochs or 6,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        val_fraction=0.2 if args.val_fraction is None else args.val_fraction,
        fusion=FusionSettings(method=args.fusion, iou_thr=args.fusion_iou), resume=args.resume,
        checkpoints=args.checkpoints, device=args.device, pretrained=args.pretrained,
        abnormal_only=args.abnormal_only, backbone_from=args.backbone_from,
    )  # fmt: skip
    out = train_chest(args.data, args.out, opts)
    if out is not None:
        log.info("bundle written to %s", out)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.study == "chest":
        return _run_chest(args)
    overrides = {} if args.val_fraction is None else {"val_fraction": args.val_fraction}
    profile = get_profile(args.profile).with_overrides(epochs=args.epochs, **overrides)
    opts = TrainOptions(
        seed=args.seed,
        resume=args.resume,
        init=InitWeights(args.medicalnet, args.imagenet_timm, args.imagenet_tv),
        threshold_rule=args.threshold_rule,
        target_sensitivity=args.target_sensitivity,
        groups=GROUPINGS[args.groups],
        checkpoints=args.checkpoints,
        device=args.device,
        n_boot=args.bootstrap,
    )
    out = train_bundle(args.data, args.out, profile, opts)
    if out is not None:
        log.info("bundle written to %s", out)
    return 0
