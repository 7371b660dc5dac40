"""The active model bundle: pick it, load it once, show what it is, build the demo.

The bundle is loaded through :func:`core.models.bundle.load_bundle`, whose one bounded
cache is keyed by the resolved path and the SHA-256 of ``bundle.json``, so a rebuilt
bundle is reloaded and every session shares the same read-only models. Which bundle and
which threshold set a session uses is session state, so one user's choice never changes
another's.

Each study has its own bundle: the sidebar shows the panel of the study whose page is
open, with its own directory box, threshold set and demo, so choosing a chest bundle never
unloads the aneurysm one. Session keys of the aneurysm study keep their original names
(the cohort page's hand-over and saved links use them); other studies' are prefixed
(:func:`session_key`).

A bundle that cannot be loaded, for whatever reason (a refused manifest, an unreadable
file, an error inside torch or timm), is one message in the sidebar and no active bundle:
the pages go on without models. Names and notes from a manifest or a threshold set are
shown as typed (:mod:`ui.text`), never as Markdown.

Changing bundles is an admin's action (:class:`core.auth.Permission`): other roles see the
configured bundle's folder as text, not a box (so no widget value of theirs can name
another folder), and cannot start a demo build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core import demo_job, paths
from core.auth import Permission
from core.cohort import OPEN_CASE_THRESHOLDS, THRESHOLD_SET
from core.device import describe_device
from core.models.bundle import Bundle, BundleError, load_bundle
from core.models.manifest import is_bundle_dir, read_manifest
from core.models.threshold_sets import load_threshold_set, saved_threshold_sets
from core.models.thresholds import Thresholds, ThresholdsError
from core.review.identity import BundleIdentity, bundle_identity
from core.roots import PathOutsideRoots, inside_roots
from core.studies import get_study
from ui.auth import may, require
from ui.text import code, plain

__all__ = [
    "ActiveBundle",
    "TRAINING_SET",
    "WHATIF_SET",
    "bundle_sidebar",
    "active_bundle",
    "offer_demo_build",
    "session_key",
]

#: Selector entry for the thresholds written into ``bundle.json`` at training time.
TRAINING_SET = "bundle.json (training)"
#: Selector entry for unsaved thresholds handed over by the cohort page's what-if.
WHATIF_SET = "cohort what-if (unsaved)"
_WHATIF = "whatif_thresholds"
_ACTIVE = "active_bundle"
_MISSING = "missing_bundle_dir"
_DIR = "bundle_dir"
log = logging.getLogger(__name__)


def session_key(study: str, name: str) -> str:
    """This session's key for ``name`` (``bundle_dir``, ``threshold_set``...) of ``study``:
    the aneurysm study's is ``name`` itself, another study's ``<study>_<name>``."""
    return name if study == "aneurysm" else f"{study}_{name}"


@dataclass(frozen=True)
class ActiveBundle:
    """What a page needs: the shared bundle, this session's thresholds, and labels."""

    bundle: Bundle
    identity: BundleIdentity
    thresholds: Thresholds
    threshold_set: str

    @property
    def study(self) -> str:
        return self.bundle.study


def _manifest_sha(folder: Path) -> str | None:
    """SHA-256 of ``bundle.json`` (None when absent): the cache key of a loaded bundle.

    The manifest is checked here (:class:`BundleError` says why it is refused), before
    any weights are read."""
    return read_manifest(folder).sha256 if is_bundle_dir(folder) else None


def _is_demo_dir(folder: Path, study: str) -> bool:
    return folder.resolve() == paths.study_demo_bundle_dir(study).resolve()


