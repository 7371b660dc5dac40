"""Intake on the case page: upload files or a zip, or open a sample; fix view names.

The case is rebuilt only when the uploads or the view overrides change (a signature in
session state), so reruns caused by display controls never decode images again. All of it
is per session: two users' uploads never meet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import paths
from core.case import Case
from core.cohort import OPEN_CASE_DIR, OPEN_CASE_FOCUS, OPEN_CASE_ID, OPEN_CASE_INDEX
from core.intake import BadFile, case_from_files, case_from_zip, parse_name, read_kium_folder
from core.review.layout import GRID_COLUMNS, GRID_ROWS, column_label, grid_cells
from core.schema import VIEWS
from ui.text import plain
from ui.worklist_session import held, offered, take_open

__all__ = [
    "SAMPLES_DIR",
    "PENDING_FOCUS",
    "sample_names",
    "intake_panel",
    "view_grid_frame",
    "file_assignments",
    "show_problems",
]

SAMPLES_DIR = paths.ASSETS / "samples"
UPLOAD, SAMPLE, COHORT, PACS = "Upload", "Sample case", "Cohort case", "PACS study"
#: The finding the cohort page sent the reader to look at; the heatmap panel selects it.
PENDING_FOCUS = "pending_focus"
_COHORT_CASE = "cohort_case"
_OVERRIDE = "override::"
_AUTO = "from file name"
_ZIP_MAGIC = b"PK\x03\x04"
_NAME_CHARS = 60  # a file name as a widget label: long names are cut (the tooltip has it whole)


def sample_names() -> list[str]:
    """Sample case folders in :data:`SAMPLES_DIR` (each a one-patient K-Ium folder), sorted."""
    root = SAMPLES_DIR
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _load_sample(name: str) -> Case | None:
    try:
        folder = read_kium_folder(SAMPLES_DIR / name)
    except BadFile as err:
        st.error(f"Sample case {plain(name)} cannot be read: {plain(err)}")
        return None
    if not folder.indices:
        st.error(f"Sample case {plain(name)} holds no images.")
        return None
    case = folder.load_case(folder.indices[0])
    case.case_id = f"{name} (#{case.case_id})"
    return case


def _overrides() -> dict[str, str]:
    """View choices the user made for misnamed files (widget state of earlier runs)."""
    out = {}
    for key, value in st.session_state.items():
        if isinstance(key, str) and key.startswith(_OVERRIDE) and value in VIEWS:
            out[key[len(_OVERRIDE) :]] = value
    return out


def _clear_overrides() -> None:
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(_OVERRIDE)]:
        del st.session_state[key]


def _from_uploads(files: list) -> Case | None:
    """Build (or reuse) the case for the current uploads and overrides."""
    uploads = tuple((f.file_id, f.name, f.size) for f in files)
    if st.session_state.get("uploads_sig") != uploads:
        _clear_overrides()  # a new set of files: earlier fixes do not apply
        st.session_state["uploads_sig"] = uploads
    overrides = _overrides()
    sig = (uploads, tuple(sorted(overrides.items())))
    if st.session_state.get("case_sig") == sig:
        return st.session_state.get("case")
    blobs = [(f.name, f.getvalue()) for f in files]
    zips = [b for b in blobs if b[0].lower().endswith(".zip") or b[1].startswith(_ZIP_MAGIC)]
    if zips and len(blobs) > 1:
        st.error("Upload either one zip of the case or the image files, not both.")
        return None
    with st.spinner("Reading images…"):
        if zips:
            case = case_from_zip(zips[0][1], overrides=overrides, zip_name=zips[0][0])
        else:
            case = case_from_files(blobs, overrides=overrides)
    st.session_state["case_sig"], st.session_state["case"] = sig, case
    return case


def _from_sample(name: str) -> Case | None:
    sig = ("sample", name)
    if st.session_state.get("case_sig") == sig:
        return st.session_state.get("case")
    with st.spinner("Opening sample…"):
        case = _load_sample(name)
    st.session_state["case_sig"], st.session_state["case"] = sig, case
    return case


def _adopt_handover() -> None:
    """A patient opened from the cohort page's error lists (keys in :mod:`core.cohort`),
    or a study opened from the PACS worklist (:mod:`ui.worklist_session`)."""
    if take_open("aneurysm") is not None:
        st.session_state["source"] = PACS
    if OPEN_CASE_DIR not in st.session_state or OPEN_CASE_INDEX not in st.session_state:
        return
    folder, index = (
        str(st.session_state.pop(OPEN_CASE_DIR)),
        int(st.session_state.pop(OPEN_CASE_INDEX)),
    )
    st.session_state.pop(OPEN_CASE_ID, None)
    st.session_state[PENDING_FOCUS] = st.session_state.pop(OPEN_CASE_FOCUS, None)
    st.session_state[_COHORT_CASE] = (folder, index)
    st.session_state["source"] = COHORT


def _from_cohort(folder: str, index: int) -> Case | None:
    sig = ("cohort", folder, index)
    if st.session_state.get("case_sig") == sig:
        return st.session_state.get("case")
    try:
        with st.spinner("Opening the cohort patient…"):
            case = read_kium_folder(folder).load_case(index)
    except (BadFile, KeyError) as err:
        st.error(f"Patient {index} of {plain(Path(folder).name)} cannot be opened: {plain(err)}")
        return None
    case.case_id = f"{Path(folder).name} #{case.case_id}"
    st.session_state["case_sig"], st.session_state["case"] = sig, case
    return case


def _from_pacs() -> Case | None:
    """The case of the study this session retrieved from the PACS (already decoded)."""
    review = held()
    if review is None or review.bundle.study != "aneurysm":
        st.info("The PACS study was closed; open another one from the PACS worklist.")
        return None
    st.session_state["case_sig"], st.session_state["case"] = (
        ("pacs", review.case.case_id),
        review.case,
    )
    return review.case


def intake_panel() -> Case | None:
    """Source choice and input widgets; the session's current case, or None."""
    _adopt_handover()
    samples = sample_names()
    sources = [UPLOAD, SAMPLE] if samples else [UPLOAD]
    if _COHORT_CASE in st.session_state:
        sources.append(COHORT)
    if offered("aneurysm", "source", PACS):
        sources.append(PACS)
    source = st.radio(
        "Source", sources, horizontal=True, key="source", label_visibility="collapsed"
    )
    if source == PACS:
        return _from_pacs()
    if source == COHORT:
        return _from_cohort(*st.session_state[_COHORT_CASE])
    if source == SAMPLE:
        name = st.selectbox("Sample case (synthetic)", samples, key="sample")
        return _from_sample(name) if name else None
    files = st.file_uploader(
        "A patient's eight views (JPEG, PNG or DICOM, named like 1428LI-A.jpg), or one zip",
        accept_multiple_files=True,
        key="uploads",
    )
    if not files:
        st.session_state.pop("case_sig", None)
        return None
    return _from_uploads(files)


