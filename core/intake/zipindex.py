"""A zip's index, read from its end records inward, one entry at a time, never trusted.

``zipfile.ZipFile`` parses the whole central directory in its constructor, and one bad
entry (a name flagged UTF-8 that is not, a corrupt extra field, an unknown version) stops
it with an exception that loses every other member. So the index is read here:

1. the end-of-central-directory record (the last ``PK\\x05\\x06`` in the final 64 KiB),
   and, when a zip64 locator precedes it, the zip64 record; they give the entry count,
   which is checked against ``MAX_ZIP_MEMBERS`` *before* any entry is parsed, and the
   index size, checked against what that many entries can need;
2. then each entry on its own: a damaged one becomes a :class:`BadEntry`; the walk stops
   only where the index itself ends or is overwritten.

Names flagged UTF-8 (bit 11) are decoded as UTF-8; others as UTF-8 when they are valid
UTF-8 (what most current tools write without the flag) and else as cp437, the zip
format's historical code page, which decodes any bytes. A flagged name that is not
UTF-8 is read as cp437 too, and says so in ``ZipEntry.note``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from core import limits
from core.intake.errors import BadFile, TooLarge

__all__ = ["BadEntry", "ZipEntry", "read_index"]

_EOCD = struct.Struct("<4s4H2LH")  # signature, disks, entries, index size/offset, comment
_LOCATOR = struct.Struct("<4sLQL")  # zip64 locator
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end record
_ENTRY = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header
_MAX_COMMENT = 0xFFFF
#: Most bytes one index entry may take: header, a 1 KiB name, 2 KiB of extra fields and a
#: 1 KiB comment. Real entries take under 200.
_MAX_ENTRY_BYTES = _ENTRY.size + 4096
_UTF8_FLAG = 1 << 11


@dataclass(frozen=True)
class ZipEntry:
    """One readable index entry; ``offset`` is its local header's, in the bytes given."""

    path: str
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int
    note: str | None = None  # e.g. the name was not the UTF-8 its flag claimed

    @property
    def is_dir(self) -> bool:
        return self.path.endswith(("/", "\\"))

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 1)


@dataclass(frozen=True)
class BadEntry:
    """An index entry that cannot be read; ``path`` is its name when that much was read."""

    path: str
    reason: str


def _name(raw: bytes, flags: int) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        if flags & _UTF8_FLAG:
            return raw.decode("cp437"), "its name is flagged UTF-8 but is not; read as cp437"
        return raw.decode("cp437"), None


def _zip64_extra(extra: bytes, fields: list[int]) -> list[int]:
    """Replace the 0xFFFFFFFF values of ``[size, compressed, offset]`` from the zip64 field."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if kind == 1:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            for i, v in enumerate(fields):
                if v == 0xFFFFFFFF:
                    if not values:
                        raise ValueError("the zip64 field lacks a size or offset")
                    fields[i] = values.pop(0)
            return fields
        pos += 4 + length
    if 0xFFFFFFFF in fields:
        raise ValueError("a size or offset needs a zip64 field, and there is none")
    return fields


def _end_record(data: bytes, name: str) -> tuple[int, int, int, int]:
    """``(entries, index size, index start, end of index)`` from the end records."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - _EOCD.size - _MAX_COMMENT))
    if at < 0 or at + _EOCD.size > len(data):
        raise BadFile(name, "not a readable zip archive (no end-of-central-directory record)")
    _, disk, cd_disk, _, entries, size, offset, _ = _EOCD.unpack_from(data, at)
    end = at
    loc = at - _LOCATOR.size
    if loc >= 0 and data[loc : loc + 4] == b"PK\x06\x07":
        rec = loc - _EOCD64.size
        if rec < 0 or data[rec : rec + 4] != b"PK\x06\x06":
            raise BadFile(name, "not a readable zip archive (its zip64 end record is missing)")
        _, _, _, _, disk, cd_disk, _, entries, size, offset = _EOCD64.unpack_from(data, rec)
        end = rec
    if disk or cd_disk:
        raise BadFile(name, "the zip is one part of a multi-part archive; upload a single zip")
    if entries > limits.MAX_ZIP_MEMBERS:
        raise TooLarge(name, f"the zip has {entries} entries; at most {limits.MAX_ZIP_MEMBERS}")
    if size > max(entries, 1) * _MAX_ENTRY_BYTES:
        raise TooLarge(name, f"the zip's index takes {size:,} bytes for {entries} entries")
    start = end - size  # the index ends where the end records begin
    if start < 0:
        raise BadFile(name, "not a readable zip archive (its index lies outside the file)")
    return entries, size, start, start - offset  # last: bytes prepended to the zip


def read_index(data: bytes, name: str) -> list[ZipEntry | BadEntry]:
    """Every entry the index declares, in order; raises :class:`BadFile` / :class:`TooLarge`
    only for the archive as a whole (no end record, too many entries, multi-part)."""
    entries, size, pos, shift = _end_record(data, name)
    stop = pos + size
    out: list[ZipEntry | BadEntry] = []
    for i in range(entries):
        if pos + _ENTRY.size > stop or data[pos : pos + 4] != b"PK\x01\x02":
            out.append(BadEntry("", f"the zip's index is damaged after {i} of {entries} entries"))
            break
        head = _ENTRY.unpack_from(data, pos)
        flags, method = head[5], head[6]
        crc, csize, usize, n, m, k = head[9:15]  # sizes, then name/extra/comment lengths
        offset = head[18]
        raw = data[pos + _ENTRY.size : pos + _ENTRY.size + n]
        extra = data[pos + _ENTRY.size + n : pos + _ENTRY.size + n + m]
        pos += _ENTRY.size + n + m + k
        path, note = _name(raw, flags)
        if pos > stop:
            out.append(BadEntry(path, "its index entry runs past the end of the index"))
            break
        try:
            usize, csize, offset = _zip64_extra(extra, [usize, csize, offset])
        except (ValueError, struct.error) as err:
            out.append(BadEntry(path, f"its index entry is damaged ({err})"))
            continue
        out.append(ZipEntry(path, flags, method, crc, csize, usize, offset + shift, note))
    return out
