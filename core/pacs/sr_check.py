"""Read a results SR back from the PACS and check every value against what was sent.

The SR is parsed by highdicom (``ComprehensiveSR.from_dataset``: a malformed TID 1500 tree
fails there), then compared with the findings, the bundle identity, the verdicts and the
source images it was built from: the patient and study modules equal the source's, one
measurement group per finding in order with its label, probability, threshold, decision,
verdict (and corrected decision) and algorithm, each box a closed rectangle on its source film, each box-free
finding referencing its source images, and the evidence listing every source. The result
is a list of differences in words: empty means the SR says exactly what the app said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as dcm_codes

from core.findings import Finding
from core.pacs import codes
from core.pacs.client import calling, make_client
from core.pacs.config import Endpoint
from core.pacs.sr import VerdictLike, rectangle, same_box

__all__ = ["PATIENT_STUDY_KEYWORDS", "check_sr", "read_back"]

#: The patient and study attributes the SR must carry exactly as the source has them.
PATIENT_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
    "StudyDate", "StudyTime", "AccessionNumber", "StudyID", "ReferringPhysicianName",
)  # fmt: skip
_TOL = 1e-6


def read_back(endpoint: Endpoint, study_uid: str, series_uid: str, sop_uid: str) -> Dataset:
    """The stored instance, as the server returns it."""
    client = make_client(endpoint)
    with calling(endpoint, "reading the stored results back"):
        return client.retrieve_instance(study_uid, series_uid, sop_uid)


#: A measurement group as highdicom reads it back.
Group = (
    hd.sr.MeasurementsAndQualitativeEvaluations
    | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
)


def _code(item: Any) -> str:
    return str(getattr(item, "value", ""))


def _coded(group: Group, name: hd.sr.CodedConcept) -> list[str]:
    """The code values of the group's qualitative evaluations named ``name``."""
    return [_code(q.value) for q in group.get_qualitative_evaluations(name=name)]


def _value_problems(where: str, group: Group, f: Finding, verdict: VerdictLike | None) -> list[str]:
    """Label, probability, threshold, decision and the verdict of one group."""
    p: list[str] = []
    if _code(group.finding_type) != f.label:
        p.append(f"{where}: finding type {_code(group.finding_type)!r}")
    for name, want in ((codes.PROBABILITY, f.score), (codes.THRESHOLD, f.threshold)):
        got = [float(m.value) for m in group.get_measurements(name=name)]
        if len(got) != 1 or abs(got[0] - float(want)) > _TOL:
            p.append(f"{where}: {name.meaning} {got} != [{want}]")
    decision = (codes.PRESENT if f.decision else codes.ABSENT).value
    if _coded(group, codes.DECISION) != [decision]:
        p.append(f"{where}: decision {_coded(group, codes.DECISION)} != [{decision!r}]")
    want_verdict, want_fix = [], []
    if verdict is not None:
        want_verdict = [(codes.AGREE if verdict.agree else codes.DISAGREE).value]
        if verdict.corrected_label is not None:
            want_fix = [(codes.PRESENT if verdict.corrected_label else codes.ABSENT).value]
    if _coded(group, codes.VERDICT) != want_verdict or _coded(group, codes.CORRECTED) != want_fix:
        p.append(f"{where}: verdict {_coded(group, codes.VERDICT)} != {want_verdict}, "
                 f"corrected {_coded(group, codes.CORRECTED)} != {want_fix}")  # fmt: skip
    return p


def _where_problems(where: str, group: Group, f: Finding, uids: set[str]) -> list[str]:
    """The box's region and source film, or the box-free finding's source images."""
    if f.box is None:
        refs = {str(s.referenced_sop_instance_uid) for s in group.source_images}
        ok = refs == uids
        return [] if ok else [f"{where}: references {len(refs)} images, not its {len(uids)}"]
    roi = group.roi  # type: ignore[union-attr]
    if roi is None:
        return [f"{where}: no region for its box"]
    p: list[str] = []
    if not np.allclose(np.asarray(roi.value, float), rectangle(f.box), atol=1e-3):
        p.append(f"{where}: region {np.asarray(roi.value).tolist()} != box {list(f.box)}")
    ref = roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    if str(ref) not in uids:
        p.append(f"{where}: the region is on an image that is not its source")
    return p


def _group_problems(
    n: int,
    group: Group,
    f: Finding,
    sources: Mapping[str, Dataset],
    bundle: tuple[str, str],
    verdicts: Sequence[VerdictLike],
) -> list[str]:
    where = f"finding {n} ({f.label})"
    mine = [v for v in verdicts if v.finding == f.label and same_box(v.box, f.box)]
    p = _value_problems(where, group, f, mine[-1] if mine else None)
    items = group[0].ContentSequence  # the group's container
    names = [str(i.value) for i in items.find(dcm_codes.DCM.AlgorithmName)]
    versions = [str(i.value) for i in items.find(dcm_codes.DCM.AlgorithmVersion)]
    if names != [bundle[0]] or versions != [bundle[1]]:
        p.append(f"{where}: algorithm {names} {versions} != bundle {list(bundle)}")
    used = {str(ds.SOPInstanceUID) for v, ds in sources.items() if v in f.sources}
    return p + _where_problems(
        where, group, f, used or {str(ds.SOPInstanceUID) for ds in sources.values()}
    )


def check_sr(
    ds: Dataset,
    findings: Sequence[Finding],
    sources: Mapping[str, Dataset],
    bundle: tuple[str, str],
    verdicts: Sequence[VerdictLike] = (),
    images: Sequence[Dataset] | None = None,
) -> list[str]:
    """Every difference between the SR ``ds`` and what it should say; ``bundle`` is
    ``(name, bundle.json SHA-256)``; ``images`` every image its evidence must list (by
    default the sources)."""
    sr = hd.sr.ComprehensiveSR.from_dataset(ds)
    problems: list[str] = []
    first = next(iter(sources.values()))
    for kw in PATIENT_STUDY_KEYWORDS:
        if str(ds.get(kw, "")) != str(first.get(kw, "")):
            problems.append(f"{kw} differs from the source study's")
    evidence = {str(r.ReferencedSOPInstanceUID)
                for s in ds.get("CurrentRequestedProcedureEvidenceSequence", [])
                for se in s.ReferencedSeriesSequence for r in se.ReferencedSOPSequence}  # fmt: skip
    if evidence != {str(s.SOPInstanceUID) for s in (images or list(sources.values()))}:
        problems.append("the evidence does not list exactly the source images")
    found: list[Group] = [
        *sr.content.get_image_measurement_groups(),
        *sr.content.get_planar_roi_measurement_groups(),
    ]
    groups = {str(g.tracking_identifier): g for g in found}
    if len(groups) != len(findings):
        problems.append(f"{len(groups)} measurement groups for {len(findings)} findings")
    for n, f in enumerate(findings, start=1):
        group = groups.get(f"finding {n}: {f.label}"[:64])
        if group is None:
            problems.append(f"finding {n} ({f.label}) is missing")
            continue
        problems += _group_problems(n, group, f, sources, bundle, verdicts)
    return problems
