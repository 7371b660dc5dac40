"""Which view (and K-Ium index) a file name names, and nothing that could be a guess.

Accepted: a base name whose stem holds exactly one view token, matched case-insensitively:
side ``L``/``R``, injection ``I``/``V`` (optionally separated from the side by ``-``,
``_`` or a space), then a *required* ``-``, ``_`` or space, then projection ``A``/``B``.
The token must not touch a letter on either side; digits are fine. So ``1428LI-A.jpg``,
``0012LI-A.jpg``, ``LI-A.png``, ``li_a.png``, ``case7_RV-B.dcm`` and ``L I A.jpg`` are
accepted; ``LIA.png`` and ``rib.png`` are *not*: without the separator before the
projection, ordinary words would match.
A name holding two different view tokens (``LI-A_vs_RV-B.png``) is ambiguous and therefore
unrecognised. The K-Ium index is the run of digits that starts the stem and is directly
followed (optionally after one separator) by the view token: ``0012LI-A`` -> 12.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "IMAGE_SUFFIXES",
    "ParsedName",
    "safe_basename",
    "image_stem",
    "is_candidate",
    "parse_name",
    "parse_view",
]

#: Suffixes intake treats as images; DICOM files also often come with no suffix at all.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".dcm", ".dicom")

_VIEW = r"([lr])[-_ ]?([iv])[-_ ]([ab])(?![a-z])"
_TOKEN = re.compile(r"(?<![a-z])" + _VIEW, re.IGNORECASE)
_INDEXED = re.compile(r"^(\d+)[-_ ]?" + _VIEW, re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ParsedName:
    """What a file name says: the view (or why none), and a K-Ium index if it has one."""

    name: str
    view: str | None
    index: int | None = None
    candidates: tuple[str, ...] = ()  # every distinct view token found

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def safe_basename(name: str) -> str:
    """The last path component with either separator, drive letters dropped.

    A client-supplied name is never trusted as a path; only this is kept or shown.
    """
    base = re.split(r"[\\/]", _DRIVE.sub("", name.strip()))[-1].strip()
    return base if base not in ("", ".", "..") else "unnamed file"


def image_stem(base: str) -> str:
    """The name without a known image suffix; other dots are part of the stem."""
    low = base.lower()
    for suffix in IMAGE_SUFFIXES:
        if low.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def is_candidate(base: str) -> bool:
    """Whether a member of a folder or zip may be an image: a known suffix or none at all."""
    return image_stem(base) != base or "." not in base


def _view(match: re.Match[str]) -> str:
    side, inj, proj = (g.upper() for g in match.groups()[-3:])
    return f"{side}{inj}-{proj}"


def parse_name(name: str) -> ParsedName:
    """Parse the base name of ``name``; ``view`` is None when absent or ambiguous."""
    base = safe_basename(name)
    stem = image_stem(base)
    found = tuple(dict.fromkeys(_view(m) for m in _TOKEN.finditer(stem)))
    if len(found) != 1:
        return ParsedName(base, None, None, found)
    m = _INDEXED.match(stem)
    index = int(m.group(1)) if m and _view(m) == found[0] else None
    return ParsedName(base, found[0], index, found)


def parse_view(text: str) -> str | None:
    """A bare view such as ``LI-A``, ``li_a`` or ``RV B`` (the whole text), else None."""
    m = _TOKEN.fullmatch(text.strip())
    return _view(m) if m else None
