"""Text that a user or a file wrote, made safe to put inside a Streamlit Markdown string.

Streamlit renders ``st.markdown``, ``st.caption``, ``st.error`` and friends (and widget
labels) as Markdown, so a threshold-set author such as ``**x** [link](http://evil)`` or a
bundle named ``<img src=...>`` would be shown to *other* users as formatting and links. A
page builds its sentence as Markdown and passes every piece it did not write through
:func:`plain` (or :func:`code` for a path shown as code): the reader then sees exactly the
characters that were typed.

CommonMark reads a backslash before ASCII punctuation as "this character, literally". The
characters that can start formatting anywhere in a line are escaped wherever they are:
``\\ ` * _ [ ] < & ~ $ |`` (emphasis, code, links and images, HTML and autolinks,
entities, strikethrough, maths, tables; Streamlit's ``:red[...]`` colours need a ``[``).
Those that only matter at the start of a line (``# > + -`` and ``1.``) are escaped there.
Other punctuation is left, so a file name such as ``scan-3.v2.jpg`` reads as it is in the
page's source too. Newlines and other control characters become spaces, so a value cannot
start a heading, a list or a block of its own. Emoji short codes such as ``:smile:`` may
still turn into an emoji: harmless, and not worth changing what the reader sees.
"""

from __future__ import annotations

import re

__all__ = ["code", "plain"]

_INLINE = re.compile(r"([\\`*_\[\]<&~$|])")
_LINE_START = re.compile(r"^(\s*)([#>+-]|\d+(?=[.)]))")
_SPACE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def _shorten(text: str, limit: int | None) -> str:
    if limit is not None and len(text) > limit:
        return text[: max(1, limit - 1)] + "…"
    return text


def plain(value: object, limit: int | None = None) -> str:
    """``str(value)`` escaped for Markdown, control characters as spaces, and cut to
    ``limit`` characters (with "…") when given (long file names in a caption)."""
    text = _INLINE.sub(r"\\\1", _shorten(_SPACE.sub(" ", str(value)), limit))
    return _LINE_START.sub(_escape_start, text)


def _escape_start(match: re.Match[str]) -> str:
    """A block marker at the start: ``#`` -> ``\\#``; for ``1.`` the dot is escaped."""
    space, marker = match.groups()
    if marker[0].isdigit():
        return f"{space}{marker}\\"
    return f"{space}\\{marker}"


def code(value: object, limit: int | None = None) -> str:
    """``value`` as an inline code span: a fence longer than any run of backticks inside
    it, so a backtick in the value cannot end the span early (Markdown is off inside)."""
    text = _shorten(_SPACE.sub(" ", str(value)), limit)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
