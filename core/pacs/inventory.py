"""What a study holds, from its WADO-RS metadata, checked against the limits before any
pixel is downloaded.

Each instance's declared geometry (rows, columns, frames, samples, bits) goes through the
intake's own guard (:func:`core.intake.guards.check_geometry`), so an instance the app
would not decode is never fetched and gets its reason; the study as a whole must fit
:data:`MAX_STUDY_INSTANCES` and :data:`MAX_STUDY_BYTES`, or it is refused with both numbers.
Only technical and positioning attributes are kept: the metadata's patient module is read
by nobody here and dropped with the JSON.

Results this app stored in the study earlier (its SR and its heatmap captures: our
``Manufacturer`` on one of the SOP classes :mod:`core.pacs.sr` and :mod:`core.pacs.capture`
write) are set apart as :attr:`StudyInventory.earlier`: never retrieved, never counted
against the limits, and shown as earlier results rather than as images left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage
from pydicom.valuerep import TM

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
    "earlier_result",
    "max_study_bytes",
    "study_inventory",
]

log = logging.getLogger(__name__)

#: Image instances one study may hold. A DSA exam is typically 10-40 runs; a chest study 1-3
#: films. Read at call time, so tests can lower it.
MAX_STUDY_INSTANCES = 256
_MIB = 2**20
#: The SOP classes of this app's results: the SR (:mod:`core.pacs.sr`) and the heatmap
#: captures (:mod:`core.pacs.capture`), in the words the inventory shows.
_OURS = {
    ComprehensiveSRStorage: "AI findings (SR)",
    SecondaryCaptureImageStorage: "heatmap capture",
}


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
    #: Seconds into the day (AcquisitionTime, else ContentTime) and ImagePositionPatient:
    #: the order of a run stored as single-frame images, after InstanceNumber.
    acquisition_time: float | None = None
    position: tuple[float, ...] | None = None

    @property
    def order(self) -> tuple[object, ...]:
        """Where it falls in its series' run: InstanceNumber, then acquisition time, then
        position (an instance without one of them sorts after those with it)."""
        return (
            self.instance_number is None, self.instance_number or 0,
            self.acquisition_time is None, self.acquisition_time or 0.0,
            self.position is None, self.position or (),
        )  # fmt: skip

    @property
    def label(self) -> str:
        """How messages name it: series and instance numbers, never a UID or a name."""
        s = "?" if self.series_number is None else self.series_number
        i = "?" if self.instance_number is None else self.instance_number
        return f"series {s} image {i}"


@dataclass
class StudyInventory:
    """A study's usable image instances, every other instance with its reason, and this
    app's earlier results (label, what it is), which are not retrieved."""

    study_uid: str
    instances: list[Instance]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    earlier: list[tuple[str, str]] = field(default_factory=list)  # (label, what)

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


def _seconds(value: Any) -> float | None:
    """A DICOM TM (``HHMMSS.FFFFFF``, or shorter) as seconds into the day; None when absent
    or not a time."""
    try:
        t = TM(str(value).strip()) if value else None
    except ValueError:
        return None
    return None if t is None else t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _position(value: Any) -> tuple[float, ...] | None:
    try:
        return tuple(float(v) for v in value) if value else None
    except (TypeError, ValueError):
        return None


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
        acquisition_time=_seconds(ds.get("AcquisitionTime") or ds.get("ContentTime")),
        position=_position(ds.get("ImagePositionPatient")),
    )  # fmt: skip


def earlier_result(ds: Dataset) -> str | None:
    """What this app's own result instance is (``"AI findings (SR)"``, ``"heatmap
    capture"``), or None for anything else: our ``Manufacturer`` on a SOP class we write."""
    from core.pacs.sr import MANUFACTURER  # highdicom loads with the results, not before

    if str(ds.get("Manufacturer") or "") != MANUFACTURER:
        return None
    return _OURS.get(str(ds.get("SOPClassUID") or ""))


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
        if what := earlier_result(ds):
            inv.earlier.append((inst.label, what))
            continue
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
    log.info("%s: study inventory %d images (%.1f MiB), %d skipped, %d earlier results",
             endpoint.name, n, total / _MIB, len(inv.skipped), len(inv.earlier))  # fmt: skip
    return inv
