"""HTTP body encodings, shared by the recorder (live) and the WARC reader (reindex).

Both sides must turn stored bytes into the same parser input, so both use these functions.
"""

from __future__ import annotations

import gzip
import zlib


def decode_content(body: bytes, encoding: str) -> bytes:
    """Undo a Content-Encoding (gzip, deflate); other encodings are left as they are."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


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
