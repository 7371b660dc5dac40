"""The results as a DICOM Comprehensive SR (TID 1500 measurement report), via highdicom.

One measurement group per finding, in the result's order:

* finding type: the label; algorithm: the bundle's name, version its ``bundle.json``
  SHA-256 (the bundle identity, exactly as the app's exports give it); the device observer
  is the bundle too;
* measurements ``Model probability`` and ``Decision threshold`` (UCUM ``1``), qualitative
  evaluation ``Model decision`` (SNOMED Present / Absent);
* a reviewer's verdict on that finding, when one is given: agree / disagree and, when the
  reviewer corrected it, the corrected decision. The reviewer's name and comment are not
  written: the SR carries nothing typed in the app;
* where: a box (chest) is a closed POLYLINE SCOORD on its source film (TID 1410); a finding
  without a box references the source images it was scored on (TID 1501).

The patient and study modules are the source images' own (highdicom copies them from the
evidence), because that is what files the SR in the same study; nothing else of the
sources is copied. The SR goes back only to the PACS the study came from
(:mod:`core.pacs.send`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from core.findings import Finding, FindingBox
from core.pacs import codes
from core.studies import get_study

__all__ = [
    "MANUFACTURER", "SR_SERIES_NUMBER", "VerdictLike", "build_sr", "finding_groups", "rectangle",
    "same_box", "header",
]  # fmt: skip

#: Written as the Manufacturer of the SR and the captures.
MANUFACTURER = "Medical imaging review app (research use)"
#: Series numbers of the results: high, so they sort after the acquisition series.
SR_SERIES_NUMBER = 9901
_BOX_TOL = 0.5  # pixels: a verdict's box is the finding's box when within this


class VerdictLike(Protocol):
    """What the SR reads of a verdict (:class:`core.verdicts.records.VerdictIn` has it)."""

    finding: str
    box: FindingBox | None
    agree: bool
    corrected_label: int | None


def header(path: object) -> Dataset:
    """A retrieved instance's header (no pixels)."""
    return pydicom.dcmread(path, stop_before_pixels=True)


def same_box(a: FindingBox | None, b: FindingBox | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(abs(x - y) <= _BOX_TOL for x, y in zip(a, b, strict=True))


def _verdict_items(
    f: Finding, verdicts: Sequence[VerdictLike]
) -> list[hd.sr.QualitativeEvaluation]:
    mine = [v for v in verdicts if v.finding == f.label and same_box(v.box, f.box)]
    if not mine:
        return []
    v = mine[-1]  # the latest verdict on this finding
    out = [hd.sr.QualitativeEvaluation(codes.VERDICT, codes.AGREE if v.agree else codes.DISAGREE)]
    if v.corrected_label is not None:
        value = codes.PRESENT if v.corrected_label else codes.ABSENT
        out.append(hd.sr.QualitativeEvaluation(codes.CORRECTED, value))
    return out


def rectangle(box: FindingBox) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float32)


def finding_groups(
    findings: Sequence[Finding],
    sources: Mapping[str, Dataset],
    algorithm: hd.sr.AlgorithmIdentification,
    verdicts: Sequence[VerdictLike] = (),
) -> list[object]:
    """One TID 1410 (boxed) or TID 1501 group per finding."""
    groups: list[object] = []
    for n, f in enumerate(findings, start=1):
        decision = codes.PRESENT if f.decision else codes.ABSENT
        tracking = hd.sr.TrackingIdentifier(generate_uid(), f"finding {n}: {f.label}"[:64])
        common: dict[str, Any] = {
            "tracking_identifier": tracking,
            "finding_type": codes.finding_code(f.label),
            "algorithm_id": algorithm,
            "measurements": [
                hd.sr.Measurement(codes.PROBABILITY, float(f.score), codes.NO_UNITS),
                hd.sr.Measurement(codes.THRESHOLD, float(f.threshold), codes.NO_UNITS),
            ],
            "qualitative_evaluations": [
                hd.sr.QualitativeEvaluation(codes.DECISION, decision),
                *_verdict_items(f, verdicts),
            ],
        }
        used = [sources[v] for v in f.sources if v in sources] or list(sources.values())
        if f.box is not None:
            region = hd.sr.ImageRegion(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=rectangle(f.box),
                source_image=hd.sr.SourceImageForRegion.from_source_image(used[0]),
            )
            groups.append(
                hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                    referenced_region=region, **common
                )
            )
        else:
            images = [hd.sr.SourceImageForMeasurementGroup.from_source_image(ds) for ds in used]
            groups.append(
                hd.sr.MeasurementsAndQualitativeEvaluations(source_images=images, **common)
            )
    return groups


def _procedure(study: str) -> hd.sr.CodedConcept:
    """The study's "procedure reported" code (its ``PacsHooks.procedure``)."""
    hooks = get_study(study).pacs
    if hooks is None:
        raise ValueError(f"the {study} study is not read from a PACS, so it has no SR")
    return hd.sr.CodedConcept(*hooks.procedure)


def build_sr(
    study: str,
    bundle_name: str,
    bundle_sha256: str,
    findings: Sequence[Finding],
    sources: Mapping[str, Dataset],
    verdicts: Sequence[VerdictLike] = (),
    evidence: Sequence[Dataset] | None = None,
) -> hd.sr.ComprehensiveSR:
    """The SR of one reviewed study; ``sources`` maps each view to its source header, and
    ``evidence`` lists every image the views were made from (a run stored as single-frame
    images is all of them), by default the sources."""
    if not sources:
        raise ValueError("an SR needs the source images it reports on")
    algorithm = hd.sr.AlgorithmIdentification(name=bundle_name[:64], version=bundle_sha256)
    observer = hd.sr.ObserverContext(
        observer_type=pydicom.sr.codedict.codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=[bundle_sha256]), name=bundle_name[:64],
            manufacturer_name=MANUFACTURER,
        ),
    )  # fmt: skip
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=_procedure(study),
        imaging_measurements=finding_groups(findings, sources, algorithm, verdicts),  # type: ignore[arg-type]
    )
    evidence = list(sources.values()) if evidence is None else list(evidence)
    uid_seed = hashlib.sha256(
        "".join(str(ds.SOPInstanceUID) for ds in evidence).encode()
    ).hexdigest()
    return hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=report,
        series_instance_uid=generate_uid(entropy_srcs=[uid_seed, bundle_sha256, "sr-series"]),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description="AI findings - NOT FOR DIAGNOSTIC USE",
    )
