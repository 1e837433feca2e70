"""Decompression bombs for the tests: a few MB on the wire that inflate to GiBs.

Built without ever holding (or compressing) the inflated bytes: zeros compressed with a full
flush reset the compressor, so every following MiB of zeros compresses to the same bytes and the
stream is that segment repeated. The checksums of the trailer are computed over zeros a MiB at
a time, so the result is a valid gzip (or zlib) stream that really inflates to ``size`` bytes.

>>> import gzip, zlib
>>> gzip.decompress(bomb(3 * MIB, "gzip")) == bytes(3 * MIB)
True
>>> zlib.decompress(bomb(2 * MIB, "deflate")) == bytes(2 * MIB)
True
"""

from __future__ import annotations

import functools
import struct
import zlib

MIB = 1024 * 1024
GIB = 1024 * MIB


@functools.cache
def bomb(size: int, encoding: str = "gzip") -> bytes:
    """``size`` bytes of zeros (a multiple of 1 MiB) as a gzip or deflate (zlib) body (made once per process)."""
    if size % MIB or size <= 0:
        raise ValueError("size must be a positive multiple of 1 MiB")
    wbits = zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MIB)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    header = 10 if encoding == "gzip" else 2  # what precedes the first deflate block
    assert head[header:] == segment, "a full flush did not reset the compressor"
    final = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # an empty last block ends the stream
    end = final.flush(zlib.Z_FINISH)
    if encoding == "gzip":
        crc = 0
        for _ in range(size // MIB):
            crc = zlib.crc32(zeros, crc)
        trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    else:  # Adler-32 of n zeros: A stays 1, B adds it n times
        trailer = struct.pack(">I", (size % 65521) << 16 | 1)
    return head + segment * (size // MIB - 1) + end + trailer
