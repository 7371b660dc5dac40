"""What may leave the app in an export: pixels without burned-in text, names without people.

A downloaded report is mailed, printed and archived, out of the app's control, so it must
not carry what identifies a patient:

* **Pixels.** Consoles burn the patient's name, ID and dates into the image. Preprocessing
  finds text *inside* the field (its text boxes) and crops the margin away; the margin is
  never searched for text, yet it is where consoles often write. An exported original is
  therefore filled, opaquely, everywhere the models did not look and in every text box
  (grown by a few pixels for anti-aliased edges): text boxes with the field's median grey,
  the margin with black. A tint, as the screen uses to let the reader check the boxes,
  leaves text readable; a fill does not.
* **Names.** File names are chosen by people and often carry a patient's name or ID. An
  export names a file by :func:`file_token`, a short SHA-256 digest plus the extension (the
  view it was used for is the key it is listed under); :func:`scrub` replaces every known
  file name in free text (intake messages). The digest is not secret: whoever can guess a
  candidate name can confirm it, so it hides names from readers, not from a search.
  A case id longer than :data:`CASE_ID_CHARS` is cut and given a digest (:func:`short_id`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

import numpy as np

from core.case import Case, CleanView, PreprocessRecord, ViewImage
from core.intake.naming import short_name

__all__ = [
    "CASE_ID_CHARS",
    "MARGIN_FILL",
    "case_file_names",
    "file_token",
    "redact_pixels",
    "redacted_case",
    "scrub",
    "short_id",
]

#: Grey level of the filled margin (outside the crop): black, as a DSA margin usually is.
MARGIN_FILL = 0
#: Longest case id written as it is; a longer one is cut and given a digest.
CASE_ID_CHARS = 40
_EXT_RE = re.compile(r"^\.[a-z0-9]{1,5}$")
_MIN_SCRUB = 4


def _pad(shape: tuple[int, ...]) -> int:
    """Pixels added around a text box: anti-aliased edges lie just outside the glyph box."""
    return max(2, round(max(shape[:2]) / 300))


def redact_pixels(pixels: np.ndarray, record: PreprocessRecord) -> np.ndarray:
    """A copy of an original view (2-D ``uint8``) with every text box and everything
    outside the crop filled opaquely (see the module notes)."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = record.crop
    field = pixels[y0:y1, x0:x1]
    grey = int(np.median(field)) if field.size else MARGIN_FILL
    out = np.full_like(pixels, MARGIN_FILL)
    out[y0:y1, x0:x1] = field
    p = _pad(pixels.shape)
    for bx0, by0, bx1, by1 in record.text_boxes:
        out[max(0, by0 - p) : min(h, by1 + p), max(0, bx0 - p) : min(w, bx1 + p)] = grey
    return out


def redacted_case(case: Case, clean: Mapping[str, CleanView]) -> Case:
    """``case`` with every view's pixels redacted by its preprocessing record; a view
    without one is filled whole (nothing says where its text is). Ids and names are
    untouched: they are the exporter's to shorten."""
    views = {}
    for name, view in case.views.items():
        cv = clean.get(name)
        pixels = (
            redact_pixels(view.pixels, cv.record)
            if cv is not None
            else np.full_like(view.pixels, MARGIN_FILL)
        )
        views[name] = ViewImage(name, pixels, view.source)
    return Case(
        case.case_id, views, list(case.problems), labels=case.labels,
        expected_views=case.expected_views,
    )  # fmt: skip


def _digest(text: str, chars: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:chars]


def file_token(name: str) -> str:
    """``file-<12 hex digits><.ext>``: a file name as an export or a log may show it."""
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    return f"file-{_digest(name, 12)}{ext if _EXT_RE.match(ext) else ''}"


def case_file_names(case: Case) -> set[str]:
    """Every file name the case knows: its views' sources and the files of its problems."""
    return {im.source.name for im in case.views.values()} | {p.file for p in case.problems}


def short_id(case_id: str) -> str:
    """A case id as exported: as it is up to :data:`CASE_ID_CHARS` characters, else its
    start, an ellipsis and a digest of the whole (still unique, no longer a file name)."""
    if len(case_id) <= CASE_ID_CHARS:
        return case_id
    return f"{case_id[: CASE_ID_CHARS - 13]}…{_digest(case_id, 12)}"


def scrub(text: str, names: Iterable[str]) -> str:
    """``text`` with each of ``names`` (file names), whole or as intake's messages shorten
    it (:func:`core.intake.naming.short_name`), replaced by its :func:`file_token`. Longer
    forms first, so a name that contains another is replaced whole; forms shorter than
    :data:`_MIN_SCRUB` are left (replacing ``"a"`` would rewrite every word)."""
    forms = {form: file_token(n) for n in names for form in (n, short_name(n))}
    for form in sorted((f for f in forms if len(f) >= _MIN_SCRUB), key=len, reverse=True):
        text = text.replace(form, forms[form])
    return text
