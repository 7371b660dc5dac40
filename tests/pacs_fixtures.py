"""A real Orthanc with its DICOMweb plugin on free localhost ports, and synthetic studies.

``orthanc`` starts Debian's ``Orthanc`` from a temporary JSON configuration and storage
folder (HTTP basic authentication on, DICOM port on, remote access off), waits until
``/system`` answers, and stops it after the module. It is skipped, with the reason, only
when the ``orthanc`` / ``orthanc-dicomweb`` packages are missing (``make pacs-server``
installs them).

The studies carry realistic identifiers and attributes, so that the tests can check the
identifiers stay on the PACS side: an eight-run DSA study (each view a multi-frame XA run
made from a committed sample case, its view given in the ways real scanners give it:
Laterality, positioner angles, ViewPosition, series descriptions) plus a series that
cannot be mapped, and a chest DX film from the tiny chest cohort.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    RLELossless,
    XRayAngiographicImageStorage,
    generate_uid,
)

from core.pacs.config import Endpoint

#: Identifiers the source study carries; they must reach the SR and captures (same study)
#: and nothing else: not the CLI's output, the logs or the app's exports.
PATIENT_NAME = "Mcintyre^Rosalind^Q"
PATIENT_ID = "MRN-88412-ZX"
BIRTH_DATE = "19580723"
ACCESSION = "ACC-55190"
OTHER_ACCESSION = "ACC-55191"
USER, PASSWORD = "reviewer", "orthanc-test-secret"

#: Where Debian's packages put the server and the plugin (``dpkg -L orthanc-dicomweb``).
ORTHANC_BIN = "Orthanc"
DICOMWEB_PLUGINS = (
    Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
    Path("/usr/lib/orthanc/libOrthancDicomWeb.so"),
)

#: The DSA runs: view -> (series description, Laterality, ViewPosition, primary, secondary
#: angle). Each view is given in a different mix of attributes, as scanners differ.
DSA_SERIES: dict[str, tuple[str, str, str, float | None, float | None]] = {
    "LI-A": ("L ICA AP", "L", "", 1.0, -12.0),
    "LI-B": ("LEFT ICA", "L", "", 90.0, 0.0),
    "LV-A": ("LT VERT", "", "AP", None, None),
    "LV-B": ("L VERTEBRAL LAT", "", "", None, None),
    "RI-A": ("RIGHT CAROTID", "R", "PA", -3.0, 10.0),
    "RI-B": ("R ICA LATERAL", "", "", -88.0, 2.0),
    "RV-A": ("R VA FRONTAL", "", "", None, None),
    "RV-B": ("RT VERTEBRAL", "R", "LL", None, None),
}
#: A rotational run at an oblique angle with no injection named: nothing maps it.
UNMAPPABLE = ("3D ROT", "", "", 45.0, 0.0)


@dataclass(frozen=True)
class OrthancServer:
    url: str  # the DICOMweb root
    http: str  # the REST root
    storage: Path


def endpoint(server: OrthancServer, name: str = "test-pacs", password: str = PASSWORD) -> Endpoint:
    """The test Orthanc as a configured endpoint with basic credentials (another
    ``password`` for a 401)."""
    return Endpoint(name, server.url, "basic", credentials={"username": USER, "password": password})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plugin() -> Path | None:
    return next((p for p in DICOMWEB_PLUGINS if p.exists()), None)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A fresh Orthanc + DICOMweb for one test module, stopped after it."""
    binary, plugin = shutil.which(ORTHANC_BIN) or (Path("/usr/sbin") / ORTHANC_BIN), _plugin()
    if not Path(binary).exists() or plugin is None:
        pytest.skip("Orthanc is not installed: `make pacs-server` (apt: orthanc orthanc-dicomweb)")
    root = tmp_path_factory.mktemp("orthanc")
    http, dicom = _free_port(), _free_port()
    config = {
        "Name": "review-test", "StorageDirectory": str(root / "db"), "IndexDirectory": str(root / "db"),
        "HttpPort": http, "DicomPort": dicom, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [str(plugin)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "HttpThreadsCount": 4, "StableAge": 1,
    }  # fmt: skip
    (root / "orthanc.json").write_text(json.dumps(config))
    log = (root / "orthanc.log").open("w")
    proc = subprocess.Popen([str(binary), str(root / "orthanc.json")], stdout=log, stderr=log)
    rest = f"http://127.0.0.1:{http}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{rest}/system", auth=(USER, PASSWORD), timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"Orthanc exited: {(root / 'orthanc.log').read_text()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("Orthanc did not answer within 10 s")
        yield OrthancServer(f"{rest}/dicom-web", rest, root)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _base(modality: str, sop_class: str, study_uid: str, accession: str) -> Dataset:
    ds = Dataset()
    ds.preamble = b"\0" * 128  # a Part 10 file as a modality writes it (STOW keeps the bytes)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
        PATIENT_NAME, PATIENT_ID, BIRTH_DATE, "F")  # fmt: skip
    ds.StudyInstanceUID, ds.AccessionNumber = study_uid, accession
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20260312", "101500", "4471"
    ds.ReferringPhysicianName = "Okafor^Lena"
    ds.InstitutionName = "St Elsewhere General"
    ds.Modality = modality
    ds.Manufacturer = "Synthetic Angio Co"
    return ds


