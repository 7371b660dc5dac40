"""``python -m core COMMAND``: the project's command line.

Each command lives in its own module exposing ``configure(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``synth`` and ``preprocess`` start
without importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "studies": ("core.studies.cli", "list the registered studies as JSON"),
    "synth": ("core.synth.cli", "generate a synthetic cohort (aneurysm K-Ium, or chest --study chest)"),
    "preprocess": ("core.preprocess.cli", "crop margins and fill burned-in text"),
    "train": ("core.training.cli", "train a bundle (aneurysm two-stage, or --study chest)"),
    "predict": ("core.models.predict_cli", "run a bundle on a folder (K-Ium, or chest films)"),
    "ensemble": ("core.studies.chest.ensemble_cli", "fuse chest bundles into one WBF ensemble bundle"),
    "study": ("core.studies.chest.study_cli", "the chest detector x augmentation study"),
    "evaluate": ("core.metrics.cli", "score predictions against train.csv"),
    "thresholds": ("core.cohort.thresholds_cli", "fit or compare an aneurysm bundle's threshold sets"),
    "fuse": ("core.studies.chest.fuse_cli", "fuse a chest folder's readers' boxes"),
    "coco": ("core.studies.chest.coco_cli", "write a chest folder's boxes as COCO JSON"),
    "audit": ("core.verdicts.audit_cli", "export the audit trail as CSV (admins)"),
    "pacs": ("core.pacs.cli", "query a PACS over DICOMweb; review a study, send the SR back"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:  # only the chosen command's module is imported
            importlib.import_module(module).configure(p)
    args, extra = parser.parse_known_args(argv)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
