"""``python -m core synth OUT``: write a synthetic K-Ium cohort (or the sample set) to OUT."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from core.synth.cohort import generate_cohort
from core.synth.labels import DEFAULT_PREVALENCE
from core.synth.samples import write_sample_set

__all__ = ["configure", "run"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="output folder (created if missing)")
    parser.add_argument("--patients", type=int, default=20, help="number of patients")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--prevalence", type=float, default=DEFAULT_PREVALENCE,
                        help="share of patients with an aneurysm (default 0.46)")  # fmt: skip
    parser.add_argument("--start-index", type=int, default=1, help="first patient's Index")
    parser.add_argument("--pad-width", type=int, default=0,
                        help="zero-pad the Index in file names to this many digits")  # fmt: skip
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
    parser.add_argument("--sample-set", action="store_true",
                        help="write the committed demo cases (other options ignored)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.sample_set:
        write_sample_set(args.out)
        return 0
    out = generate_cohort(
        args.out, args.patients, args.seed, args.prevalence, args.start_index, args.pad_width,
        quality=args.quality,
    )  # fmt: skip
    log.info("wrote %d patients to %s", args.patients, out)
    return 0
