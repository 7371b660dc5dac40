"""Work from a hospital PACS over DICOMweb: query, retrieve, map, run, and send results back.

The steps, each with its own module and exceptions (:mod:`core.pacs.errors`):

* :func:`load_config` / :func:`resolve_endpoint`: the configured endpoints (``pacs.toml``);
* :func:`query`: QIDO-RS worklist rows (no patient identifier unless configured);
* :func:`study_inventory` then :func:`retrieve`: WADO-RS, checked against the limits first,
  streamed to a private folder under the data root;
* :func:`map_views` then :func:`build_case`: series to the study's views with reasons,
  through the guarded intake; ``review.review_study`` runs the whole path and the bundle;
* ``results.build_results`` (SR TID 1500 + stamped heatmap captures), ``send.send_results``
  (STOW-RS, to the source PACS only) and ``sr_check.check_sr`` on the SR read back.

Never imports Streamlit; the heavy pieces (torch, highdicom) load with the modules that
need them.
"""

from core.pacs.config import Endpoint, PacsConfig, load_config, resolve_endpoint
from core.pacs.errors import (
    PacsAuthError,
    PacsConfigError,
    PacsError,
    PacsServerError,
    PacsUnreachable,
    SendError,
    StudyNotFound,
    StudyTooLarge,
    UnmappableStudy,
)
from core.pacs.inventory import StudyInventory, study_inventory
from core.pacs.mapping import ViewMapping, build_case, map_views
from core.pacs.query import StudyRow, query
from core.pacs.retrieve import RetrievedStudy, retrieve

__all__ = [
    "Endpoint",
    "PacsAuthError",
    "PacsConfig",
    "PacsConfigError",
    "PacsError",
    "PacsServerError",
    "PacsUnreachable",
    "RetrievedStudy",
    "SendError",
    "StudyInventory",
    "StudyNotFound",
    "StudyRow",
    "StudyTooLarge",
    "UnmappableStudy",
    "ViewMapping",
    "build_case",
    "load_config",
    "map_views",
    "query",
    "resolve_endpoint",
    "retrieve",
    "study_inventory",
]
