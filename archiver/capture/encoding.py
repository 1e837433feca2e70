"""HTTP body encodings, shared by the recorder (live) and the WARC reader (reindex).

Both sides must turn stored bytes into the same parser input, so both use these functions.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

PIECE = 1 << 20  # decoded bytes are handed out at most a MiB at a time


class DecodedTooLarge(ValueError):
    """Undoing the content encoding would give more bytes than the limit allows."""


class Decoder:
    """Undoes a Content-Encoding (gzip, deflate) incrementally, never giving more than ``limit`` bytes.

    A small body can inflate enormously (2 MB of gzip to 2 GiB): output is produced a piece at a
    time, and ``DecodedTooLarge`` is raised as soon as it would pass the limit. Other encodings
    (and none) pass through, counted against the same limit. Bad data raises ``zlib.error``.

    >>> import gzip
    >>> decoder = Decoder("gzip", limit=10)
    >>> b"".join(decoder.feed(gzip.compress(b"hello"))), decoder.complete
    (b'hello', True)
    >>> try:
    ...     b"".join(Decoder("gzip", limit=3).feed(gzip.compress(b"hello")))
    ... except DecodedTooLarge as exc:
    ...     print(exc)
    more than 3 bytes once decoded
    """

    def __init__(self, encoding: str, limit: int | None = None):
        encoding = encoding.strip().lower()
        self.kind = "gzip" if encoding in ("gzip", "x-gzip") else "deflate" if encoding == "deflate" else ""
        self.limit = limit
        self.size = 0  # decoded bytes given out so far
        self._inflater: zlib._Decompress | None = None
        self._head = b""  # deflate: the first bytes, until they tell zlib-wrapped from raw
        self._between_members = False  # gzip: a member ended; another may follow

    @property
    def complete(self) -> bool:
        """Whether the encoded stream ended properly (always true for identity)."""
        if not self.kind:
            return True
        return self._between_members or (self._inflater is not None and self._inflater.eof)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self.kind:
            yield self._count(data)
            return
        while data:
            if self._inflater is None or self._between_members:
                data = self._start(data)
                if self._inflater is None:
                    return
            assert self._inflater is not None
            while data:
                room = PIECE if self.limit is None else min(PIECE, self.limit - self.size + 1)
                piece = self._inflater.decompress(data, room)
                if piece:
                    yield self._count(piece)
                data = self._inflater.unconsumed_tail
                if self._inflater.eof:
                    data = self._inflater.unused_data
                    self._between_members = self.kind == "gzip"
                    if not self._between_members:
                        return  # deflate has one stream; anything after it is ignored, as zlib does
                    break

    def _start(self, data: bytes) -> bytes:
        """Open the next stream (gzip: member); returns the data it should be fed."""
        if self.kind == "gzip":
            data = data.lstrip(b"\x00")  # padding between or after members, as gzip.decompress allows
            if not data:
                return b""
            self._inflater, self._between_members = zlib.decompressobj(zlib.MAX_WBITS | 16), False
            return data
        self._head += data
        if len(self._head) < 2:
            return b""
        head, self._head = self._head, b""
        wrapped = (head[0] & 0x0F) == 8 and (head[0] << 8 | head[1]) % 31 == 0  # a zlib header, else raw deflate
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return head

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.limit is not None and self.size > self.limit:
            raise DecodedTooLarge(f"more than {self.limit} bytes once decoded")
        return piece


def decode_content(body: bytes, encoding: str, limit: int | None = None) -> bytes:
    """Undo a Content-Encoding (gzip, deflate) of a whole body; other encodings are left as they are.

    Raises ``DecodedTooLarge`` past ``limit``, and ``zlib.error`` or ``EOFError`` (a stream cut
    short) for bytes that do not decode.
    """
    decoder = Decoder(encoding, limit)
    decoded = b"".join(decoder.feed(body))
    if not decoder.complete:
        raise EOFError("the compressed stream ends before its end marker")
    return decoded


class Dechunker:
    """``dechunk`` for a payload read a block at a time: gives the entity bytes as they come.

    ``valid`` says, at the end, whether the framing was whole (else the payload is not chunked
    after all and is taken as it is, as ``dechunk`` does).

    >>> d = Dechunker()
    >>> b"".join([*d.feed(b"5\\r\\nhel"), *d.feed(b"lo\\r\\n0\\r\\n\\r\\n")]), d.valid
    (b'hello', True)
    """

    def __init__(self) -> None:
        self._line = b""
        self._left = 0  # entity bytes still to come in the current chunk
        self._state = "size"  # size | data | crlf | done | broken

    @property
    def valid(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data and self._state not in ("done", "broken"):
            if self._state == "size":
                self._line += data
                end = self._line.find(b"\r\n")
                if end < 0:
                    self._state = "broken" if len(self._line) > 1024 else "size"
                    return
                try:
                    self._left = int(self._line[:end].split(b";")[0], 16)
                except ValueError:
                    self._state = "broken"
                    return
                data, self._line = self._line[end + 2:], b""
                self._state = "data" if self._left else "done"
            elif self._state == "data":
                piece, data = data[:self._left], data[self._left:]
                self._left -= len(piece)
                yield piece
                if not self._left:
                    self._state, self._line = "crlf", b""
            else:  # the two bytes (CRLF) that end a chunk's data, skipped unread as ``dechunk`` does
                need = 2 - len(self._line)
                self._line, data = self._line + data[:need], data[need:]
                if len(self._line) == 2:
                    self._state, self._line = "size", b""


def rechunk(body: bytes) -> bytes:
    """A body as one chunk of Transfer-Encoding: chunked (the framing itself is not kept).

    >>> rechunk(b"hello")
    b'5\\r\\nhello\\r\\n0\\r\\n\\r\\n'
    """
    if not body:
        return b"0\r\n\r\n"
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


def dechunk(data: bytes) -> bytes:
    """The entity body of a chunked payload; data that is not validly chunked is returned as is.

    >>> dechunk(rechunk(b"hello")), dechunk(b"not chunked")
    (b'hello', b'not chunked')
    """
    body, position = bytearray(), 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return data
        try:
            size = int(data[position:line_end].split(b";")[0], 16)
        except ValueError:
            return data
        start = line_end + 2
        if size == 0:
            return bytes(body)
        if start + size > len(data):
            return data
        body += data[start:start + size]
        position = start + size + 2
