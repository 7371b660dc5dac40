"""PACS failures as one message each, with what the reader (or an administrator) can do.

The message is :mod:`core.pacs.errors`' own sentence, which names the endpoint by its
configured name and never a credential or a patient identifier; this adds, by the kind of
failure, the next step the sentence does not already say. A half-sent result is shown by
:mod:`ui.pacs_send`, which also lists what the server stored.
"""

from __future__ import annotations

import streamlit as st

from core.pacs.errors import (
    PacsAuthError,
    PacsConfigError,
    PacsError,
    PacsUnreachable,
    StudyNotFound,
    StudyTooLarge,
    UnmappableStudy,
)
from ui.text import plain

__all__ = ["show_pacs_error"]

#: What to do next, by the kind of failure (the first matching class wins).
_NEXT: tuple[tuple[type[PacsError], str], ...] = (
    (PacsUnreachable, "Try again later; if it persists, an administrator checks the "
                      "endpoint's address in the PACS configuration."),
    (PacsAuthError, "Only an administrator can change the credentials (the PACS "
                    "configuration and its secrets)."),
    (StudyTooLarge, "Nothing of it is kept. Such a study cannot be reviewed here."),
    (UnmappableStudy, "No series of this study fits this study type's views; pick another "
                      "study, or the other study type if it was ambiguous."),
    (StudyNotFound, "The study may have been moved or deleted; search again."),
    (PacsConfigError, "An administrator fixes the PACS configuration file."),
)  # fmt: skip


def show_pacs_error(err: PacsError) -> None:
    """One error box: what failed, and what to do next."""
    hint = next((text for kind, text in _NEXT if isinstance(err, kind)), "")
    st.error(f"{plain(err)}\n\n{hint}".strip(), icon=":material/error:")
