"""Uploaded files -> :class:`Case`: views from names, decoding, and every problem reported.

Rules, in order, for each ``(name, bytes)``:

1. The name is cut to its base name (a client path is never trusted).
2. The view is ``overrides[base name]`` when given (the UI's fix for a misnamed file),
   else what :func:`core.intake.naming.parse_name` reads; an unreadable or ambiguous name,
   or an override that is not a view, is reported and the file skipped.
3. The first file that *decodes* for a view wins; later files for that view are reported as
   duplicates and not decoded. A file that fails to decode is reported and does not claim
   its view, so a later good copy still loads.
4. Every view left without an image is reported as missing; the case expects the eight
   DSA views (``Case.expected_views = core.schema.VIEWS``).
5. Names that carry different K-Ium indices (``12LI-A.jpg`` with ``13LV-A.jpg``) are
   reported, since one case must never mix two patients.

Each file is decoded with the aneurysm study's per-view pixel cap
(``core.limits.STUDY_MAX_PIXELS["aneurysm"]``), checked from the header, so an oversized
view never reaches preprocessing. Nothing raises for bad input: the case carries the
problems and the views that loaded; names in messages go through ``short_name``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from core.case import Case, IntakeProblem, ViewImage
from core.intake.decode import decode_image
from core.intake.errors import IntakeError, record
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.intake.naming import parse_name, parse_view, safe_basename, short_name
from core.schema import VIEWS, view_info

__all__ = ["case_from_files"]

log = logging.getLogger(__name__)
#: The study whose per-view cap this intake applies (a key of ``STUDY_MAX_PIXELS``).
STUDY = "aneurysm"
_EXAMPLE = "e.g. 1428LI-A.jpg, LI-A.png or case7_RV-B.dcm"


def _resolve_view(
    base: str, overrides: Mapping[str, str], problems: list[IntakeProblem]
) -> str | None:
    shown = short_name(base)
    if base in overrides:
        view = parse_view(overrides[base])
        if view is None:
            chosen = short_name(overrides[base])
            msg = f"{shown}: the chosen view {chosen!r} is not one of {', '.join(VIEWS)}"
            record(problems, IntakeProblem(base, "unrecognised_name", msg))
        return view
    parsed = parse_name(base)
    if parsed.view is None:
        if parsed.ambiguous:
            msg = (f"{shown}: the name matches several views ({', '.join(parsed.candidates)}); "
                   "rename the file or choose its view")  # fmt: skip
        else:
            msg = f"{shown}: no view in the file name ({_EXAMPLE}); rename the file or choose its view"
        record(problems, IntakeProblem(base, "unrecognised_name", msg))
    return parsed.view


def case_from_files(
    files: Sequence[tuple[str, bytes]],
    case_id: str | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    frame_rule: FrameRule = DEFAULT_FRAME_RULE,
) -> Case:
    """Build a case from uploaded ``(file name, bytes)`` pairs; see the module rules.

    ``case_id`` defaults to the K-Ium index when every named file agrees on one
    (``0012LI-A.jpg`` -> ``"12"``), else ``upload-`` plus the start of the content hash.
    ``overrides`` maps a base file name to a view (``{"scan3.png": "LV-B"}``).
    """
    fixes = {safe_basename(k): v for k, v in (overrides or {}).items()}
    problems: list[IntakeProblem] = []
    views: dict[str, ViewImage] = {}
    indices: set[int] = set()
    for raw_name, data in files:
        base = safe_basename(raw_name)
        view = _resolve_view(base, fixes, problems)
        if view is None:
            continue
        if view in views:
            used = short_name(views[view].source.name)
            msg = (f"{short_name(base)}: a second file for {view} ({used} is used); "
                   "this one was ignored")  # fmt: skip
            record(problems, IntakeProblem(base, "duplicate", msg))
            continue
        try:
            pixels, info = decode_image(base, data, frame_rule, study=STUDY)
        except IntakeError as err:
            record(problems, err.problem())
            continue
        views[view] = ViewImage(view, pixels, info)
        if (index := parse_name(base).index) is not None:
            indices.add(index)
    case = Case(case_id="", views=views, problems=problems, expected_views=VIEWS)
    for v in case.missing_views:
        msg = f"{v} ({view_info(v).label}): no usable file for this view"
        record(problems, IntakeProblem("", "missing", msg))
    if len(indices) > 1:
        shown = ", ".join(map(str, sorted(indices)))
        msg = (f"the file names carry different patient indices ({shown}); "
               "check that every file belongs to one patient")  # fmt: skip
        record(problems, IntakeProblem("", "unrecognised_name", msg))
    if case_id:
        case.case_id = case_id
    elif len(indices) == 1:
        case.case_id = str(indices.pop())
    else:
        case.case_id = f"upload-{case.content_hash()[:10]}"
    log.info("case %s: %d views loaded, %d problems", case.case_id, len(views), len(problems))
    return case
