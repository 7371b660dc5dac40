"""Cohort error analysis: cached predictions, live threshold what-if, error lists.

Modules (import them directly; this package imports nothing heavy):

* :mod:`~core.cohort.table`: the cached prediction table, one row per patient;
* :mod:`~core.cohort.cache`: the table on disk (parquet), keyed by bundle and data;
* :mod:`~core.cohort.batch`: resumable, chunked batch inference that fills the cache;
* :mod:`~core.cohort.shard`: the one batch path (page and ``predict``, any number of ranks);
* :mod:`~core.cohort.whatif`: decisions and ``core.metrics`` reports at any thresholds;
* :mod:`~core.cohort.errors`: false negatives / positives, most confident first;
* :mod:`~core.cohort.pointing`: CAM pointing game against a synthetic ``truth.json``;
* :mod:`~core.cohort.figures`: plotly ROC, PR, confusion, reliability, histograms;
* :mod:`~core.cohort.synthetic`: a model-free prediction table for tests and benchmarks.

Opening a case from the cohort page (``pages/cohort.py`` -> ``pages/case_review.py``)
------------------------------------------------------------------------------------
Selecting a row of an error list sets these ``st.session_state`` keys and calls
``st.switch_page("pages/case_review.py")``. The case page reads them once and pops them:

``open_case_dir`` (str)
    Absolute path of the K-Ium cohort folder; open it with
    ``core.intake.read_kium_folder(path).load_case(index)``.
``open_case_index`` (int)
    The patient's K-Ium ``Index`` in that folder.
``open_case_id`` (str)
    The case id shown in the error list (``str(Index)``), for the page title.
``open_case_focus`` (str)
    ``"Aneurysm"`` for a patient-level error, or the location column (e.g. ``"L_MCA"``)
    of a location error: the finding whose heatmap the reviewer came to see.
``open_case_thresholds`` (dict)
    ``Thresholds.to_dict()`` of the exact what-if thresholds in use on the cohort page
    (possibly unsaved); ``Thresholds.from_dict`` restores them.

``threshold_set`` is the sidebar's threshold-set selector key (``ui.bundle``). The cohort
page never writes it (the selector is already drawn when the page runs); the sidebar adopts
``open_case_thresholds`` instead, and the cohort page starts its sliders from the set the
sidebar shows.
"""

#: Session-state keys the cohort page sets before switching to the case page.
OPEN_CASE_DIR = "open_case_dir"
OPEN_CASE_INDEX = "open_case_index"
OPEN_CASE_ID = "open_case_id"
OPEN_CASE_FOCUS = "open_case_focus"
OPEN_CASE_THRESHOLDS = "open_case_thresholds"
THRESHOLD_SET = "threshold_set"

__all__ = [
    "OPEN_CASE_DIR",
    "OPEN_CASE_INDEX",
    "OPEN_CASE_ID",
    "OPEN_CASE_FOCUS",
    "OPEN_CASE_THRESHOLDS",
    "THRESHOLD_SET",
]
