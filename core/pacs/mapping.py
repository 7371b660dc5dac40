"""Series of a PACS study -> the views a study's case takes, with a reason for every image.

``map_views(inventory, study)`` returns a :class:`ViewMapping`: which instance fills each
view and why, and every other image with the reason it was not used, so a page can show
the mapping and let the reader correct it (``overrides``: series UID -> view, or ``""`` to
leave a series out). Then :func:`build_case` hands the chosen files to the study's own
guarded intake, which decodes them under the limits (and, for a multi-frame DSA run, the
frame rule) exactly as an upload.

* ``aneurysm``: each XA/XRF series is one run; its multi-frame instance (the one with the
  most frames) is the run, and :mod:`core.pacs.dsa_rules` says its view. A second series
  for a view already taken is left out, named.
* ``chest``: one CR/DX film; a PA/AP one is preferred; any other films are left out, named.

A study in which nothing maps raises :class:`~core.pacs.errors.UnmappableStudy`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.case import Case
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.pacs.dsa_rules import infer_view
from core.pacs.errors import PacsError, UnmappableStudy
from core.pacs.inventory import Instance, StudyInventory
from core.pacs.retrieve import RetrievedStudy

__all__ = ["Assignment", "ViewMapping", "build_case", "map_views"]

log = logging.getLogger(__name__)

_DSA_MODALITIES = {"XA", "XRF", "RF"}
_FILM_MODALITIES = {"CR", "DX"}
#: The chest study's one view (``core.studies.chest.film.VIEW``; not imported: no torch here).
CHEST_VIEW = "image"


@dataclass(frozen=True)
class Assignment:
    """One view and the instance that fills it, with the reason in words."""

    view: str
    instance: Instance
    reason: str


@dataclass
class ViewMapping:
    """The mapping of one study: views filled, images left out (label, series UID, reason)."""

    study: str
    views: dict[str, Assignment] = field(default_factory=dict)
    unmapped: list[tuple[str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """For the CLI and a page: labels and reasons, series UIDs for corrections."""
        return {
            "views": {
                v: {
                    "image": a.instance.label,
                    "series_uid": a.instance.series_uid,
                    "reason": a.reason,
                }
                for v, a in self.views.items()
            },
            "unmapped": [
                {"image": lbl, "series_uid": s, "reason": r} for lbl, s, r in self.unmapped
            ],
        }


def _runs(inventory: StudyInventory, mapping: ViewMapping) -> list[Instance]:
    """One instance per series (the one with the most frames); the rest left out."""
    by_series: dict[str, list[Instance]] = {}
    for inst in inventory.instances:
        by_series.setdefault(inst.series_uid, []).append(inst)
    runs = []
    for items in by_series.values():
        items.sort(key=lambda i: (-i.geometry.frames, i.instance_number or 0))
        runs.append(items[0])
        for other in items[1:]:
            why = f"{items[0].label} is this series' run ({items[0].geometry.frames} frames)"
            mapping.unmapped.append((other.label, other.series_uid, why))
    return sorted(runs, key=lambda i: (i.series_number or 0, i.instance_number or 0))


def _map_dsa(inventory: StudyInventory, mapping: ViewMapping, overrides: Mapping[str, str]) -> None:
    from core.schema import VIEWS

    for inst in _runs(inventory, mapping):
        if inst.series_uid in overrides:
            view, reason = overrides[inst.series_uid] or None, "chosen by the reader"
            if view is not None and view not in VIEWS:
                raise PacsError(f"{view!r} is not a view; use one of {', '.join(VIEWS)}")
        elif inst.modality not in _DSA_MODALITIES:
            view, reason = None, f"not an angiography series ({inst.modality or 'no modality'})"
        else:
            view, reason = infer_view(inst)
        if view is None:
            mapping.unmapped.append((inst.label, inst.series_uid, reason))
        elif view in mapping.views:
            taken = mapping.views[view].instance.label
            mapping.unmapped.append((inst.label, inst.series_uid, f"also {view}, taken by {taken}"))
        else:
            mapping.views[view] = Assignment(view, inst, reason)


def _map_chest(
    inventory: StudyInventory, mapping: ViewMapping, overrides: Mapping[str, str]
) -> None:
    chosen = [i for i in inventory.instances if overrides.get(i.series_uid) == CHEST_VIEW]
    usable = [i for i in inventory.instances if overrides.get(i.series_uid) != ""]
    films = chosen or [i for i in usable if i.modality in _FILM_MODALITIES]
    films.sort(key=lambda i: (i.view_position not in ("PA", "AP"), i.series_number or 0))
    for inst in inventory.instances:
        if films and inst is films[0]:
            why = "chosen by the reader" if chosen else f"{inst.modality} film"
            pos = f", {inst.view_position}" if inst.view_position and not chosen else ""
            mapping.views[CHEST_VIEW] = Assignment(CHEST_VIEW, inst, why + pos)
        elif inst in films:
            mapping.unmapped.append(
                (inst.label, inst.series_uid, f"a second film ({films[0].label} is used)")
            )
        else:
            why = f"not a CR/DX film ({inst.modality or 'no modality'})"
            mapping.unmapped.append((inst.label, inst.series_uid, why))


def map_views(
    inventory: StudyInventory, study: str, overrides: Mapping[str, str] | None = None
) -> ViewMapping:
    """The views of ``study`` ("aneurysm" or "chest") filled from ``inventory``; raises
    :class:`UnmappableStudy` when none is, naming each image's reason."""
    mapping = ViewMapping(study)
    for label, reason in inventory.skipped:
        mapping.unmapped.append((label, "", reason))
    if study == "aneurysm":
        _map_dsa(inventory, mapping, overrides or {})
    elif study == "chest":
        _map_chest(inventory, mapping, overrides or {})
    else:
        raise PacsError(f"the {study} study cannot be reviewed from a PACS yet")
    if not mapping.views:
        why = "; ".join(f"{lbl}: {r}" for lbl, _, r in mapping.unmapped[:8]) or "no images"
        raise UnmappableStudy(
            f"no series of this study maps to a view of the {study} study ({why})"
        )
    log.info(
        "%s mapping: %d views, %d images left out", study, len(mapping.views), len(mapping.unmapped)
    )
    return mapping


def build_case(
    mapping: ViewMapping, files: RetrievedStudy, *, frame_rule: FrameRule = DEFAULT_FRAME_RULE
) -> Case:
    """The study's :class:`Case` from the mapped files, through its guarded intake.

    File names are the view names (``LI-A.dcm``), the case id a digest of the study's
    files (``pacs-<10 hex>``): neither carries an identifier.
    """
    named = [(f"{v}.dcm", files.read(a.instance)) for v, a in mapping.views.items()]
    digest = hashlib.sha256(
        b"".join(sorted(a.instance.sop_uid.encode() for a in mapping.views.values()))
    )
    case_id = f"pacs-{digest.hexdigest()[:10]}"
    if mapping.study == "chest":
        from core.studies.chest.film import chest_case

        return chest_case(named, case_id)
    from core.intake.assemble import case_from_files

    return case_from_files(named, case_id, frame_rule=frame_rule)
