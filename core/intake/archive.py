"""A zip of one case folder -> :class:`Case`, read in memory and guarded against hostile archives.

Nothing is extracted to disk, and ``zipfile`` is not used to read: its constructor parses
the whole index and one bad entry loses every member (see :mod:`core.intake.zipindex`).
The guards, all before or while reading, never after:

- the archive is at most ``MAX_ZIP_UNCOMPRESSED`` bytes, and its entry count, read from
  the end-of-central-directory record before the index, at most ``MAX_ZIP_MEMBERS``;
- member names with ``..``, an absolute path or a drive letter are refused (reported);
- each member's *declared* size is checked against ``MAX_FILE_BYTES``, the declared total
  against ``MAX_ZIP_UNCOMPRESSED``, and its ratio against ``MAX_ZIP_RATIO`` (members under
  1 MiB are exempt from the ratio: they cannot exhaust memory, and blank images compress well);
- declared sizes can lie, so a member is inflated through :class:`~core.intake.inflate.
  Inflater` and refused one byte past its declared size; its CRC-32 is then checked.

Every entry either reaches :func:`~core.intake.assemble.case_from_files` or is reported:
a damaged, encrypted or oddly compressed member is a ``bad_file`` problem, a zip inside the
zip too (it is not opened), and folders, ``__MACOSX/``, dotfiles and names that cannot be
images (see :func:`~core.intake.naming.is_candidate`) are listed in one summary line.
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from collections.abc import Mapping

from core import limits
from core.case import Case, IntakeProblem
from core.intake.assemble import case_from_files
from core.intake.errors import BadFile, IntakeError, TooLarge, record
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.intake.inflate import Inflater
from core.intake.naming import is_candidate, safe_basename, short_name
from core.intake.zipindex import BadEntry, ZipEntry, read_index

__all__ = ["case_from_zip", "read_member"]

log = logging.getLogger(__name__)
_RATIO_EXEMPT_BYTES = 1 << 20
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header
_STORED, _DEFLATED = 0, 8
_SHOWN = 4  # skipped entries named in the summary line
_NESTED = "nested zip"


def _unsafe(path: str) -> bool:
    parts = re.split(r"[\\/]", path)
    return path.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", path)) or ".." in parts


def _skip_reason(entry: ZipEntry) -> str | None:
    """Why an entry is not read as an image, or None to read it."""
    if entry.is_dir:
        return "folder"
    parts = [p for p in re.split(r"[\\/]", entry.path) if p not in ("", ".")]
    if not parts:
        return "no name"
    if parts[0] == "__MACOSX":
        return "Mac metadata"
    if any(p.startswith(".") for p in parts):
        return "hidden file"
    if parts[-1].lower().endswith(".zip"):
        return _NESTED
    return None if is_candidate(parts[-1]) else "not an image name"


def _check_declared(entry: ZipEntry, base: str, total: int) -> None:
    if entry.size > limits.MAX_FILE_BYTES:
        raise TooLarge(
            base,
            f"declares {entry.size:,} bytes unpacked; at most {limits.MAX_FILE_BYTES:,} per file",
        )
    if total > limits.MAX_ZIP_UNCOMPRESSED:
        raise TooLarge(
            base, f"brings the archive past {limits.MAX_ZIP_UNCOMPRESSED:,} unpacked bytes"
        )
    ratio = entry.size / max(entry.compressed, 1)
    if entry.size > _RATIO_EXEMPT_BYTES and ratio > limits.MAX_ZIP_RATIO:
        raise TooLarge(
            base,
            f"compresses {ratio:.0f}-fold (limit {limits.MAX_ZIP_RATIO}); "
            "refused as a possible zip bomb",
        )


def read_member(data: bytes, entry: ZipEntry, base: str) -> bytes:
    """One member's bytes, checked against its declared size and CRC; raises :class:`BadFile`."""
    unpack = "could not be unpacked from the zip"
    if entry.encrypted:
        raise BadFile(base, "is password-protected in the zip; zip it without a password")
    if entry.method not in (_STORED, _DEFLATED):
        raise BadFile(base, f"{unpack}: it uses compression method {entry.method}; only "
                            "stored and deflated members are read (re-zip it)")  # fmt: skip
    at = entry.offset
    if at < 0 or at + _LOCAL.size > len(data) or data[at : at + 4] != b"PK\x03\x04":
        raise BadFile(base, f"{unpack}: its local header is missing or damaged")
    name_len, extra_len = _LOCAL.unpack_from(data, at)[-2:]
    start = at + _LOCAL.size + name_len + extra_len
    if start + entry.compressed > len(data):
        raise BadFile(base, f"{unpack}: its data runs past the end of the zip (cut short?)")
    if entry.method == _STORED:
        out = data[start : start + entry.compressed]
    else:
        inflater = Inflater(memoryview(data)[start : start + entry.compressed], base,
                            f"{unpack}: its data")  # fmt: skip
        try:
            out = inflater.rest(entry.size, "its declared size")
        except TooLarge as err:
            raise BadFile(
                base, f"{unpack}: it unpacks to more than the {entry.size:,} bytes it declares"
            ) from err
        if not inflater.finished:
            raise BadFile(base, f"{unpack}: its compressed data ends early")
    if len(out) != entry.size:
        raise BadFile(base, f"{unpack}: it holds {len(out):,} bytes, not the "
                            f"{entry.size:,} it declares")  # fmt: skip
    if zlib.crc32(out) != entry.crc:
        raise BadFile(base, f"{unpack}: its checksum (CRC-32) does not match; the zip is damaged")
    return out