def offer_demo_build(study: str = "aneurysm") -> None:
    """When ``study``'s demo bundle is the one wanted and it does not exist yet, show its
    background build's progress, or offer to start one (a page calls this where a reader
    looks: the top of the page, not the sidebar). The build is its own process
    (:mod:`core.demo_job`): this tab stays usable and closing it loses nothing."""
    folder = st.session_state.get(session_key(study, _MISSING))
    if folder is None or not _is_demo_dir(Path(folder), study):
        return
    progress = demo_job.read_progress(study)
    with st.container(border=True):
        if progress is not None and progress.state in ("queued", "running"):
            _build_progress(study)
            return
        if progress is not None and progress.state == "failed":
            log_file = demo_job.jobs_dir() / "demo.log"
            st.error(
                f"The last demo build failed: {plain(progress.error, 300)}. "
                f"Its log is {code(log_file)}."
            )
        if not may(Permission.CHANGE_BUNDLES):
            st.markdown("**No models yet.** An administrator has to build or choose a bundle.")
            return
        st.markdown(
            "**No models yet.** Build the demo bundle: small models trained on a synthetic "
            "cohort (minutes on a CPU). It builds in the background: the rest of the app "
            "stays usable and this page shows its progress."
        )
        if not st.button("Build demo models", type="primary", key=session_key(study, "build_demo")):
            return
        if not require(Permission.CHANGE_BUNDLES):
            return
        try:
            demo_job.start_build([study])
        except demo_job.JobBusy as err:
            st.info(f"{plain(err)}. Start this one when it has finished.")
            return
    st.rerun()


@st.fragment(run_every=2.0)
def _build_progress(study: str) -> None:
    """The running build's stage, percent and time left, polled every 2 s; the whole page
    reruns once the build has ended, so the new bundle is loaded."""
    progress = demo_job.read_progress(study)
    if progress is None or progress.state in ("done", "failed"):
        st.rerun(scope="app")
        return
    eta = progress.eta_s
    left = "estimating the time left" if eta is None else f"about {_minutes(eta)} left"
    stage = (
        "queued behind another build"
        if progress.state == "queued"
        else plain(progress.message, 120)
    )
    st.markdown("**Building the demo models in the background.**")
    st.progress(progress.fraction, text=f"{stage} · {progress.fraction:.0%} · {left}")


def _bundle_folder(study: str, default: str) -> str:
    """The folder an admin typed in the sidebar box, else the configured one (shown)."""
    if may(Permission.CHANGE_BUNDLES):
        key = session_key(study, _DIR)
        return st.sidebar.text_input("Bundle directory", value=default, key=key).strip()
    st.sidebar.caption(f"Bundle directory: {code(default)} (set by an administrator)")
    return default


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _load_set(bundle: Bundle, name: str) -> Thresholds:
    if name == TRAINING_SET:
        return bundle.thresholds
    if name == WHATIF_SET:
        return Thresholds.from_dict(st.session_state[session_key(bundle.study, _WHATIF)])
    return load_threshold_set(bundle.path, name)


def _adopt_handover(bundle: Bundle) -> None:
    """Thresholds sent by the study's cohort page: select them, as an unsaved set if they
    differ from the set it selected (see :mod:`core.cohort` for the hand-over keys)."""
    study = bundle.study
    raw = st.session_state.pop(session_key(study, OPEN_CASE_THRESHOLDS), None)
    if raw is None:
        return
    set_key = session_key(study, THRESHOLD_SET)
    st.session_state[session_key(study, _WHATIF)] = raw
    current = st.session_state.get(set_key, TRAINING_SET)
    try:
        sent, chosen = Thresholds.from_dict(raw), _load_set(bundle, current)
        same = current != WHATIF_SET and (sent.stage1, sent.labels) == (
            chosen.stage1,
            chosen.labels,
        )
    except ThresholdsError:
        same = False
    if not same:
        st.session_state[set_key] = WHATIF_SET


def _thresholds(bundle: Bundle) -> tuple[Thresholds, str]:
    """The threshold set this session picked: training, a saved set, or a cohort what-if."""
    _adopt_handover(bundle)
    set_key = session_key(bundle.study, THRESHOLD_SET)
    names = [TRAINING_SET, *saved_threshold_sets(bundle.path)]
    if session_key(bundle.study, _WHATIF) in st.session_state:
        names.append(WHATIF_SET)
    if st.session_state.get(set_key) not in names:
        st.session_state.pop(set_key, None)  # e.g. a set of another bundle
    choice = st.sidebar.selectbox("Threshold set", names, key=set_key)
    try:
        return _load_set(bundle, choice), choice
    except (ThresholdsError, KeyError) as err:
        st.sidebar.error(f"Threshold set {plain(repr(choice))} cannot be used: {plain(err)}")
        return bundle.thresholds, TRAINING_SET


