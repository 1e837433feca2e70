"""Rewriting a WARC without some of its records: the straddling case of disposition.

Every record is its own gzip member, so the surviving records are copied byte for byte (their
digests, ids and dates unchanged) and only the destroyed byte ranges are left out. A final
``metadata`` record says what was removed, from which object, under which plan. The new file
takes the old one's place in capture order: ``…-0001.warc.gz`` becomes ``…-0001.r1.warc.gz``.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from pathlib import Path

from archiver.capture.warc import WarcFileWriter
from storage.base import CHUNK, Storage, file_sha256

_REVISION = re.compile(r"\.r(\d+)\.warc\.gz$")


def rewritten_key(key: str) -> str:
    """
    >>> rewritten_key("rss/news/2026/11/rss-news-x-0001.warc.gz"), rewritten_key("a/b-0001.r1.warc.gz")
    ('rss/news/2026/11/rss-news-x-0001.r1.warc.gz', 'a/b-0001.r2.warc.gz')
    """
    match = _REVISION.search(key)
    if match:
        return key[:match.start()] + f".r{int(match.group(1)) + 1}.warc.gz"
    return key.removesuffix(".warc.gz") + ".r1.warc.gz"


@dataclass(frozen=True)
class Rewritten:
    key: str
    path: Path
    size: int
    sha256: str
    removed: tuple[tuple[int, int], ...]  # (offset, length) left out, in order

    def new_offset(self, old: int) -> int:
        """Where a surviving record that started at ``old`` now starts."""
        starts = [offset for offset, _ in self.removed]
        before = bisect.bisect_left(starts, old)
        return old - sum(length for _, length in self.removed[:before])


def rewrite(storage: Storage, key: str, removed: list[tuple[int, int]], workdir: Path,
            note: dict[str, object]) -> Rewritten:
    """Copy ``key`` into ``workdir`` without the ``removed`` byte ranges, then seal it."""
    spans = tuple(sorted(set(removed)))
    new_key = rewritten_key(key)
    path = workdir / new_key.rsplit("/", 1)[-1]
    workdir.mkdir(parents=True, exist_ok=True)
    position, index = 0, 0
    with storage.open(key) as source, path.open("wb") as sink:
        while block := source.read(CHUNK):
            start, end = position, position + len(block)
            cursor = start
            while cursor < end:
                while index < len(spans) and spans[index][0] + spans[index][1] <= cursor:
                    index += 1
                if index < len(spans) and spans[index][0] <= cursor:
                    cursor = min(end, spans[index][0] + spans[index][1])  # inside a removed range: skip
                    continue
                stop = min(end, spans[index][0]) if index < len(spans) else end
                sink.write(block[cursor - start:stop - start])
                cursor = stop
            position = end
    with WarcFileWriter(path) as writer:
        body = {"event": "disposition-rewrite", "source": key, "records_removed": len(spans)} | note
        writer.write_metadata(f"urn:archiver:disposition:{new_key}", json.dumps(body, default=str).encode())
    return Rewritten(new_key, path, path.stat().st_size, file_sha256(path), spans)
