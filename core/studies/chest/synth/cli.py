"""``python -m core synth OUT --study chest``: the chest half of the ``synth`` verb.

The options are declared by :mod:`core.synth.cli` (the verb's one parser); this module
reads the chest ones, fills their defaults and writes the cohort.
"""

from __future__ import annotations

import argparse
import logging

from core.studies.chest.synth.cohort import DEFAULT_SIZE, generate_chest_cohort

__all__ = ["DEFAULT_IMAGES", "run"]

DEFAULT_IMAGES = 20

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Write the chest cohort the parsed ``synth`` arguments ask for; returns 0."""
    images = DEFAULT_IMAGES if args.images is None else args.images
    size = DEFAULT_SIZE if args.size is None else args.size
    out = generate_chest_cohort(
        args.out, images, args.seed, size=size, png512=args.png512, workers=args.workers
    )
    log.info("wrote %d synthetic chest films (%s) to %s", images,
             "512-px PNG" if args.png512 else "DICOM", out)  # fmt: skip
    return 0
