"""A ``dicomweb_client.DICOMwebClient`` for one endpoint, and its failures in plain words.

The client is built on a ``requests`` session that carries the endpoint's authentication
and TLS setting, so no credential passes through a URL or a log line. Failed calls are
turned into :mod:`core.pacs.errors` by :func:`calling`, which names what was being done and
the endpoint (by name and host), never the URL's query (it may hold an accession number).
Retries are off: a PACS that answers 503 is reported at once rather than after a minute of
back-off, and the user can try again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.errors import InvalidDicomError

from core.pacs.config import Endpoint
from core.pacs.errors import (
    PacsAuthError,
    PacsError,
    PacsServerError,
    PacsUnreachable,
    StudyNotFound,
)

__all__ = ["calling", "make_client"]

log = logging.getLogger(__name__)
_QUERY = re.compile(r"\?[^\s'\"]*")


class _NoQueryStrings(logging.Filter):
    """Cuts query strings out of the client libraries' log records: a QIDO URL carries the
    search filters (an accession number), and ``retrying`` logs a failed call's URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "?" in text:
            record.msg, record.args = _QUERY.sub("?(query hidden)", text), None
        return True


for _name in ("dicomweb_client.web", "retrying"):
    logging.getLogger(_name).addFilter(_NoQueryStrings())


class _Bearer(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` on every request of the session."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r


def make_client(
    endpoint: Endpoint, on_response: Callable[..., requests.Response] | None = None
) -> DICOMwebClient:
    """A DICOMweb client for ``endpoint``: its auth, TLS check, timeout; no retries.
    ``on_response`` is a ``requests`` response hook (the retrieval's byte cap)."""
    session = requests.Session()
    if on_response is not None:
        session.hooks["response"].append(on_response)
    session.verify = endpoint.verify
    if endpoint.auth == "basic":
        creds = endpoint.credentials
        session.auth = requests.auth.HTTPBasicAuth(creds["username"], creds["password"])
    elif endpoint.auth == "bearer":
        session.auth = _Bearer(endpoint.credentials["token"])
    client = DICOMwebClient(endpoint.url, session=session, timeout=endpoint.timeout_s)
    client.set_http_retry_params(retry=False)
    return client


@contextmanager
def calling(endpoint: Endpoint, what: str) -> Iterator[None]:
    """Run a DICOMweb call; raise the matching :class:`PacsError` with ``what`` in words.

    ``what`` is a phrase such as ``"searching for studies"``; it must hold no identifier.
    """
    where = endpoint.shown
    try:
        yield
    except PacsError:
        raise
    except requests.exceptions.SSLError:
        raise PacsUnreachable(
            f"{where}: the TLS certificate could not be verified while {what}; "
            "ask the administrator for the hospital CA bundle (ca_bundle in pacs.toml)"
        ) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
        kind = "timed out" if isinstance(err, requests.exceptions.Timeout) else "did not answer"
        raise PacsUnreachable(f"{where} {kind} while {what}; is the server up?") from None
    except requests.exceptions.HTTPError as err:
        status = err.response.status_code if err.response is not None else None
        log.warning("%s: HTTP %s while %s", where, status, what)
        if status in (401, 403):
            raise PacsAuthError(
                f"{where} refused the credentials (HTTP {status}) while {what}; "
                "check the endpoint's user and password or token"
            ) from None
        if status == 404:
            raise StudyNotFound(f"{where}: not found (HTTP 404) while {what}") from None
        raise PacsServerError(
            f"{where} answered HTTP {status} while {what}; try again, or ask the PACS "
            "administrator to look at the server's log", status
        ) from None  # fmt: skip
    except (requests.exceptions.RequestException, InvalidDicomError, ValueError, KeyError) as err:
        # dicomweb-client raises ValueError for a body it cannot parse (wrong media type),
        # pydicom InvalidDicomError for a part that is not a DICOM file
        raise PacsServerError(
            f"{where} sent an answer that is not DICOMweb while {what} ({type(err).__name__})"
        ) from None