def _summary(zip_name: str, skipped: list[tuple[str, str]]) -> IntakeProblem:
    shown = [f"{short_name(path)} ({why})" for path, why in skipped[:_SHOWN]]
    if len(skipped) > _SHOWN:
        shown.append(f"and {len(skipped) - _SHOWN} more")
    count = f"{len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'}"
    msg = f"{short_name(zip_name)}: {count} not read as images: {', '.join(shown)}"
    return IntakeProblem("", "unrecognised_name", msg)


def _members(data: bytes, zip_name: str, problems: list[IntakeProblem]) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    skipped: list[tuple[str, str]] = []
    total = 0
    for entry in read_index(data, zip_name):
        base = safe_basename(entry.path)
        if isinstance(entry, BadEntry):
            record(problems, BadFile(base if entry.path else zip_name, entry.reason).problem())
            continue
        if _unsafe(entry.path):
            msg = f"{short_name(entry.path)}: refused, the path points outside the archive folder"
            record(problems, IntakeProblem(base, "bad_file", msg))
            continue
        if (why := _skip_reason(entry)) == _NESTED:
            msg = "a zip inside the zip is not opened; upload its images, or that zip, on its own"
            record(problems, BadFile(base, msg).problem())
            continue
        if why:
            skipped.append((entry.path, why))
            continue
        if entry.note:
            log.info("zip member %s: %s", short_name(base), entry.note)
        total += entry.size
        try:
            _check_declared(entry, base, total)
            files.append((base, read_member(data, entry, base)))
        except IntakeError as err:
            record(problems, err.problem())
    if skipped:
        record(problems, _summary(zip_name, skipped))
    return files


def case_from_zip(
    data: bytes,
    case_id: str | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    zip_name: str = "archive.zip",
    frame_rule: FrameRule = DEFAULT_FRAME_RULE,
) -> Case:
    """Build a case from the bytes of an uploaded zip; archive problems come first in the case.

    ``zip_name`` (the upload's name) is only used in messages. Never raises for bad input.
    """
    zip_name = safe_basename(zip_name)
    problems: list[IntakeProblem] = []
    files: list[tuple[str, bytes]] = []
    try:
        if len(data) > limits.MAX_ZIP_UNCOMPRESSED:
            raise TooLarge(
                zip_name, f"the zip is {len(data):,} bytes; at most {limits.MAX_ZIP_UNCOMPRESSED:,}"
            )
        files = _members(data, zip_name, problems)
        if not files and not problems:
            raise BadFile(zip_name, "the zip holds no files")
    except IntakeError as err:
        record(problems, err.problem())
    case = case_from_files(files, case_id, overrides, frame_rule=frame_rule)
    case.problems[:0] = problems
    return case
