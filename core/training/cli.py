"""``python -m core train DATA OUT``: train a two-stage bundle on a labelled K-Ium folder.

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
    parser.add_argument("data", type=Path, help="K-Ium folder with train.csv and {Index}{View}.jpg")
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


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
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
