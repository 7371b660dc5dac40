"""Series of a PACS study -> the views a study's case takes, with a reason for every image.

``map_views(inventory, study)`` returns a :class:`ViewMapping`: which image (or run of
images) fills each view and why, every other image with the reason it was not used, and
this app's earlier results in the study (never retrieved, not problems), so a page can show
the mapping and let the reader correct it (``overrides``: series UID -> view, or ``""`` to
leave a series out). Then :func:`build_case` hands the chosen files to the study's own
guarded intake, which decodes them under the limits (and, for a DSA run, the frame rule)
exactly as an upload.

Nothing here knows a study by name: the registry's :class:`~core.studies.study.PacsHooks`
say which modalities the study reads, whether a series is one run, which view each run is
(the study's view rule, e.g. :mod:`core.pacs.dsa_rules`, :mod:`core.pacs.film_rules`) and
how its case is built. In order:

1. The reader's choices first (a view, or ``""``: left out).
2. Images of another modality are left out, named.
3. The study's rule says the view of the rest, in its order of preference; a view already
   taken leaves the later run out, naming the one that has it.

With ``series_runs`` a series is one run: its multi-frame image with the most frames (the
other images of the series left out), or, when it holds only single-frame images, all of
them stacked as frames in InstanceNumber order (:mod:`core.pacs.stack`), so the frame rule
sees a run stored as separate images exactly as it sees a multi-frame one.

A study in which nothing maps raises :class:`~core.pacs.errors.UnmappableStudy`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.case import Case, IntakeProblem
from core.intake.errors import IntakeError, record
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.pacs.errors import PacsError, UnmappableStudy
from core.pacs.inventory import Instance, StudyInventory
from core.pacs.retrieve import RetrievedStudy
from core.pacs.stack import stack_run
from core.studies import get_study
from core.studies.study import PacsHooks, Study

__all__ = ["Assignment", "ViewMapping", "build_case", "map_views", "series_runs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assignment:
    """One view and the image that fills it, with the reason in words; ``run`` holds every
    image of a run stored as single-frame images, in frame order (``instance`` is its first)."""

    view: str
    instance: Instance
    reason: str
    run: tuple[Instance, ...] = ()

    @property
    def instances(self) -> tuple[Instance, ...]:
        """The images whose frames make the view (one, or a stacked run)."""
        return self.run or (self.instance,)

    @property
    def label(self) -> str:
        return run_label(self.instances)


@dataclass
class ViewMapping:
    """The mapping of one study: views filled, images left out (label, series UID, reason),
    and this app's earlier results in the study (label, what), which were not retrieved."""

    study: str
    views: dict[str, Assignment] = field(default_factory=dict)
    unmapped: list[tuple[str, str, str]] = field(default_factory=list)
    earlier: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """For the CLI and a page: labels and reasons, series UIDs for corrections."""
        return {
            "views": {
                v: {"image": a.label, "series_uid": a.instance.series_uid, "reason": a.reason}
                for v, a in self.views.items()
            },
            "unmapped": [
                {"image": lbl, "series_uid": s, "reason": r} for lbl, s, r in self.unmapped
            ],
            "earlier_results": [{"image": lbl, "what": what} for lbl, what in self.earlier],
        }


def run_label(images: tuple[Instance, ...]) -> str:
    """``series 3 image 1``, or ``series 3 images 1-12`` for a stacked run."""
    if len(images) == 1:
        return images[0].label
    first, last, series = (
        "?" if n is None else n
        for n in (images[0].instance_number, images[-1].instance_number, images[0].series_number)
    )
    return f"series {series} images {first}-{last}"


def _hooks(study: str) -> tuple[Study, PacsHooks]:
    found = get_study(study)
    if found.pacs is None:
        raise PacsError(f"the {study} study cannot be reviewed from a PACS yet")
    return found, found.pacs


def series_runs(
    images: Iterable[Instance], unmapped: list[tuple[str, str, str]]
) -> list[tuple[Instance, ...]]:
    """One run per series, in series order; every image not in a run goes to ``unmapped``.

    A series with a multi-frame image is that image (the most frames); a series of
    single-frame images is all of them that share the first's size, in frame order.
    """
    by_series: dict[str, list[Instance]] = {}
    for inst in images:
        by_series.setdefault(inst.series_uid, []).append(inst)
    runs = []
    for items in by_series.values():
        items.sort(key=lambda i: i.order)
        longest = max(items, key=lambda i: i.geometry.frames)  # the first of equals
        if longest.geometry.frames > 1:
            run = (longest,)
            why = f"{longest.label} is this series' run ({longest.geometry.frames} frames)"
        else:
            size = items[0].geometry
            run = tuple(i for i in items if i.geometry == size)
            why = f"a different size from this series' run ({run_label(run)})"
        runs.append(run)
        unmapped.extend((i.label, i.series_uid, why) for i in items if i not in run)
    return sorted(runs, key=lambda r: (r[0].series_number or 0, r[0].order))


