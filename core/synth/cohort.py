"""Patients and cohorts on disk: ``train.csv``, ``{Index}{View}.jpg`` and ``truth.json``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from core.schema import TRAIN_COLUMNS, VIEWS
from core.synth.aneurysm import sample_aneurysms
from core.synth.builder import Physique
from core.synth.labels import DEFAULT_PREVALENCE, cohort_labels, patient_streams
from core.synth.text import TextStyle
from core.synth.view import render_view

__all__ = [
    "GENERATOR_VERSION",
    "DEFAULT_HEIGHTS",
    "generate_patient",
    "generate_cohort",
    "write_patients",
    "file_name",
]

#: Bumped whenever the same seed would give different images or truth.
GENERATOR_VERSION = 1
#: Image heights in pixels; widths follow from the image kind (up to 1670).
DEFAULT_HEIGHTS = (720, 1000)

log = logging.getLogger(__name__)


def file_name(index: int, view: str, pad_width: int = 0) -> str:
    """K-Ium file name, e.g. ``12LI-A.jpg`` or, padded to 4, ``0012LI-A.jpg``."""
    return f"{index:0{pad_width}d}{view}.jpg" if pad_width else f"{index}{view}.jpg"


def generate_patient(
    index: int,
    labels: Mapping[str, int],
    rng: np.random.Generator,
    *,
    heights: tuple[int, int] = DEFAULT_HEIGHTS,
) -> dict[str, tuple[np.ndarray, dict]]:
    """The eight views of one patient: view -> (uint8 grey image, truth record).

    ``labels`` are the 21 location columns (``Aneurysm`` is ignored; it follows from them).
    Anatomical build, text style and aneurysm sizes are drawn once per patient, so that
    the patient's views agree with each other.
    """
    physique = Physique.sample(rng)
    style = TextStyle.sample(rng)
    aneurysms = sample_aneurysms(labels, rng)
    return {v: render_view(v, index, physique, aneurysms, style, rng, heights) for v in VIEWS}


def write_patients(
    out: Path,
    table: pd.DataFrame,
    seed: int,
    *,
    pad_width: int = 0,
    quality: int = 90,
    heights: tuple[int, int] = DEFAULT_HEIGHTS,
) -> Path:
    """Render and write every patient of ``table`` (a train.csv frame) into ``out``.

    Each patient's images come from its own stream (:func:`patient_streams`), so a patient
    looks the same in any cohort that contains it.
    """
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, dict] = {}
    patients: dict[str, dict[str, int]] = {}
    every = max(1, len(table) // 10)
    start = time.perf_counter()
    for n, row in enumerate(table.to_dict("records"), 1):
        index = int(row["Index"])
        labels = {c: int(row[c]) for c in TRAIN_COLUMNS[1:]}
        rendered = generate_patient(index, labels, patient_streams(seed, index)[1], heights=heights)
        for view, (img, truth) in rendered.items():
            name = file_name(index, view, pad_width)
            if not cv2.imwrite(str(out / name), img, [cv2.IMWRITE_JPEG_QUALITY, quality]):
                raise OSError(f"could not write {out / name}")
            images[name] = truth
        patients[str(index)] = labels
        if n % every == 0 or n == len(table):
            rate = (time.perf_counter() - start) / n
            log.info("synth: %d/%d patients (%.2f s/patient)", n, len(table), rate)
    table.to_csv(out / "train.csv", index=False, lineterminator="\n")
    truth = {"seed": seed, "generator_version": GENERATOR_VERSION, "images": images,
             "patients": patients}  # fmt: skip
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return out


def generate_cohort(
    out: Path,
    patients: int,
    seed: int,
    prevalence: float = DEFAULT_PREVALENCE,
    start_index: int = 1,
    pad_width: int = 0,
    *,
    quality: int = 90,
) -> Path:
    """Write a synthetic K-Ium cohort of ``patients`` patients into ``out``; returns ``out``."""
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    table = cohort_labels(patients, seed, prevalence, start_index)
    return write_patients(Path(out), table, seed, pad_width=pad_width, quality=quality)
