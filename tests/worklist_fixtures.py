"""What the worklist's AppTest and browser test share: Orthanc holding two studies of
different kinds (an eight-run DSA study and a chest DX film), and a ``pacs.toml`` for it.

A test module imports both ``orthanc`` and ``server`` from here (pytest finds a fixture's
fixtures in the requesting module)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pacs_fixtures import (
    PASSWORD,
    USER,
    OrthancServer,
    chest_study,
    dsa_study,
    endpoint,
    orthanc,  # noqa: F401  (the fixture)
)

from core.pacs.client import make_client

#: The environment variables the written configuration names for the credentials.
CREDENTIAL_ENV = {"LAB_USER": USER, "LAB_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def server(
    orthanc: OrthancServer,  # noqa: F811  (the fixture imported above)
    sample_cases: list[Path],
    tiny_chest_cohort: Path,
) -> OrthancServer:
    """Orthanc holding an eight-run DSA study and a chest DX film."""
    ep = endpoint(orthanc, "lab")
    client = make_client(ep)
    client.store_instances(dsa_study(sample_cases[0]))
    client.store_instances(chest_study(min(tiny_chest_cohort.rglob("*.dicom"))))
    return orthanc


def write_config(folder: Path, url: str, *, show: bool = False) -> Path:
    """``folder/pacs.toml`` with one endpoint, ``lab``, at ``url`` (basic auth from
    :data:`CREDENTIAL_ENV`)."""
    path = folder / "pacs.toml"
    path.write_text(
        f"show_patient_identifiers = {'true' if show else 'false'}\n\n"
        f'[[endpoint]]\nname = "lab"\nurl = "{url}"\nauth = "basic"\n'
        'username_env = "LAB_USER"\npassword_env = "LAB_PASSWORD"\n'
    )
    return path