def _run(picture: np.ndarray, frames: int = 4) -> np.ndarray:
    """A DSA run ending on ``picture``: earlier frames are washed out (brighter), so the
    minimum-intensity projection over the run is the picture itself."""
    out = [np.maximum(picture, np.uint8(min(255, 60 * (frames - 1 - f)))) for f in range(frames)]
    return np.stack(out)


def dsa_study(sample_case: Path, accession: str = ACCESSION, side: int = 256) -> list[Dataset]:
    """The eight runs of one sample case plus an unmappable rotational run."""
    study_uid = generate_uid()
    out = []
    series = list(DSA_SERIES.items()) + [("", UNMAPPABLE)]
    for n, (view, (desc, lat, pos, a1, a2)) in enumerate(series, start=1):
        image = next(sample_case.glob(f"*{view}.jpg")) if view else next(sample_case.glob("*.jpg"))
        pic = Image.open(image).convert("L")
        pic.thumbnail((side, side))
        ds = _base("XA", XRayAngiographicImageStorage, study_uid, accession)
        ds.StudyDescription = "Cerebral angiography"
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), n, 1
        ds.SeriesDescription = desc
        if lat:
            ds.Laterality = lat
        if pos:
            ds.ViewPosition = pos
        if a1 is not None:
            ds.PositionerPrimaryAngle, ds.PositionerSecondaryAngle = a1, a2
        ds.set_pixel_data(_run(np.asarray(pic)), "MONOCHROME2", 8)
        if n == 2:  # one run stored compressed: retrieval keeps the stored syntax
            ds.compress(RLELossless)
        out.append(ds)
    return out


def chest_study(film: Path, accession: str = OTHER_ACCESSION) -> list[Dataset]:
    """One PA DX film (the pixels of a tiny-cohort film) with a patient and a study."""
    src = pydicom.dcmread(film)
    ds = _base("DX", DigitalXRayImageStorageForPresentation, generate_uid(), accession)
    ds.StudyDescription = "Chest PA"
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), 1, 1
    ds.SeriesDescription, ds.ViewPosition, ds.PatientOrientation = "PA", "PA", ["L", "F"]
    ds.set_pixel_data(src.pixel_array, str(src.PhotometricInterpretation), int(src.BitsStored))
    return [ds]


def split_run(run: Dataset, order: tuple[int, ...] | None = None) -> list[Dataset]:
    """``run`` (a multi-frame XA) stored as one single-frame instance per frame in its
    series, as many angiography systems store runs: frame ``k`` is InstanceNumber ``k + 1``
    with an AcquisitionTime a second later than the previous. Returned in ``order`` (frame
    indices; default reversed), so that storage order is never frame order."""
    frames = run.pixel_array
    out = []
    for k in order if order is not None else reversed(range(len(frames))):
        ds = _base(run.Modality, run.SOPClassUID, run.StudyInstanceUID, run.AccessionNumber)
        for key in ("StudyDescription", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription",
                    "Laterality", "ViewPosition", "PositionerPrimaryAngle",
                    "PositionerSecondaryAngle"):  # fmt: skip
            if key in run:
                setattr(ds, key, run[key].value)
        ds.InstanceNumber, ds.AcquisitionTime = k + 1, f"1015{k:02d}"
        ds.set_pixel_data(frames[k], str(run.PhotometricInterpretation), int(run.BitsStored))
        out.append(ds)
    return out


def dsa_study_split(
    sample_case: Path, view: str = "LI-A", accession: str = "ACC-55192", side: int = 256
) -> tuple[list[Dataset], Dataset]:
    """:func:`dsa_study` with ``view``'s run stored as single-frame instances; also returns
    that run as the multi-frame instance it replaces (not stored), for comparison."""
    study = dsa_study(sample_case, accession, side)
    at = list(DSA_SERIES).index(view)
    run = study[at]
    if run.file_meta.TransferSyntaxUID.is_compressed:
        run.decompress()
    return study[:at] + split_run(run) + study[at + 1 :], run


def xa_run(frames: np.ndarray, bits_stored: int = 8) -> Dataset:
    """A multi-frame XA instance of ``frames`` (its own study and series), for unit tests."""
    ds = _base("XA", XRayAngiographicImageStorage, generate_uid(), ACCESSION)
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), 1, 1
    ds.SeriesDescription = "L ICA AP"
    ds.set_pixel_data(frames, "MONOCHROME2", bits_stored)
    return ds
