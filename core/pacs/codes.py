"""The coded concepts of the results SR, written once for the writer and the reader.

Standard codes where DICOM has one (the report title, Present/Absent, the procedures);
the app's own terms use the private coding scheme ``99RVWAPP`` (the ``99`` prefix is
DICOM's mark for a local scheme), so a viewer shows their meanings and nobody mistakes
them for standard codes. A finding's code value and meaning are its label as the bundle
names it (``L_MCA``, ``Nodule/Mass``), so the SR reads back to the same labels.
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

__all__ = [
    "ABSENT",
    "AGREE",
    "CORRECTED",
    "DECISION",
    "DISAGREE",
    "NO_UNITS",
    "PRESENT",
    "PROBABILITY",
    "SCHEME",
    "THRESHOLD",
    "VERDICT",
    "finding_code",
]

SCHEME = "99RVWAPP"
PROBABILITY = CodedConcept("PROB", SCHEME, "Model probability")
THRESHOLD = CodedConcept("THRESH", SCHEME, "Decision threshold")
DECISION = CodedConcept("DECISION", SCHEME, "Model decision")
VERDICT = CodedConcept("VERDICT", SCHEME, "Reviewer verdict")
CORRECTED = CodedConcept("CORRECTED", SCHEME, "Reviewer corrected decision")
AGREE = CodedConcept("AGREE", SCHEME, "Reviewer agrees with the model")
DISAGREE = CodedConcept("DISAGREE", SCHEME, "Reviewer disagrees with the model")
PRESENT = CodedConcept.from_code(codes.SCT.Present)
ABSENT = CodedConcept.from_code(codes.SCT.Absent)
#: UCUM's "no units": probabilities and thresholds are fractions in [0, 1].
NO_UNITS = CodedConcept("1", "UCUM", "no units")


#: The procedure each study reports on (SNOMED CT).
def finding_code(label: str) -> CodedConcept:
    """The finding type of one label (long labels use DICOM's Long Code Value)."""
    return CodedConcept(label, SCHEME, label)