def _assign(mapping: ViewMapping, view: str, run: tuple[Instance, ...], reason: str) -> None:
    if view in mapping.views:
        taken = mapping.views[view].label
        mapping.unmapped.append(
            (run_label(run), run[0].series_uid, f"also {view}, taken by {taken}")
        )
        return
    if len(run) > 1:
        reason += f"; {len(run)} single-frame images stacked as a run"
    mapping.views[view] = Assignment(view, run[0], reason, run if len(run) > 1 else ())


def map_views(
    inventory: StudyInventory, study: str, overrides: Mapping[str, str] | None = None
) -> ViewMapping:
    """The views of ``study`` filled from ``inventory``; raises :class:`UnmappableStudy`
    when none is, naming each image's reason."""
    declared, hooks = _hooks(study)
    overrides = overrides or {}
    views = declared.schema.views
    mapping = ViewMapping(study, earlier=list(inventory.earlier))
    mapping.unmapped.extend((label, "", reason) for label, reason in inventory.skipped)
    if hooks.series_runs:
        runs = series_runs(inventory.instances, mapping.unmapped)
    else:
        runs = [(i,) for i in inventory.instances]
    pending: dict[str, tuple[Instance, ...]] = {}
    for run in runs:
        first = run[0]
        choice = overrides.get(first.series_uid)
        if choice == "":
            mapping.unmapped.append((run_label(run), first.series_uid, "left out by the reader"))
        elif choice is not None:
            if choice not in views:
                raise PacsError(f"{choice!r} is not a view; use one of {', '.join(views)}")
            _assign(mapping, choice, run, "chosen by the reader")
        elif first.modality not in hooks.modalities:
            why = (f"{first.modality or 'no modality'} is not read by the {study} study "
                   f"({', '.join(hooks.modalities)})")  # fmt: skip
            mapping.unmapped.append((run_label(run), first.series_uid, why))
        else:
            pending[first.sop_uid] = run
    for first, view, reason in hooks.views([r[0] for r in pending.values()]):
        run = pending[first.sop_uid]
        if view is None:
            mapping.unmapped.append((run_label(run), first.series_uid, reason))
        elif view not in views:
            raise PacsError(f"the {study} study's view rule gave {view!r}, not one of its views")
        else:
            _assign(mapping, view, run, reason)
    if not mapping.views:
        why = "; ".join(f"{lbl}: {r}" for lbl, _, r in mapping.unmapped[:8]) or "no images"
        raise UnmappableStudy(
            f"no series of this study maps to a view of the {study} study ({why})"
        )
    log.info("%s mapping: %d views, %d images left out, %d earlier results",
             study, len(mapping.views), len(mapping.unmapped), len(mapping.earlier))  # fmt: skip
    return mapping


def build_case(
    mapping: ViewMapping, files: RetrievedStudy, *, frame_rule: FrameRule = DEFAULT_FRAME_RULE
) -> Case:
    """The study's :class:`Case` from the mapped files, through its guarded intake.

    A stacked run becomes one multi-frame file first; one that cannot be stacked (too
    large, or images that differ) is reported in the case like any bad file. File names
    are the view names (``LI-A.dcm``), the case id a digest of the study's files
    (``pacs-<10 hex>``): neither carries an identifier.
    """
    _, hooks = _hooks(mapping.study)
    named: list[tuple[str, bytes]] = []
    problems: list[IntakeProblem] = []
    for view, a in mapping.views.items():
        name = f"{view}.dcm"
        if len(a.instances) == 1:
            named.append((name, files.read(a.instance)))
            continue
        try:
            named.append(
                (name, stack_run(name, [files.read(i) for i in a.instances], mapping.study))
            )
        except IntakeError as err:
            problems.append(err.problem())
    uids = sorted(i.sop_uid.encode() for a in mapping.views.values() for i in a.instances)
    case_id = f"pacs-{hashlib.sha256(b''.join(uids)).hexdigest()[:10]}"
    case = hooks.build_case(named, case_id, frame_rule)
    for problem in problems:
        record(case.problems, problem)
    return case
