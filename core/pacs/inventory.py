"""What a study holds, from its WADO-RS metadata, checked against the limits before any
pixel is downloaded.

Each instance's declared geometry (rows, columns, frames, samples, bits) goes through the
intake's own guard (:func:`core.intake.guards.check_geometry`), so an instance the app
would not decode is never fetched and gets its reason; the study as a whole must fit
:data:`MAX_STUDY_INSTANCES` and :data:`MAX_STUDY_BYTES`, or it is refused with both numbers.
Only technical and positioning attributes are kept: the metadata's patient module is read
by nobody here and dropped with the JSON.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from core import limits
from core.intake.errors import IntakeError
from core.intake.guards import Geometry, check_geometry
from core.pacs.client import calling, make_client
from core.pacs.config import Endpoint
from core.pacs.errors import StudyNotFound, StudyTooLarge

__all__ = [
    "MAX_STUDY_INSTANCES",
    "Instance",
    "StudyInventory",
    "max_study_bytes",
    "study_inventory",
]

log = logging.getLogger(__name__)

#: Image instances one study may hold. A DSA exam is typically 10-40 runs; a chest study 1-3
#: films. Read at call time, so tests can lower it.
MAX_STUDY_INSTANCES = 256
_MIB = 2**20


def max_study_bytes() -> int:
    """Declared pixel bytes one study may hold: an uploaded study's cap
    (:data:`core.limits.MAX_ZIP_UNCOMPRESSED`), so a PACS study is held to the same size."""
    return limits.MAX_ZIP_UNCOMPRESSED


@dataclass(frozen=True)
class Instance:
    """One image instance's identity, geometry and the attributes the view mapping reads."""

    series_uid: str
    sop_uid: str
    sop_class: str
    modality: str
    series_number: int | None
    instance_number: int | None
    geometry: Geometry
    series_description: str = ""
    laterality: str = ""
    view_position: str = ""
    primary_angle: float | None = None
    secondary_angle: float | None = None

    @property
    def label(self) -> str:
        """How messages name it: series and instance numbers, never a UID or a name."""
        s = "?" if self.series_number is None else self.series_number
        i = "?" if self.instance_number is None else self.instance_number
        return f"series {s} image {i}"


@dataclass
class StudyInventory:
    """A study's usable image instances and every other instance with its reason."""

    study_uid: str
    instances: list[Instance]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)

    @property
    def declared_bytes(self) -> int:
        return sum(i.geometry.nbytes for i in self.instances)


def _num(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    n = _num(value)
    return None if n is None else int(n)


def _dataset(item: dict[str, Any]) -> Dataset:
    """The metadata item without its bulk data references (pixels, overlays, ...)."""
    kept = {tag: v for tag, v in item.items() if "BulkDataURI" not in v and "InlineBinary" not in v}
    return Dataset.from_json(kept)


def _instance(ds: Dataset) -> Instance:
    geo = Geometry(
        width=_int(ds.get("Columns")) or 0,
        height=_int(ds.get("Rows")) or 0,
        frames=_int(ds.get("NumberOfFrames")) or 1,
        samples=_int(ds.get("SamplesPerPixel")) or 1,
        bits=_int(ds.get("BitsAllocated")) or 8,
    )
    side = str(ds.get("Laterality") or ds.get("ImageLaterality") or "").upper()
    return Instance(
        series_uid=str(ds.SeriesInstanceUID), sop_uid=str(ds.SOPInstanceUID),
        sop_class=str(ds.get("SOPClassUID") or ""), modality=str(ds.get("Modality") or ""),
        series_number=_int(ds.get("SeriesNumber")), instance_number=_int(ds.get("InstanceNumber")),
        geometry=geo, series_description=str(ds.get("SeriesDescription") or ""),
        laterality=side, view_position=str(ds.get("ViewPosition") or "").upper(),
        primary_angle=_num(ds.get("PositionerPrimaryAngle")),
        secondary_angle=_num(ds.get("PositionerSecondaryAngle")),
    )  # fmt: skip


def study_inventory(endpoint: Endpoint, study_uid: str, study: str | None = None) -> StudyInventory:
    """The study's image instances, each within the decode limits (with ``study``'s per-view
    cap when given); raises :class:`StudyTooLarge` when the study as a whole is over the
    limits, :class:`StudyNotFound` when the server has no such study."""
    client = make_client(endpoint)
    with calling(endpoint, "reading the study's metadata"):
        items = client.retrieve_study_metadata(study_uid)
    if not items:
        raise StudyNotFound(f"{endpoint.shown}: the study has no instances")
    inv = StudyInventory(study_uid, [])
    for ds in map(_dataset, items):
        inst = _instance(ds)
        if "Rows" not in ds:
            inv.skipped.append((inst.label, f"not an image ({inst.modality or 'no modality'})"))
            continue
        try:
            check_geometry(inst.label, inst.geometry, study)
        except IntakeError as err:
            inv.skipped.append((inst.label, err.reason))
            continue
        inv.instances.append(inst)
    n, total = len(inv.instances), inv.declared_bytes
    if n > MAX_STUDY_INSTANCES or total > max_study_bytes():
        raise StudyTooLarge(
            f"{endpoint.shown}: the study holds {n} images, {total / _MIB:,.0f} MiB of pixels; "
            f"at most {MAX_STUDY_INSTANCES} images and {max_study_bytes() / _MIB:,.0f} MiB "
            "are retrieved. Nothing was downloaded; ask for the series you need to be sent "
            "as a smaller study, or the administrator to raise the limit."
        )
    log.info("%s: study inventory %d images (%.1f MiB), %d skipped",
             endpoint.name, n, total / _MIB, len(inv.skipped))  # fmt: skip
    return inv
