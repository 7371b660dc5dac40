"""The committed sample cases in ``assets/samples``, reproducible with one CLI call:

    python -m core synth assets/samples --sample-set

Each case folder holds the patient's eight JPEGs (index zero-padded to 4 digits, as K-Ium
test files are), a one-row ``train.csv`` and ``truth.json``. Images use the small end of
the size range and JPEG quality 85 to keep the set a few MB.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.schema import LOCATIONS, TRAIN_COLUMNS
from core.synth.cohort import write_patients

__all__ = ["SampleCase", "SAMPLE_CASES", "SAMPLE_SEED", "write_sample_set"]

SAMPLE_SEED = 2023
_HEIGHTS = (720, 780)
_QUALITY = 85
_PAD = 4

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleCase:
    """A named demo patient with chosen labels."""

    name: str
    index: int
    locations: tuple[str, ...] = ()

    def row(self) -> dict[str, int]:
        labels = {c: int(c in self.locations) for c in LOCATIONS}
        return {"Index": self.index, "Aneurysm": int(bool(self.locations)), **labels}


SAMPLE_CASES: tuple[SampleCase, ...] = (
    SampleCase("negative_a", 101),
    SampleCase("positive_L_MCA", 102, ("L_MCA",)),
    SampleCase("positive_multi_R_ICA_L_ACOM_BA", 103, ("R_ICA", "L_ACOM", "BA")),
    SampleCase("positive_R_PCOM", 104, ("R_PCOM",)),
    SampleCase("negative_b", 105),
)


def write_sample_set(out: Path, cases: tuple[SampleCase, ...] = SAMPLE_CASES) -> list[Path]:
    """Write each case into ``out/<case name>/``; returns the case folders."""
    folders = []
    kinds: Counter[str] = Counter()
    for case in cases:
        table = pd.DataFrame([case.row()], columns=list(TRAIN_COLUMNS))
        folder = write_patients(Path(out) / case.name, table, SAMPLE_SEED, pad_width=_PAD,
                                quality=_QUALITY, heights=_HEIGHTS)  # fmt: skip
        truth = json.loads((folder / "truth.json").read_text())
        kinds.update(t["kind"] for t in truth["images"].values())
        folders.append(folder)
    log.info("sample set: %d cases in %s; image kinds %s", len(folders), out, dict(kinds))
    return folders