def view_grid_frame(case: Case) -> pd.DataFrame:
    """Which views are present, laid out like the image grids (rows: injection)."""
    cells = grid_cells(case)
    data = {
        column_label(side, proj): [
            f"✓ {row[i].view}  {row[i].file}" if row[i].present else f"✗ {row[i].view}  missing"
            for row in cells
        ]
        for i, (side, proj) in enumerate(GRID_COLUMNS)
    }
    return pd.DataFrame(data, index=[label for _, label in GRID_ROWS])


def file_assignments(case: Case) -> None:
    """A view selector per file, so a misnamed or unrecognised file can be placed."""
    loaded = {im.source.name: v for v, im in case.views.items()}
    stray = [
        p.file for p in case.problems if p.kind in ("unrecognised_name", "duplicate") and p.file
    ]
    names = sorted(set(loaded) | set(stray))
    if not names:
        return
    with st.expander("Files and their views", expanded=bool(stray)):
        st.caption(
            "A file's view comes from its name. "
            "Choose a view to fix a misnamed or unrecognised file."
        )
        cols = st.columns(4)
        for i, name in enumerate(names):
            parsed = parse_name(name).view
            auto = f"{_AUTO} ({parsed or 'not recognised'})"
            cols[i % 4].selectbox(
                plain(name, _NAME_CHARS),
                [auto, *VIEWS],
                key=f"{_OVERRIDE}{name}",
                help=f"{plain(name)}: currently {loaded.get(name, 'not used')}",
            )


def show_problems(case: Case) -> None:
    """Intake problems as one error box (unusable files) and one warning box (the rest)."""
    bad = [p.message for p in case.problems if p.kind in ("bad_file", "too_large")]
    other = [p.message for p in case.problems if p.kind in ("duplicate", "unrecognised_name")]
    if bad:
        st.error("**Files that could not be used**\n\n" + "\n".join(f"- {plain(m)}" for m in bad))
    if other:
        st.warning("**Files that need attention**\n\n" + "\n".join(f"- {plain(m)}" for m in other))
    if case.missing_views and case.views:
        st.warning(
            f"**Partial case: {len(case.views)} of {len(VIEWS)} views.** Missing: "
            f"{', '.join(case.missing_views)}. Results use the views present; locations that "
            "only a missing view shows get no score."
        )
