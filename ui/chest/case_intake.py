"""Intake on the film-review page: upload one film, open a held-out demo film, or take a
film sent by the cohort page (:func:`ui.chest.handover.take_film`) or by the PACS worklist
(:func:`ui.worklist_session.take_open`).

The film is decoded once per source signature (kept in session state), so display
controls never decode again; every session has its own. Bad files get the shared intake
messages (:func:`core.studies.chest.film.chest_case`), and the page goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core import paths
from core.case import Case, IntakeProblem
from core.intake.errors import IntakeError
from core.intake.naming import safe_basename
from core.roots import PathOutsideRoots, inside_roots
from core.studies.chest.annotations import AnnotationError
from core.studies.chest.film import VIEW, Film, chest_case, load_film
from core.studies.chest.layout import SIZES_CSV, image_path, list_images, read_sizes
from ui.chest.handover import FilmHandover, take_film
from ui.text import plain
from ui.worklist_session import held, offered, take_open

__all__ = ["FilmInput", "film_intake", "show_film_problems", "SAMPLE_COUNT"]

log = logging.getLogger(__name__)

UPLOAD, SAMPLE, COHORT, PACS = "Upload", "Sample film", "Cohort film", "PACS study"
#: How many held-out demo films the sample box offers.
SAMPLE_COUNT = 12
_SIG, _INPUT, _HANDOVER = "chest_film_sig", "chest_film_input", "chest_handover"


@dataclass(frozen=True, eq=False)
class FilmInput:
    """The session's film: its one-view case (problems included), the decoded film (None
    when no file could be used), and where it came from."""

    case: Case
    film: Film | None
    cohort_dir: str | None = None
    image_id: str | None = None
    focus: tuple[float, float, float, float] | None = None


def _from_upload(name: str, data: bytes) -> FilmInput:
    case = chest_case([(name, data)])
    film = load_film(data, safe_basename(name)) if VIEW in case.views else None
    return FilmInput(case, film)


def _original_size(folder: Path, image_id: str) -> tuple[int, int] | None:
    """The original size from the folder's ``sizes.csv`` (a resized PNG copy), if any."""
    if not (folder / SIZES_CSV).is_file():
        return None
    try:
        return read_sizes(folder / SIZES_CSV)[0].get(image_id)
    except AnnotationError as err:
        log.warning("sizes.csv unreadable: %s", err)
        return None


def _from_folder(
    path: Path, image_id: str, folder: Path | None, focus: tuple | None = None
) -> FilmInput:
    """A film of a (labelled) folder; the case id is the image id (not a person's name)."""
    try:
        film = load_film(path, original_size=_original_size(folder, image_id) if folder else None)
    except IntakeError as err:
        problem = err.problem()
        return FilmInput(Case(image_id, {}, [problem], expected_views=(VIEW,)), None)
    except OSError as err:  # gone or unreadable since it was listed
        problem = IntakeProblem(
            path.name, "bad_file", f"{path.name}: cannot be read ({err.strerror})"
        )
        return FilmInput(Case(image_id, {}, [problem], expected_views=(VIEW,)), None)
    case = Case(image_id, {VIEW: film.image}, [], expected_views=(VIEW,))
    return FilmInput(case, film, None if folder is None else str(folder), image_id, focus)


def _cached(sig: tuple, build) -> FilmInput:  # noqa: ANN001 - a zero-argument builder
    if st.session_state.get(_SIG) != sig:
        with st.spinner("Reading the film…"):
            st.session_state[_INPUT] = build()
        st.session_state[_SIG] = sig
    return st.session_state[_INPUT]


def _from_pacs() -> FilmInput | None:
    """The film of the study this session retrieved from the PACS: its case is the
    retrieved one (the send button matches it by content hash), the film decoded from the
    retrieved file."""
    review = held()
    if review is None or review.bundle.study != "chest" or VIEW not in review.mapping.views:
        st.info("The PACS study was closed; open another one from the PACS worklist.")
        return None
    inst = review.mapping.views[VIEW].instance

    def build() -> FilmInput:
        try:
            film = load_film(review.files.read(inst), f"{VIEW}.dcm")
        except IntakeError as err:
            problem = err.problem()
        except OSError as err:  # the retrieved file was removed (study closed elsewhere)
            problem = IntakeProblem(inst.label, "bad_file", f"{inst.label}: {err.strerror}")
        else:
            return FilmInput(review.case, film)
        return FilmInput(Case(review.case.case_id, {}, [problem], expected_views=(VIEW,)), None)

    return _cached(("pacs", review.case.case_id), build)


def _adopt_handover() -> None:
    if take_open("chest") is not None:
        st.session_state["chest_source"] = PACS
    sent = take_film()
    if sent is not None:
        st.session_state[_HANDOVER] = sent
        st.session_state["chest_source"] = COHORT


def _open_handover(sent: FilmHandover) -> FilmInput | None:
    try:
        path = inside_roots(sent.path)
        folder = inside_roots(sent.cohort_dir) if sent.cohort_dir else None
    except PathOutsideRoots as err:
        st.error(f"This film is outside the data folders and was not opened: {plain(err)}")
        return None
    sig = ("cohort", str(path), sent.image_id, sent.focus)
    return _cached(sig, lambda: _from_folder(path, sent.image_id, folder, sent.focus))


def _samples(folder: Path) -> list[str]:
    return sorted(list_images(folder))[:SAMPLE_COUNT] if folder.is_dir() else []


def film_intake() -> FilmInput | None:
    """Source choice and inputs; the session's current film, or None."""
    _adopt_handover()
    heldout = paths.chest_demo_cohort_dir("heldout")
    samples = _samples(heldout)
    sources = [UPLOAD, SAMPLE] if samples else [UPLOAD]
    if _HANDOVER in st.session_state:
        sources.append(COHORT)
    if offered("chest", "chest_source", PACS):
        sources.append(PACS)
    source = st.radio(
        "Source", sources, horizontal=True, key="chest_source", label_visibility="collapsed"
    )
    if not samples:
        st.caption(
            "Sample films come from the chest demo's held-out cohort, which is written when "
            "the chest demo models are built (the Build demo models button)."
        )
    if source == PACS:
        return _from_pacs()
    if source == COHORT:
        return _open_handover(st.session_state[_HANDOVER])
    if source == SAMPLE:
        image_id = st.selectbox("Held-out demo film (synthetic)", samples, key="chest_sample")
        if not image_id:
            return None
        path = image_path(heldout, image_id)
        return _cached(("sample", str(path)), lambda: _from_folder(path, image_id, heldout))
    upload = st.file_uploader(
        "One chest film: DICOM, PNG or JPEG", accept_multiple_files=False, key="chest_upload"
    )
    if upload is None:
        st.session_state.pop(_SIG, None)
        return None
    sig = ("upload", upload.file_id, upload.name, upload.size)
    return _cached(sig, lambda: _from_upload(upload.name, upload.getvalue()))


def show_film_problems(case: Case) -> None:
    """Intake problems as one error box (the shared messages), never a traceback."""
    problems: list[IntakeProblem] = [p for p in case.problems if p.kind != "missing"]
    if problems:
        st.error(
            "**The file could not be used**\n\n"
            + "\n".join(f"- {plain(p.message)}" for p in problems)
        )
