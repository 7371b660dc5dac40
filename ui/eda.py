"""Dataset tabs of the cohort pages: what a labelled folder holds, before any model.

Both panels read their folder once per change (``st.cache_data`` keyed by the folder and a
stat stamp of its label files and image folders, so an edited ``train.csv`` is re-read and
an unchanged one costs a few ``stat`` calls per rerun), then draw the tables of
:mod:`core.studies.chest.eda` / :mod:`core.cohort.eda`. A folder that cannot be read gives
one message, never a traceback. Widget and chart keys start with ``eda_``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from core.cohort import eda as kium
from core.intake.errors import IntakeError
from core.studies.chest import eda, eda_figures
from core.studies.chest.annotations import AnnotationError
from core.studies.chest.classes import CLASS_IDS
from core.studies.chest.layout import IMAGE_DIRS, SIZES_CSV, TRAIN_CSV, read_vinbigdata
from ui.text import code, plain

__all__ = ["aneurysm_eda_panel", "chest_eda_panel"]

log = logging.getLogger(__name__)

Stamp = tuple[tuple[str, int, int], ...]


def _stamp(folder: Path, names: tuple[str, ...]) -> Stamp:
    """``(name, size, mtime_ns)`` of each named file or folder that exists: the cache key's
    cheap half (a folder's mtime changes when an image is added, removed or renamed)."""
    out = []
    for name in names:
        path = folder / name
        if path.exists():
            info = path.stat()
            out.append((name, info.st_size, info.st_mtime_ns))
    return tuple(out)


@dataclass(frozen=True)
class ChestData:
    """A VinBigData folder's tidy reader and fused rows, its films, and the rejected count."""

    readers: pd.DataFrame
    fused: pd.DataFrame
    image_ids: tuple[str, ...]
    reported: int


@st.cache_data(max_entries=4, show_spinner="Reading the folder and fusing the readers…")
def _chest_data(folder: str, stamp: Stamp) -> ChestData:
    ann = read_vinbigdata(folder)
    fused = eda.fused_boxes(ann) if ann.image_ids else eda.reader_boxes(ann).iloc[:0]
    return ChestData(eda.reader_boxes(ann), fused, tuple(ann.image_ids), len(ann.errors))


def chest_eda_panel(cohort_dir: Path) -> None:
    """Class frequencies, labels per film, box sizes and positions, and reader habits of a
    labelled VinBigData folder (``train.csv`` plus films)."""
    folder = Path(cohort_dir)
    try:
        data = _chest_data(str(folder), _stamp(folder, (TRAIN_CSV, SIZES_CSV, *IMAGE_DIRS)))
    except (AnnotationError, OSError) as err:
        log.info("chest EDA: %s", err)
        st.warning(f"No dataset view for {code(str(folder))}: {plain(str(err))}")
        return
    if not data.image_ids:
        st.info("This folder has no film with a usable size, so there is nothing to count.")
        return
    readers, fused = data.readers, data.fused
    st.caption(
        f"{len(data.image_ids)} films, {len(readers)} reader rows; {data.reported} rows or "
        "images were reported by the folder check and are not counted. *Fused* is the study's "
        "ground truth: the readers' boxes fused by WBF at IoU 0.4."
    )
    freq = eda.class_frequencies(readers, fused)
    left, right = st.columns(2)
    left.plotly_chart(eda_figures.class_frequency_figure(freq, "boxes"), key="eda_chest_boxes")
    right.plotly_chart(eda_figures.class_frequency_figure(freq, "images"), key="eda_chest_images")
    st.caption(
        "Boxes and films per label. For *No finding* a reader's box is a call (one per reader "
        "who saw nothing); a fused *No finding* is a film left with no box."
    )
    per_image = {
        eda.READERS: eda.labels_per_image(readers, data.image_ids),
        eda.FUSED: eda.labels_per_image(fused, data.image_ids),
    }
    st.plotly_chart(eda_figures.labels_per_image_figure(per_image), key="eda_chest_labels")
    st.caption(
        "Distinct finding classes per film (any reader, or the fused set); 0 is a normal film."
    )
    _chest_boxes(readers, fused)
    _chest_readers(readers)


def _chest_boxes(readers: pd.DataFrame, fused: pd.DataFrame) -> None:
    """Box sizes and the position heatmap, for the readers' boxes or the fused ones."""
    st.subheader("Boxes")
    source = st.radio("Boxes of", (eda.READERS, eda.FUSED), horizontal=True, key="eda_chest_source")
    tidy = readers if source == eda.READERS else fused
    sizes = eda.size_summary(tidy)
    if sizes.empty:
        st.info("No finding boxes here: every film is normal.")
        return
    st.plotly_chart(eda_figures.box_size_figure(tidy, source), key="eda_chest_sizes")
    st.caption(
        "Box area as a share of its film, per class, on a log scale (the box spans the middle "
        "half, the line is the median). Sizes are fractions, so films of any size compare."
    )
    name = st.selectbox("Class", list(sizes["class_name"]), key="eda_chest_class")
    grid = eda.position_grid(tidy, CLASS_IDS[name])
    st.plotly_chart(eda_figures.position_figure(grid, name), key="eda_chest_position")
    st.caption("Box centres on a 10 × 10 grid over the film, as the film is displayed (top up).")


def _chest_readers(readers: pd.DataFrame) -> None:
    """Each reader's habits: boxes per film, No-finding calls, class mix, box size."""
    st.subheader("Each reader's habits")
    habits = eda.reader_habits(readers)
    st.plotly_chart(eda_figures.reader_habits_figure(habits), key="eda_chest_habits")
    st.caption("Boxes drawn per film read, and the share of films each reader called normal.")
    mix = eda.reader_class_mix(readers)
    if mix.empty:
        return
    st.plotly_chart(
        eda_figures.reader_matrix_figure(mix, "Class mix: share of each reader's boxes"),
        key="eda_chest_mix",
    )
    sizes = eda.reader_box_sizes(readers)
    st.plotly_chart(
        eda_figures.reader_matrix_figure(sizes, "Median box area / film area", ".1%"),
        key="eda_chest_reader_sizes",
    )
    st.caption(
        "Rows are readers, columns classes: what each reader tends to mark, and how large "
        "they draw it (empty: the reader drew no box of that class)."
    )


@st.cache_data(max_entries=4, show_spinner=False)
def _kium_labels(folder: str, stamp: Stamp) -> pd.DataFrame:
    return kium.label_frame(Path(folder))


@st.cache_data(max_entries=4, show_spinner=False)
def _kium_sacs(folder: str, stamp: Stamp) -> pd.DataFrame | None:
    sacs = kium.read_cohort_sacs(Path(folder))
    return None if sacs is None else kium.sac_sizes(sacs)


def aneurysm_eda_panel(cohort_dir: Path) -> None:
    """Positives per location, locations per patient and (synthetic cohorts) sac sizes of a
    labelled K-Ium folder."""
    folder = Path(cohort_dir)
    try:
        labels = _kium_labels(str(folder), _stamp(folder, ("train.csv", ".")))
    except (IntakeError, OSError) as err:
        log.info("aneurysm EDA: %s", err)
        st.warning(f"No dataset view for {code(str(folder))}: {plain(str(err))}")
        return
    if labels.empty:
        st.info("train.csv has no patient rows: there is nothing to count.")
        return
    st.caption(
        f"{len(labels)} patients in train.csv, {int(labels['Aneurysm'].sum())} with an aneurysm."
    )
    st.plotly_chart(
        kium.location_count_figure(kium.location_counts(labels)), key="eda_kium_locations"
    )
    st.caption(
        "Positive patients per location column, in train.csv order; colour is the circulation."
    )
    per_patient = kium.positives_per_patient(labels)
    st.plotly_chart(kium.positives_figure(per_patient), key="eda_kium_per_patient")
    st.caption("How many locations each patient has positive (0: no aneurysm).")
    try:
        sizes = _kium_sacs(str(folder), _stamp(folder, ("truth.json",)))
    except (ValueError, OSError) as err:
        st.warning(f"Sac sizes unavailable: {plain(str(err))}")
        return
    if sizes is None:
        st.info("No truth.json (real data): sac sizes are known only for synthetic cohorts.")
    elif sizes.empty:
        st.info("truth.json records no aneurysm sac.")
    else:
        st.plotly_chart(kium.sac_size_figure(sizes), key="eda_kium_sacs")
        st.caption(
            f"{len(sizes)} drawn aneurysms from truth.json: each one's radius in image pixels, "
            "the median over the views that show it, stacked by location."
        )