def _describe(active: ActiveBundle) -> None:
    b, ident = active.bundle, active.identity
    lines = [
        f"**{plain(ident.name, 120)}** · id `{ident.sha256[:12]}`",
        f"Training data: {plain(ident.training_data, 200)}",
        f"Data fingerprint: `{ident.fingerprint[:12]}`" if ident.fingerprint else None,
        f"Threshold rule: {plain(active.thresholds.rule, 200)}",
        None
        if active.thresholds.stage1 is None
        else f"Stage-1 threshold: {active.thresholds.stage1:.3f}",
        f"Device: **{'GPU' if b.device.type == 'cuda' else 'CPU'}** · {describe_device(b.device)}",
    ]
    st.sidebar.caption("  \n".join(line for line in lines if line))


def bundle_sidebar(study: str = "aneurysm") -> ActiveBundle | None:
    """Render ``study``'s sidebar bundle panel and remember this session's active bundle
    of that study (the panel of the study whose page is open)."""
    st.sidebar.subheader("Model bundle")
    default = str(paths.configured_bundle_dir(study))
    raw = _bundle_folder(study, default)
    st.session_state[session_key(study, _ACTIVE)] = None
    st.session_state[session_key(study, _MISSING)] = None
    try:
        folder = inside_roots(raw or default)  # resolved: symlinks and ".." cannot escape
    except PathOutsideRoots as err:
        st.sidebar.error(f"This bundle folder is refused: {err}")
        return None
    try:
        sha = _manifest_sha(folder)
        if sha is None:
            hint = " Build the demo models on the page." if _is_demo_dir(folder, study) else ""
            st.sidebar.info(f"No model bundle at {code(folder)}.{hint}")
            st.session_state[session_key(study, _MISSING)] = str(folder)
            return None
        theirs = get_study(read_manifest(folder).study)
        if theirs.name != study:  # another study's bundle: say so, load nothing
            pages = "its own pages" if theirs.pages else "no page in this app yet"
            st.sidebar.info(
                f"{code(folder)} is a {plain(theirs.title)} bundle, not a "
                f"{plain(get_study(study).title)} one; that study has {pages}. "
                "Choose another bundle directory."
            )
            return None
        with st.spinner("Loading models…"):
            bundle = load_bundle(folder.resolve())  # core's one bounded cache: loaded once
    except BundleError as err:
        st.sidebar.error(f"This bundle cannot be loaded: {plain(err)}")
        return None
    except OSError as err:  # unreadable folder or file: say which, never a traceback
        reason = plain(err.strerror or err)
        st.sidebar.error(f"This bundle cannot be read: {reason} ({code(folder)})")
        return None
    except Exception as err:  # torch, timm, safetensors...: any failure stays here
        log.exception("bundle %s failed to load", folder)
        st.sidebar.error(
            f"This bundle cannot be loaded: {plain(type(err).__name__)}: {plain(err, 300)}. "
            "The rest of the app works without it; see the server log for details."
        )
        return None
    identity = bundle_identity(bundle.path, bundle.name, bundle.manifest_sha256, bundle.manifest)
    if identity.notice:
        st.sidebar.warning(identity.notice, icon=":material/warning:")
    thresholds, set_name = _thresholds(bundle)
    active = ActiveBundle(bundle, identity, thresholds, set_name)
    _describe(active)
    st.session_state[session_key(study, _ACTIVE)] = active
    return active


def active_bundle(study: str = "aneurysm") -> ActiveBundle | None:
    """``study``'s bundle as the sidebar activated it in this run of the script (None when
    there is none)."""
    return st.session_state.get(session_key(study, _ACTIVE))
