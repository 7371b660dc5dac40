"""Raw deflate data inflated a bounded piece at a time (zip members, deflated DICOM).

``zlib.decompress`` inflates everything at once: under 1 MiB of deflate becomes about
1 GiB (deflate reaches 1032:1), and the caller only learns the size afterwards. Here each
step asks ``zlib.decompressobj().decompress`` for at most ``max_length`` bytes, so output
never passes what the caller allows, and a stream that would go on is refused as soon as
one byte beyond the cap appears.
"""

from __future__ import annotations

import zlib

from core.intake.errors import BadFile, TooLarge

__all__ = ["Inflater"]

#: Compressed bytes handed to zlib per step.
_IN_CHUNK = 64 * 1024


class Inflater:
    """A raw deflate stream (``wbits=-15``, as in zip and DICOM) read on demand.

    ``name``, ``what`` (the subject: ``"its zip data"``) and ``hint`` (appended when the
    data is corrupt) only shape messages. Corrupt data raises :class:`BadFile`, output past
    a cap :class:`TooLarge`.
    """

    def __init__(self, data: bytes | memoryview, name: str, what: str, hint: str = "") -> None:
        self._src = memoryview(data)
        self._pos = 0
        self._tail = b""
        self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        self.name, self.what, self.hint = name, what, hint
        self.total = 0  # bytes produced so far

    @property
    def finished(self) -> bool:
        """The deflate stream reached its final block."""
        return self._z.eof

    @property
    def exhausted(self) -> bool:
        """No more output can come: the stream ended, or its input ran out (cut short)."""
        return self._z.eof or (not self._tail and self._pos >= len(self._src))

    def take(self, n: int) -> bytes:
        """Up to ``n`` more bytes; fewer only when the stream is :attr:`exhausted`."""
        out = bytearray()
        while len(out) < n and not self.exhausted:
            if self._tail:
                src = self._tail
            else:
                src = self._src[self._pos : self._pos + _IN_CHUNK]
                self._pos += len(src)
            try:
                out += self._z.decompress(src, n - len(out))
            except zlib.error as err:
                raise BadFile(
                    self.name, f"{self.what} is not a valid deflate stream ({err}){self.hint}"
                ) from err
            self._tail = self._z.unconsumed_tail
        self.total += len(out)
        return bytes(out)

    def rest(self, cap: int, why: str) -> bytes:
        """Everything left, refused with :class:`TooLarge` if the whole would pass ``cap``.

        ``cap`` counts from the start of the stream, including what :meth:`take` returned;
        ``why`` says where the cap comes from, for the message.
        """
        data = self.take(max(0, cap - self.total))
        if not self.exhausted and self.take(1):
            raise TooLarge(
                self.name,
                f"{self.what} inflates past {cap:,} bytes ({why}); refused as a possible "
                "decompression bomb, and inflating stopped there",
            )
        return data
