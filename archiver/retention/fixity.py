"""Fixity: proof that the stored WARCs are the bytes the index says they are.

Two depths, both streamed (bounded memory whatever the object's size) and run in parallel
across objects (``workers`` threads: hashlib and zlib work outside the GIL):

- the object check (the default) reads each object once and compares its SHA-256 and size with
  the ones recorded when it was stored. Any changed byte changes the SHA-256, so it is always
  detected; an object that fails is then read again record by record to name the damaged
  record (by offset and record id) and the items in it.
- the record check (``records=True``) does the same in one pass that also inflates every gzip
  member once and recomputes every record's ``WARC-Block-Digest`` and ``WARC-Payload-Digest``,
  and checks that each record the index points to starts where the index says, with the same
  record id (``record_check``). It catches what the object's SHA-256 cannot: a record whose own
  digest is wrong in an object whose recorded SHA-256 was (re)computed over the wrong bytes.

Stored WARCs the index does not know have no recorded SHA-256; their records are always checked.
Reports list objects in the order they were chosen, whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select

from archiver import audit
from archiver.index.db import IndexDB
from archiver.index.models import Evidence, ItemEvidence, WarcFile
from archiver.items import item_refs
from archiver.retention.models import FixityRun
from archiver.retention.record_check import MemberReader, RecordDigests
from archiver.storecheck import StoreSurvey
from storage.base import CHUNK, Storage, StorageError

CHECKED_KEYS_MAX = 1000  # a run checking more objects does not list them (alerts treat "all" runs as complete)
WORKERS = min(8, os.cpu_count() or 1)  # objects checked at once, by default
RECORDS_SCOPE = " (records)"  # the end of the scope of a run that checked records too


@dataclass(frozen=True)
class Mismatch:
    key: str
    offset: int | None
    record_id: str | None
    problem: str
    items: tuple[str, ...] = ()  # the items (ACCOUNT:PLATFORM-ID) whose evidence is this record
    records_only: bool = False  # found by the record check in an object whose SHA-256 is the one stored

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "offset": self.offset, "record_id": self.record_id, "problem": self.problem,
                "items": list(self.items), "check": "records" if self.records_only else "object"}

    def __str__(self) -> str:
        where = f" record {self.record_id or '?'} at offset {self.offset}" if self.offset is not None else ""
        items = f" (items {StoreSurvey.names(list(self.items))})" if self.items else ""
        return f"{self.key}{where}: {self.problem}{items}"


@dataclass
class FixityReport:
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0
    mismatches: list[Mismatch] = field(default_factory=list)
    records: bool = False  # the record check ran, not only the object check

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _sha256_and_size(storage: Storage, key: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with storage.open_to_hash(key) as stream:
        while count := stream.readinto(buffer):  # type: ignore[attr-defined]
            digest.update(view[:count])
            size += count
    return digest.hexdigest(), size


def _against_index(warc: WarcFile, sha256: str, size: int) -> list[Mismatch]:
    problems = []
    if warc.sha256 and sha256 != warc.sha256:
        problems.append(Mismatch(warc.key, None, None, f"SHA-256 is {sha256}, the index has {warc.sha256}"))
    if warc.size is not None and size != warc.size:
        problems.append(Mismatch(warc.key, None, None, f"size is {size} bytes, the index has {warc.size}"))
    return problems


Check = Callable[[Storage], tuple[int, list[Mismatch]]]


def _readable(storage: Storage, key: str, check: Check) -> tuple[int, list[Mismatch]]:
    """``check(storage)``; an object that cannot be read is a mismatch saying why."""
    try:
        return check(storage)
    except StorageError as exc:
        marker = None if key in storage.hidden_versions() else storage.delete_marker(key)
        if marker is None or not marker.hides_version:
            return 0, [Mismatch(key, None, None, str(marker) if marker else f"cannot be read: {exc}")]
        # A delete without a version id on a versioned bucket: say so, and check what it hides.
        size, hidden = _readable(storage.with_hidden_versions(), key, check)
        state = "intact" if not hidden else f"damaged ({len(hidden)} problem(s) below)"
        return size, [Mismatch(key, None, None, f"{marker}; its newest version is {state}"), *hidden]


def check_object(storage: Storage, warc: WarcFile,
                 indexed: Callable[[], dict[int, str]] = dict) -> tuple[int, list[Mismatch]]:
    """The object check of one stored WARC: (bytes read, mismatches) of its SHA-256 and size. If they
    differ, the record check (``indexed()``: see ``check_records``) names where the bytes changed."""
    def check(store: Storage) -> tuple[int, list[Mismatch]]:
        sha256, size = _sha256_and_size(store, warc.key)
        if not _against_index(warc, sha256, size):
            return size, []
        return size, check_records(store, warc, indexed())[1]

    return _readable(storage, warc.key, check)


def check_records(storage: Storage, warc: WarcFile, indexed: dict[int, str]) -> tuple[int, list[Mismatch]]:
    """The record check of one stored WARC (``indexed``: the record ids the index has, by offset)."""
    def check(store: Storage) -> tuple[int, list[Mismatch]]:
        problems: list[Mismatch] = []

        def problem(offset: int | None, record_id: str | None, text: str) -> None:
            named = record_id or (indexed.get(offset) if offset is not None else None)
            problems.append(Mismatch(warc.key, offset, named, text))

        records = RecordDigests(problem, indexed)
        reader = MemberReader(records, problem)
        with store.open_to_hash(warc.key) as stream:
            reader.read(stream)
        whole = _against_index(warc, reader.whole.hexdigest(), reader.size)
        if not reader.broken:
            problems += [Mismatch(warc.key, offset, record_id, "the index points to a record that is not at this "
                                  "offset") for offset, record_id in records.not_found()]
        if whole and not problems:
            for offset in reader.other_headers:  # the one part of a member its CRC does not cover
                problem(offset, None, "the gzip header of this record's member was changed")
        if not whole and warc.sha256:  # the object is the one stored: the records were wrong when stored
            problems = [replace(m, records_only=True) for m in problems]
        return reader.size, problems + whole

    return _readable(storage, warc.key, check)


def _indexed(db: IndexDB, warc: WarcFile) -> dict[int, str]:
    """The record ids the index has in ``warc``, by offset (responses and the requests beside them)."""
    indexed: dict[int, str] = {}
    with db.session() as session:
        for offset, record_id, request_offset, request_id in session.execute(
                select(Evidence.offset, Evidence.record_id, Evidence.request_offset, Evidence.request_record_id)
                .where(Evidence.warc_file_id == warc.id)):
            indexed[offset] = record_id
            if request_offset is not None and request_id:
                indexed[request_offset] = request_id
    return indexed


def _check(db: IndexDB, storage: Storage, warc: WarcFile, records: bool) -> tuple[int, list[Mismatch]]:
    """One indexed WARC at the depth asked."""
    if records:
        return check_records(storage, warc, _indexed(db, warc))
    return check_object(storage, warc, lambda: _indexed(db, warc))


def _unknown(storage: Storage, key: str) -> tuple[int, list[Mismatch]]:
    size, problems = check_records(storage, WarcFile(key=key), {})
    return size, [*problems, Mismatch(key, None, None, "stored, but the index does not know it (never indexed); "
                                                       "`archiver reindex` indexes it")]


def _in_order(pool: ThreadPoolExecutor, jobs: Iterator[Callable[[], Any]], window: int) -> Iterator[Any]:
    """The jobs' results in the order given, at most ``window`` of them running or waiting."""
    running: deque[Future[Any]] = deque()
    for job in jobs:
        running.append(pool.submit(job))
        if len(running) >= window:
            yield running.popleft().result()
    while running:
        yield running.popleft().result()


