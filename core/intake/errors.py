"""Intake failures as exceptions for one file, and as :class:`IntakeProblem` rows for the UI.

A bad file never stops a case from loading: the decoder raises one of these, the caller
turns it into a problem row and goes on with the other files. Messages name the file
(base name only, shortened by :func:`~core.intake.naming.short_name`) and say what is
wrong, on one line, in words a user can act on; they never carry patient identifiers,
which is also why logging goes through :func:`record` alone. ``IntakeProblem.file`` keeps
the whole base name: the UI matches a view override to it.
"""

from __future__ import annotations

import logging

from core.case import IntakeProblem, ProblemKind
from core.intake.naming import one_line, short_name
from core.limits import InputTooLarge

__all__ = ["BadFile", "IntakeError", "TooLarge", "record"]

log = logging.getLogger("core.intake")


class IntakeError(ValueError):
    """One input cannot be used; ``str(err)`` is the user-facing ``"file: reason"``."""

    kind: ProblemKind = "bad_file"

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = one_line(reason)
        super().__init__(f"{short_name(file)}: {self.reason}" if file else self.reason)

    def problem(self) -> IntakeProblem:
        return IntakeProblem(self.file, self.kind, str(self))


class BadFile(IntakeError):
    """Empty, truncated, corrupt, or not an image we read."""

    kind: ProblemKind = "bad_file"


class TooLarge(IntakeError, InputTooLarge):
    """Over a limit in :mod:`core.limits`; raised before anything is decoded."""

    kind: ProblemKind = "too_large"


def record(problems: list[IntakeProblem], problem: IntakeProblem) -> None:
    """Append ``problem`` and log it once at WARNING (the message holds no identifiers).

    The message is made one line of bounded length here as well, so that a caller that
    builds an :class:`IntakeProblem` by hand cannot put a raw name into the list or the log.
    """
    message = one_line(problem.message)
    if message != problem.message:
        problem = IntakeProblem(problem.file, problem.kind, message)
    problems.append(problem)
    log.warning("intake %s: %s", problem.kind, problem.message)
