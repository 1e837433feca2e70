"""Reading a response body within limits: streamed to the spool, its decoded size bounded.

A platform's answer (or anything pretending to be one) can be small on the wire and enormous
once decoded: 2 MB of gzip inflate to 2 GiB. So a body is read a block at a time; the bytes
as received go to a temporary file in the spool (held in memory while small), the content
encoding is undone as they arrive, and reading stops as soon as the bytes received or the
decoded bytes pass the limit. What was received is still archived, as received, and marked
``WARC-Truncated: length``.

Only a body small enough to keep (``keep``) is handed to parsers; a larger one (a video) is
scanned for secrets as it streams, and re-read from its file to redact it in the rare case
that it holds one.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from archiver.capture.encoding import Dechunker, DecodedTooLarge, Decoder, dechunk, decode_content
from archiver.capture.redact import Redactor, StreamRedactor

DEFAULT_BODY_MAX_BYTES = 50_000_000  # [capture] body_max_bytes: an API answer, once decoded
IN_MEMORY_BYTES = 8 * 1024**2  # a body's file stays in memory up to this size, then goes to disk
BLOCK = 1 << 16
FRAMING = 64  # bytes a stored chunked body may carry beyond its entity (our single-chunk framing)


def spool_file(folder: Path | None) -> IO[bytes]:
    """A temporary file for one body: in memory while small, then on disk in ``folder`` (the spool),
    unnamed where the system allows, so nothing is left behind after a crash."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    return tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES, dir=folder)


@dataclass
class ReceivedBody:
    """One entity body: the bytes as received in ``file``, and what decoding them gave."""

    file: IO[bytes]
    limit: int
    size: int = 0  # bytes received (and kept)
    sha256: str = ""  # of the bytes received
    decoded: bytes | None = None  # the decoded body, when it was small enough to keep
    decoded_size: int = 0
    truncated: bool = False  # reading stopped at the limit
    undecodable: bool = False  # the content encoding did not decode: parsers see the bytes as received
    secrets: int = 0  # secrets found while streaming (bodies not kept only)
    _kept: list[bytes] = field(default_factory=list, repr=False)

    def close(self) -> None:
        self.file.close()

    def raw(self) -> bytes:
        """The bytes as received (only for bodies known to be small)."""
        self.file.seek(0)
        return self.file.read()


def read_body(read: Callable[[int], bytes], *, encoding: str, limit: int, keep: int, redactor: Redactor,
              folder: Path | None) -> ReceivedBody:
    """Read a body through ``read(n)`` until it ends or passes ``limit`` (received or decoded bytes).

    The decoded body is kept in memory if it is at most ``keep`` bytes; beyond that, it is only
    scanned for secrets (``ReceivedBody.secrets``).
    """
    body = ReceivedBody(spool_file(folder), limit)
    try:
        _read(body, read, encoding, keep, redactor)
    except BaseException:
        body.close()
        raise
    return body


def _read(body: ReceivedBody, read: Callable[[int], bytes], encoding: str, keep: int, redactor: Redactor) -> None:
    limit, digest, decoder = body.limit, hashlib.sha256(), Decoder(encoding, body.limit)
    scan: StreamRedactor | None = None
    while not body.truncated:
        block = read(min(BLOCK, limit + 1 - body.size))
        if not block:
            break
        if body.size + len(block) > limit:
            block, body.truncated = block[:limit - body.size], True
        body.file.write(block)
        digest.update(block)
        body.size += len(block)
        if body.undecodable:
            continue
        try:
            for piece in decoder.feed(block):
                scan = _take(body, piece, keep, redactor, scan)
        except DecodedTooLarge:
            body.truncated = True
        except zlib.error:
            body.undecodable = True
    body.sha256 = digest.hexdigest()
    if not body.truncated and not body.undecodable and not decoder.complete:
        body.undecodable = True  # the compressed stream was cut short: kept as received
    if body.undecodable:
        body._kept, body.decoded_size, scan = [], 0, None
        for piece in iter_file(body.file, body.size):  # parsers get the bytes as received, as they always did
            scan = _take(body, piece, keep, redactor, scan)
    if scan is None and body.truncated:  # a cut body is never parsed: only scanned, whatever its size
        scan = StreamRedactor(redactor)
        for kept in body._kept:
            scan.feed(kept)
    if scan is not None:
        scan.finish()
        body.secrets = scan.hits
    else:
        body.decoded = b"".join(body._kept)
    body._kept = []


