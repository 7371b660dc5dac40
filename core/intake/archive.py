"""A zip of one case folder -> :class:`Case`, read in memory and guarded against hostile archives.

Nothing is extracted to disk. The guards, all before or while reading, never after:

- the archive itself is at most ``MAX_ZIP_UNCOMPRESSED`` bytes and ``MAX_ZIP_MEMBERS`` entries;
- member names with ``..``, an absolute path or a drive letter are refused (reported);
- each member's *declared* size is checked against ``MAX_FILE_BYTES``, the declared total
  against ``MAX_ZIP_UNCOMPRESSED``, and its ratio against ``MAX_ZIP_RATIO`` (members under
  1 MiB are exempt from the ratio: they cannot exhaust memory, and blank images compress well);
- declared sizes can lie, so each member is read in chunks with a byte cap as well.

Folders inside the zip are fine (only base names are used); ``__MACOSX/`` and dotfiles are
skipped, and so are members that cannot be images (see :func:`~core.intake.naming.is_candidate`).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Mapping
from typing import IO

from core import limits
from core.case import Case, IntakeProblem
from core.intake.assemble import case_from_files
from core.intake.errors import BadFile, IntakeError, TooLarge, record
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.intake.naming import is_candidate, safe_basename

__all__ = ["case_from_zip", "read_capped"]

log = logging.getLogger(__name__)
_CHUNK = 1 << 20
_RATIO_EXEMPT_BYTES = 1 << 20


def read_capped(stream: IO[bytes], cap: int, name: str) -> bytes:
    """Read ``stream`` to its end, raising :class:`TooLarge` as soon as it passes ``cap`` bytes."""
    buf = bytearray()
    while chunk := stream.read(_CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise TooLarge(name, f"unpacks to more than {cap:,} bytes; reading stopped")
    return bytes(buf)


def _unsafe(path: str) -> bool:
    parts = re.split(r"[\\/]", path)
    return path.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", path)) or ".." in parts


def _skipped(path: str) -> bool:
    parts = [p for p in re.split(r"[\\/]", path) if p not in ("", ".")]
    return not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _check_declared(info: zipfile.ZipInfo, total: int) -> None:
    base = safe_basename(info.filename)
    if info.file_size > limits.MAX_FILE_BYTES:
        raise TooLarge(
            base,
            f"declares {info.file_size:,} bytes unpacked; "
            f"at most {limits.MAX_FILE_BYTES:,} per file",
        )
    if total > limits.MAX_ZIP_UNCOMPRESSED:
        raise TooLarge(
            base, f"brings the archive past {limits.MAX_ZIP_UNCOMPRESSED:,} unpacked bytes"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > _RATIO_EXEMPT_BYTES and ratio > limits.MAX_ZIP_RATIO:
        raise TooLarge(
            base,
            f"compresses {ratio:.0f}-fold (limit {limits.MAX_ZIP_RATIO}); "
            "refused as a possible zip bomb",
        )


def _members(zf: zipfile.ZipFile, problems: list[IntakeProblem]) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    total = 0
    for info in zf.infolist():
        path = info.filename
        if _unsafe(path):
            msg = f"{path[:80]!r}: refused, the path points outside the archive folder"
            record(problems, IntakeProblem(safe_basename(path), "bad_file", msg))
            continue
        if info.is_dir() or _skipped(path):
            continue
        base = safe_basename(path)
        if not is_candidate(base):
            log.debug("zip member skipped (not an image name): %s", base)
            continue
        total += info.file_size
        try:
            _check_declared(info, total)
            with zf.open(info) as stream:
                cap = min(info.file_size, limits.MAX_FILE_BYTES)
                files.append((base, read_capped(stream, cap, base)))
        except IntakeError as err:
            record(problems, err.problem())
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as err:
            # CRC mismatch (a lying size), unsupported method, encryption (RuntimeError)
            record(problems, BadFile(base, f"could not be unpacked from the zip ({err})").problem())
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

    ``zip_name`` (the upload's name) is only used in messages.
    """
    zip_name = safe_basename(zip_name)
    problems: list[IntakeProblem] = []
    files: list[tuple[str, bytes]] = []
    try:
        if len(data) > limits.MAX_ZIP_UNCOMPRESSED:
            raise TooLarge(
                zip_name, f"the zip is {len(data):,} bytes; at most {limits.MAX_ZIP_UNCOMPRESSED:,}"
            )
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if len(zf.infolist()) > limits.MAX_ZIP_MEMBERS:
                raise TooLarge(
                    zip_name,
                    f"the zip has {len(zf.infolist())} entries; at most {limits.MAX_ZIP_MEMBERS}",
                )
            files = _members(zf, problems)
    except IntakeError as err:
        record(problems, err.problem())
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        record(problems, BadFile(zip_name, f"not a readable zip archive ({err})").problem())
    case = case_from_files(files, case_id, overrides, frame_rule=frame_rule)
    case.problems[:0] = problems
    return case
