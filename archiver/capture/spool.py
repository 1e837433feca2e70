"""The local spool: WARC files of a harvest while they are written, until they are stored.

The spool mirrors storage keys (``platform/account/YYYY/MM/name.warc.gz``), so a file's key is
its path. A file is ``….warc.gz.open`` while written (and flock-ed, so a second process never
mistakes a live file for an abandoned one), then sealed: flushed to disk, renamed to its final
name and hashed. Files are cut per account and calendar month of capture, and by size, so
that retention and legal holds can act on whole files; a harvest also cuts a file when what it
holds in memory for it is full (``full``), so that each file is stored and indexed as it is
cut and no harvest holds more than one file's worth (archiver/segments.py).
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archiver.capture.warc import WarcFileWriter
from storage.base import file_sha256, fsync_dir

OPEN_SUFFIX = ".open"
_SEQUENCE = re.compile(r"-(\d+)\.warc\.gz(?:\.open)?$")


def name_order(name: str) -> tuple[str, int]:
    """Sort key for WARC names: a harvest's files in their sequence even past 9999.

    >>> sorted(["x-uid-10000.warc.gz", "x-uid-9999.warc.gz"], key=name_order)
    ['x-uid-9999.warc.gz', 'x-uid-10000.warc.gz']
    """
    found = _SEQUENCE.search(name)
    return (name[:found.start()], int(found.group(1))) if found else (name, 0)


def new_harvest_uid(moment: datetime) -> str:
    # Microseconds, so that harvests of one account sort in capture order by name alone.
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def month_of(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y/%m}"


@dataclass(frozen=True)
class SealedWarc:
    key: str
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def seal(path: Path) -> SealedWarc:
    """Rename an ``.open`` file to its final name, durably, and hash it."""
    final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    os.replace(path, final)
    fsync_dir(final.parent)
    root = _spool_root(final)
    return SealedWarc(final.relative_to(root).as_posix(), final, final.stat().st_size, file_sha256(final))


def _spool_root(path: Path) -> Path:
    # platform/account/YYYY/MM/name → five levels up is the spool folder
    return path.parents[4]


class HarvestWarcs:
    """The WARC files one harvest writes, rolled by month and size.

    >>> import tempfile, pathlib
    >>> spool = pathlib.Path(tempfile.mkdtemp())
    >>> files = HarvestWarcs(spool, "rss", "city-news", "20261123T000000Z-abc123", 10**9, {})
    >>> writer = files.writer_for(datetime(2026, 11, 23, tzinfo=UTC))
    >>> writer.path.relative_to(spool).as_posix()
    'rss/city-news/2026/11/rss-city-news-20261123T000000Z-abc123-0001.warc.gz.open'
    >>> [s.key for s in files.seal_all()]
    ['rss/city-news/2026/11/rss-city-news-20261123T000000Z-abc123-0001.warc.gz']
    """

    def __init__(
        self, spool_dir: Path, platform: str, account: str, harvest_uid: str, max_bytes: int,
        warcinfo: dict[str, str], on_open: Callable[[str, str], None] | None = None,
        on_close: Callable[[Path], None] | None = None, full: Callable[[], bool] | None = None,
    ):
        self.spool_dir = spool_dir
        self.platform = platform
        self.account = account
        self.harvest_uid = harvest_uid
        self.max_bytes = max_bytes
        self.warcinfo = warcinfo
        self.on_open = on_open  # told (key, month) before the first record goes into a new file
        self.on_close = on_close  # told the path of each file once it is closed (durably written)
        self.full = full  # says when the harvest's memory for the current file is full: cut it
        self.current: WarcFileWriter | None = None
        self._month: str | None = None
        self._lock: int | None = None
        self.written: list[Path] = []

    def writer_for(self, moment: datetime) -> WarcFileWriter:
        month = month_of(moment)
        if self.current is not None and (month != self._month or self.current.size >= self.max_bytes
                                         or (self.full is not None and self.full())):
            self._close_current()
        if self.current is None:
            self._open(moment, month)
        assert self.current is not None
        return self.current

    def _open(self, moment: datetime, month: str) -> None:
        folder = self.spool_dir / self.platform / self.account / month
        folder.mkdir(parents=True, exist_ok=True)
        sequence = len(self.written) + 1
        name = f"{self.platform}-{self.account}-{self.harvest_uid}-{sequence:04d}.warc.gz{OPEN_SUFFIX}"
        path = folder / name
        if self.on_open is not None:
            self.on_open(f"{self.platform}/{self.account}/{month}/{name.removesuffix(OPEN_SUFFIX)}", month)
        writer = WarcFileWriter(path)
        self._lock = os.open(path, os.O_RDONLY)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        writer.write_warcinfo(self.warcinfo | {"WARC-Sequence": str(sequence)}, moment)
        self.current, self._month = writer, month
        self.written.append(path)

    def _close_current(self) -> None:
        closed = None
        if self.current is not None:
            self.current.close()
            closed, self.current = self.current.path, None
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None
        if closed is not None and self.on_close is not None:
            self.on_close(closed)

    def close(self) -> None:
        """Close the file being written (each closed file goes to ``on_close``)."""
        self._close_current()

    def seal_all(self) -> list[SealedWarc]:
        """Close the open file and seal every file this harvest wrote."""
        self._close_current()
        return [seal(path) for path in self.written if path.exists()]


def spool_files(spool_dir: Path) -> Iterator[Path]:
    """Every WARC in the spool, open or sealed, oldest name first."""
    if not spool_dir.exists():
        return
    found = [p for p in spool_dir.rglob("*.warc.gz*") if p.name.endswith((".warc.gz", ".warc.gz" + OPEN_SUFFIX))]
    yield from sorted(found, key=lambda p: name_order(p.name))


def try_lock(path: Path, create: bool = False) -> int | None:
    """An exclusive lock on ``path``, or None if another live process holds it.

    Closing the returned descriptor releases the lock; so does the process ending, however it
    ends, which is what makes these locks safe to use for "is that harvest still alive".
    """
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT if create else os.O_RDONLY, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def complete_records_end(path: Path) -> tuple[int, int]:
    """(offset just past the last whole record, number of whole records) of a WARC file.

    Every record is its own gzip member and a member is finished only after its record was
    written whole, so the last member whose gzip stream ends marks the last whole record.
    """
    end, count, position = 0, 0, 0
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            while block:
                try:
                    decompressor.decompress(block)
                except zlib.error:
                    return end, count
                if not decompressor.eof:
                    position += len(block)
                    break
                used = len(block) - len(decompressor.unused_data)
                position += used
                end, count = position, count + 1
                block = decompressor.unused_data
                decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    return end, count