def _take(body: ReceivedBody, piece: bytes, keep: int, redactor: Redactor,
          scan: StreamRedactor | None) -> StreamRedactor | None:
    """Keep a decoded piece while the body is small; once it is not, scan it for secrets instead."""
    body.decoded_size += len(piece)
    if scan is None and body.decoded_size <= keep:
        body._kept.append(piece)
        return None
    if scan is None:
        scan = StreamRedactor(redactor)
        for kept in body._kept:
            scan.feed(kept)
        body._kept = []
    scan.feed(piece)
    return scan


def iter_file(handle: IO[bytes], size: int) -> Iterator[bytes]:
    handle.seek(0)
    left = size
    while left > 0 and (block := handle.read(min(BLOCK * 16, left))):
        left -= len(block)
        yield block


def redacted_copy(body: ReceivedBody, encoding: str, redactor: Redactor,
                  folder: Path | None) -> tuple[IO[bytes], int, str]:
    """(file, size, sha256) of a body not kept in memory, decoded and redacted a window at a time."""
    decoder = Decoder("" if body.undecodable else encoding, body.limit)
    stream, out = StreamRedactor(redactor), spool_file(folder)
    digest, size = hashlib.sha256(), 0

    def write(data: bytes) -> None:
        nonlocal size
        out.write(data)
        digest.update(data)
        size += len(data)

    try:
        for block in iter_file(body.file, body.size):
            for piece in decoder.feed(block):
                write(stream.feed(piece))
    except (DecodedTooLarge, zlib.error):
        pass  # the body was cut there on reading too
    write(stream.finish())
    return out, size, digest.hexdigest()


def read_stored(stream: BinaryIO, *, chunked: bool, encoding: str, limit: int) -> tuple[str, bytes | None]:
    """What reindex needs from a stored record's payload: (SHA-256 of the entity body as stored,
    the body with its content encoding undone, or None when larger than ``limit``).

    The same bounds as the live harvest: a payload larger than ``limit`` (a long video, or a
    bomb written before limits existed) is hashed as it streams and never decoded, and none
    is decoded past ``limit``. A body that does not decode is given as stored, as live.
    """
    kept: list[bytes] = []
    size, too_large = 0, False
    raw_digest, entity_digest, dechunker = hashlib.sha256(), hashlib.sha256(), Dechunker()
    while block := stream.read(BLOCK * 16):
        raw_digest.update(block)
        if chunked:
            for piece in dechunker.feed(block):
                entity_digest.update(piece)
        size += len(block)
        too_large = too_large or size > limit + FRAMING
        if too_large:
            kept.clear()
        else:
            kept.append(block)
    if too_large:
        return (entity_digest if chunked and dechunker.valid else raw_digest).hexdigest(), None
    raw = b"".join(kept)
    entity = dechunk(raw) if chunked else raw
    if len(entity) > limit:  # as live: a body past the limit is never decoded nor parsed
        return hashlib.sha256(entity).hexdigest(), None
    try:
        return hashlib.sha256(entity).hexdigest(), decode_content(entity, encoding, limit) if encoding else entity
    except DecodedTooLarge:
        return hashlib.sha256(entity).hexdigest(), None
    except (zlib.error, EOFError):
        return hashlib.sha256(entity).hexdigest(), entity


class FramedPayload(io.RawIOBase):
    """A file's first ``size`` bytes framed as one chunk of ``Transfer-Encoding: chunked``, seekable,
    so a large body is written to the WARC straight from its file."""

    def __init__(self, handle: IO[bytes], size: int):
        super().__init__()
        self.handle, self.size = handle, size
        self.head = f"{size:x}\r\n".encode() if size else b""
        self.tail = b"\r\n0\r\n\r\n" if size else b"0\r\n\r\n"
        self.length = len(self.head) + size + len(self.tail)
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = max(0, min(self.length, (0, self.position, self.length)[whence] + offset))
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want, head, body_end = len(buffer), len(self.head), len(self.head) + self.size
        if self.position < head:
            data = self.head[self.position:self.position + want]
        elif self.position < body_end:
            self.handle.seek(self.position - head)
            data = self.handle.read(min(want, body_end - self.position))
        else:
            data = self.tail[self.position - body_end:self.position - body_end + want]
        buffer[:len(data)] = data
        self.position += len(data)
        return len(data)
