"""``python -m core synth OUT``: write a synthetic K-Ium cohort (or the sample set) to OUT.

``--study chest`` writes a synthetic VinBigData-layout chest cohort instead
(:mod:`core.studies.chest.synth`); its module is imported only then, so the aneurysm path
is unchanged.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from core.synth.cohort import generate_cohort
from core.synth.labels import DEFAULT_PREVALENCE
from core.synth.samples import write_sample_set

__all__ = ["CHEST_ONLY", "STUDIES", "configure", "run"]

STUDIES = ("aneurysm", "chest")
#: Options that only the chest generator reads.
CHEST_ONLY = ("images", "size", "png512", "workers")

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
    parser.add_argument("--study", choices=STUDIES, default="aneurysm",
                        help="which study's cohort to write (default aneurysm)")  # fmt: skip
    chest = parser.add_argument_group("chest study (--study chest)")
    chest.add_argument("--images", type=int, default=None, help="number of films (default 20)")
    chest.add_argument(
        "--size",
        type=int,
        default=None,
        help="longest film side in pixels, before variation (default 1024)",
    )
    chest.add_argument(
        "--png512",
        action="store_true",
        help="write 512x512 PNG copies and sizes.csv instead of DICOM",
    )
    chest.add_argument("--workers", type=int, default=None,
                       help="processes (default: every core)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.study == "chest":
        from core.studies.chest.synth.cli import run as run_chest

        return run_chest(args)
    chest_only = [f"--{k.replace('_', '-')}" for k in CHEST_ONLY if getattr(args, k, None)]
    if chest_only:
        raise SystemExit(f"{', '.join(chest_only)}: for --study chest only")
    if args.sample_set:
        write_sample_set(args.out)
        return 0
    out = generate_cohort(
        args.out, args.patients, args.seed, args.prevalence, args.start_index, args.pad_width,
        quality=args.quality,
    )  # fmt: skip
    log.info("wrote %d patients to %s", args.patients, out)
    return 0
