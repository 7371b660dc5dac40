"""What can go wrong talking to a PACS, as exceptions a page or the CLI shows as they are.

Every message is one sentence a radiologist or a PACS administrator can act on, and names
the endpoint by its configured name, never a credential. Patient identifiers never appear
in a message: they are never read into one.
"""

from __future__ import annotations

__all__ = [
    "PacsAuthError",
    "PacsConfigError",
    "PacsError",
    "PacsServerError",
    "PacsUnreachable",
    "SendError",
    "StudyNotFound",
    "StudyTooLarge",
    "UnmappableStudy",
]


class PacsError(RuntimeError):
    """Base class: anything about a PACS endpoint, a study on it, or sending to it."""


class PacsConfigError(PacsError):
    """The endpoint list or its credentials cannot be used (missing file, bad field, no secret)."""


class PacsUnreachable(PacsError):
    """No answer: the server is down, the name does not resolve, TLS failed or it timed out."""


class PacsAuthError(PacsError):
    """The server refused the credentials (401) or the action (403)."""


class PacsServerError(PacsError):
    """The server answered with an error status other than 401/403/404, or an unreadable body."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StudyNotFound(PacsError):
    """The study (or the instance asked for) is not on the server."""


class StudyTooLarge(PacsError):
    """The study is over the retrieval limits; nothing (more) is downloaded."""


class UnmappableStudy(PacsError):
    """The study has no series this app can use (no DSA view, no CR/DX film)."""


class SendError(PacsError):
    """Storing results failed part-way; ``stored`` and ``failed`` say exactly which instances.

    ``stored`` holds the SOP Instance UIDs the server accepted, so nothing half-sent goes
    unreported; ``failed`` maps each refused SOP Instance UID to the reason.
    """

    def __init__(self, message: str, stored: tuple[str, ...], failed: dict[str, str]) -> None:
        self.stored = stored
        self.failed = failed
        done = ", ".join(stored) if stored else "none"
        super().__init__(f"{message} Stored before the failure: {done}.")
