"""The two trivial chest baselines every later model is compared with, measured end to end
through the project's own commands.

1. ``python -m core synth`` writes a "train" cohort (the mean-box baseline learns its
   boxes and priors there) and a separate "test" cohort (another seed).
2. The submissions: every test image "No finding" (score 1), and each class's mean fused
   box at its prior frequency.
3. ``python -m core evaluate`` scores both against the fused readers (the default) and
   against the generator's exact lesions (``--gt truth``).

    .venv/bin/python scripts/chest_baselines.py [--images 500] [--size 512] [--out DIR]

Prints one JSON object with ``map_iou40`` and its 95 % interval per baseline and truth.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.studies.chest.baselines import mean_box_baseline, no_finding_baseline  # noqa: E402
from core.studies.chest.fusion import fuse_readers  # noqa: E402
from core.studies.chest.layout import read_vinbigdata  # noqa: E402
from core.studies.chest.submission import write_submission  # noqa: E402

log = logging.getLogger("chest_baselines")


def _core(*args: str) -> str:
    cmd = [sys.executable, "-m", "core", *args]
    log.info("%s", " ".join(cmd[1:]))
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--train-seed", type=int, default=12)
    parser.add_argument("--test-seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=None, help="keep the cohorts here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = args.out or Path(tempfile.mkdtemp(prefix="chest_baselines_"))
    folders = {}
    for split, seed in (("train", args.train_seed), ("test", args.test_seed)):
        folders[split] = out / split
        _core("synth", str(folders[split]), "--study", "chest", "--images", str(args.images),
              "--seed", str(seed), "--size", str(args.size))  # fmt: skip
    train, test = read_vinbigdata(folders["train"]), read_vinbigdata(folders["test"])
    subs = {
        "all_no_finding": write_submission(
            no_finding_baseline(test.image_ids), out / "sub_no_finding.csv"
        ),
        "mean_box_at_prior": write_submission(
            mean_box_baseline(fuse_readers(train), train.sizes, test.sizes),
            out / "sub_mean_box.csv",
        ),
    }
    report: dict[str, object] = {"images": args.images, "size": args.size, "folder": str(out)}
    for name, sub in subs.items():
        for gt in ("fused", "truth"):
            res = json.loads(_core("evaluate", str(sub), str(folders["test"]), "--gt", gt))
            report[f"{name}/{gt}"] = {
                "map_iou40": res["map_iou40"],
                "ci95": res.get("ci95", {}).get("map"),
            }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
