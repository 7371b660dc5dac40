"""The study registry: the one place that knows which studies exist.

Studies register themselves with :func:`register_study` when their module is imported;
the built-in ones are imported on first look-up (``BUILTIN``), so importing this package
stays cheap and common code never imports a study module by name. A test or a plug-in
registers another study the same way, without touching any built-in one.
"""

from __future__ import annotations

import importlib
import threading

from core.studies.study import Study, StudyError, StudyPage, StudyResult, StudySchema

__all__ = [
    "BUILTIN",
    "Study",
    "StudyError",
    "StudyPage",
    "StudyResult",
    "StudySchema",
    "register_study",
    "unregister_study",
    "get_study",
    "list_studies",
]

#: Modules that register the built-in studies, in the order the app lists them.
BUILTIN: tuple[str, ...] = ("core.studies.aneurysm", "core.studies.chest")

_STUDIES: dict[str, Study] = {}
_LOCK = threading.Lock()
_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    with _LOCK:
        if _loaded:
            return
        _loaded = True
    for module in BUILTIN:
        importlib.import_module(module)


def register_study(study: Study, *, replace: bool = False) -> Study:
    """Add ``study``; a second study of the same name is refused unless ``replace``."""
    with _LOCK:
        if study.name in _STUDIES and not replace:
            raise StudyError(f"a study named {study.name!r} is already registered")
        _STUDIES[study.name] = study
    return study


def unregister_study(name: str) -> None:
    """Forget a study (tests that register a toy one)."""
    with _LOCK:
        _STUDIES.pop(name, None)


def get_study(name: str) -> Study:
    """The registered study called ``name``; :class:`StudyError` names the known ones."""
    _load_builtin()
    try:
        return _STUDIES[name]
    except KeyError:
        raise StudyError(f"unknown study {name!r}; known: {sorted(_STUDIES)}") from None


def list_studies() -> list[Study]:
    """Every registered study, built-in ones first in ``BUILTIN`` order."""
    _load_builtin()
    return list(_STUDIES.values())
