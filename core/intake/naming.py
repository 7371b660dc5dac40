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

Names in messages and logs go through :func:`short_name`: a client chooses them, so they
may be 255 characters long, carry line breaks, or disguise their suffix with a
right-to-left override; one line of a bounded length is what a problem list needs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "IMAGE_SUFFIXES",
    "ParsedName",
    "image_stem",
    "is_candidate",
    "one_line",
    "parse_name",
    "parse_view",
    "safe_basename",
    "short_name",
]

#: Suffixes intake treats as images; DICOM files also often come with no suffix at all.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".dcm", ".dicom")

_VIEW = r"([lr])[-_ ]?([iv])[-_ ]([ab])(?![a-z])"
_TOKEN = re.compile(r"(?<![a-z])" + _VIEW, re.IGNORECASE)
_INDEXED = re.compile(r"^(\d+)[-_ ]?" + _VIEW, re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
#: Characters kept from the start and the end of a long name in messages.
NAME_HEAD, NAME_TAIL = 40, 20
#: Longest message line: a reason plus a shortened name fit easily.
MAX_LINE = 400
#: Control, format (bidi overrides, zero-width), surrogate and line/paragraph separators.
_UNPRINTABLE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


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


def _printable(text: str) -> str:
    return "".join("?" if unicodedata.category(c) in _UNPRINTABLE else c for c in text)


def short_name(name: str) -> str:
    """A file name as messages and logs show it: printable, one line, at most 61 characters.

    Longer names keep their first 40 and last 20 characters around an ellipsis, so the
    start (often a patient or series index) and the suffix both stay visible. Control and
    format characters become ``?``. Used for every name intake writes into a message.
    """
    text = _printable(name)
    if len(text) <= NAME_HEAD + NAME_TAIL + 1:
        return text
    return f"{text[:NAME_HEAD]}\u2026{text[-NAME_TAIL:]}"


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one printable line of at most ``limit`` characters (for reasons that
    quote a library's error text)."""
    flat = _printable(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


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