def _with_items(db: IndexDB, files: list[WarcFile], mismatches: list[Mismatch]) -> list[Mismatch]:
    """Each record mismatch with the items (by their stable names) whose evidence is that record."""
    ids = {warc.key: warc.id for warc in files}
    named = []
    with db.session() as session:
        for mismatch in mismatches:
            if mismatch.offset is None or mismatch.key not in ids:
                named.append(mismatch)
                continue
            item_ids = session.scalars(
                select(ItemEvidence.item_id).join(Evidence, Evidence.id == ItemEvidence.evidence_id)
                .where(Evidence.warc_file_id == ids[mismatch.key],
                       or_(Evidence.offset == mismatch.offset, Evidence.request_offset == mismatch.offset)))
            refs = sorted(str(ref) for ref in item_refs(session, item_ids).values())
            named.append(replace(mismatch, items=tuple(refs)))
    return named


def choose(db: IndexDB, *, sample: int | None = None, since: datetime | None = None,
           keys: list[str] | None = None) -> list[WarcFile]:
    with db.session() as session:
        query = select(WarcFile).where(WarcFile.state == "stored").order_by(WarcFile.key)
        if since is not None:
            query = query.where(WarcFile.stored_at >= since)
        if keys is not None:
            query = query.where(WarcFile.key.in_(keys))
        files = list(session.scalars(query))
    if sample is not None and sample < len(files):
        files = sorted(random.sample(files, sample), key=lambda f: f.key)
    return files


def unindexed(db: IndexDB, storage: Storage) -> list[str]:
    """Stored WARCs the index does not know (stored, then never indexed): ``reindex`` indexes them."""
    with db.session() as session:
        known = set(session.scalars(select(WarcFile.key)))
    return sorted(info.key for info in storage.list() if info.key.endswith(".warc.gz") and info.key not in known)


def verify(db: IndexDB, storage: Storage, files: list[WarcFile], scope: str, unknown: list[str] | None = None,
           *, records: bool = False, workers: int = WORKERS) -> FixityReport:
    """Verify ``files`` (the object check, or with ``records`` the record check too), ``workers`` objects
    at a time; and ``unknown`` (stored, not in the index): their records, and that they are unknown.
    The run goes to ``fixity_runs`` and the audit trail."""
    report = FixityReport(records=records)
    scope += RECORDS_SCOPE if records else ""
    started, clock = datetime.now(UTC), time.perf_counter()
    jobs: list[Callable[[], tuple[int, list[Mismatch]]]] = [
        *((lambda key=key: _unknown(storage, key)) for key in unknown or []),
        *((lambda warc=warc: _check(db, storage, warc, records)) for warc in files)]
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="fixity") as pool:
        for size, problems in _in_order(pool, iter(jobs), 2 * max(1, workers)):
            report.objects += 1
            report.bytes += size
            report.mismatches += problems
    report.mismatches = _with_items(db, files, report.mismatches)
    report.seconds = time.perf_counter() - clock
    failures = [m.as_dict() for m in report.mismatches]
    with db.session() as session:
        checked = [warc.key for warc in files] if len(files) <= CHECKED_KEYS_MAX else None
        session.add(FixityRun(started_at=started, finished_at=datetime.now(UTC), scope=scope, objects=report.objects,
                              bytes=report.bytes, failures=failures, ok=report.ok, checked_keys=checked))
        audit.record(session, "fixity.verified", storage.url, scope=scope, objects=report.objects, bytes=report.bytes,
                     mismatches=len(failures), failures=failures[:50])
    return report
