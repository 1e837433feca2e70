"""Rebuilding the index from WARC files alone (invariant 1).

``WarcIndexer`` reads one WARC and puts into the index exactly what a live harvest would
have: accounts and harvests from the ``warcinfo`` and summary records, evidence rows from
every response, resource and revisit record, and observations from the same connector
parser that ran live, applied in capture order. ``reindex`` runs it over every stored WARC,
oldest first per account.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from archiver import summary
from archiver.capture.body import DEFAULT_BODY_MAX_BYTES, read_stored
from archiver.capture.response import CapturedResponse, Headers
from archiver.capture.session import LOOKUP_HEADER
from archiver.capture.spool import name_order
from archiver.capture.warc import parse_warc_date
from archiver.index.db import IndexDB
from archiver.index.ledger import ensure_account, now
from archiver.index.models import (
    Account,
    Evidence,
    Harvest,
    Item,
    ItemEvidence,
    ParseProblem,
    QuarantinedRecord,
    StagedObservation,
    Version,
    WarcFile,
)
from archiver.index.recorder import Observed, VersionRecorder, insert_evidence
from archiver.quarantine import quarantine, refused_by_index
from connectors import registry
from connectors.base import checked, describe_failure
from storage.base import Storage

log = logging.getLogger(__name__)
RECORD_TYPES_WITH_PAYLOAD = ("response", "resource")


@dataclass
class IndexedFile:
    key: str
    records: int = 0
    evidence: int = 0
    observations: int = 0
    new_versions: int = 0


@dataclass
class _Context:
    account_id: int
    platform: str
    harvest_id: int | None
    warc_file_id: int


@dataclass
class _Pending:
    row: dict[str, Any]
    observations: list[Any] = field(default_factory=list)
    failure: str | None = None  # the parser raised: the record is quarantined


def warcinfo_fields(data: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if value:
            fields[name.strip()] = value.strip()
    return fields


def _payload(record: Any, limit: int) -> tuple[str, bytes | None]:
    """(SHA-256 of the entity body as stored, body with content encoding undone or None past ``limit``)."""
    headers = record.http_headers
    if headers is None:
        return read_stored(record.raw_stream, chunked=False, encoding="", limit=limit)
    chunked = "chunked" in (headers.get_header("transfer-encoding") or "").lower()
    return read_stored(record.raw_stream, chunked=chunked, encoding=headers.get_header("content-encoding") or "",
                       limit=limit)


class WarcIndexer:
    """Indexes WARC files one at a time into ``db``."""

    def __init__(self, db: IndexDB, body_max_bytes: int = DEFAULT_BODY_MAX_BYTES):
        self.db = db
        self.body_max_bytes = body_max_bytes  # no payload is decoded or parsed past this, as live
        # Harvests this indexer created (the index did not know them): their outcome comes from the
        # WARCs. Harvests the index knows keep what it recorded live (see archiver/summary.py).
        self._created: set[int] = set()
        self._summarized: set[int] = set()

    def index(self, key: str, stream: BinaryIO, *, size: int | None, sha256: str | None,
              stored: bool = True) -> IndexedFile:
        result = IndexedFile(key)
        iterator = ArchiveIterator(stream, check_digests=False)
        context: _Context | None = None
        pending: _Pending | None = None
        with self.db.session() as session:
            for record in iterator:
                result.records += 1
                kind = record.rec_type
                headers = record.rec_headers
                if kind == "warcinfo":
                    info = warcinfo_fields(record.content_stream().read())
                    context = self._context(session, key, info, headers.get_header("WARC-Date"), size, sha256, stored)
                    continue
                if context is None:  # a WARC not written by the archiver: take what the key says
                    context = self._context(session, key, {}, headers.get_header("WARC-Date"), size, sha256, stored)
                if kind == "request" and pending is not None:
                    if headers.get_header("WARC-Concurrent-To") == pending.row["record_id"]:
                        record.raw_stream.read()
                        pending.row |= {"request_record_id": headers.get_header("WARC-Record-ID"),
                                        "request_offset": iterator.get_record_offset(),
                                        "request_length": iterator.get_record_length()}
                    continue
                if pending is not None:
                    self._flush(session, context, pending, result)
                    pending = None
                if kind in (*RECORD_TYPES_WITH_PAYLOAD, "revisit"):
                    pending = self._evidence(session, context, record, iterator)
                elif kind == "metadata":
                    self._metadata(session, context, record.content_stream().read(),
                                   parse_warc_date(headers.get_header("WARC-Date")))
            if pending is not None and context is not None:
                self._flush(session, context, pending, result)
            if context is not None and context.harvest_id in self._created:
                harvest = session.get(Harvest, context.harvest_id)
                assert harvest is not None
                harvest.new_versions += result.new_versions
                if context.harvest_id not in self._summarized:  # else the summary's count stands
                    harvest.observations += result.observations
        return result

    def _context(self, session: Session, key: str, info: dict[str, str], date: str, size: int | None,
                 sha256: str | None, stored: bool) -> _Context:
        parts = key.split("/")
        platform = info.get("archiver-platform") or parts[0]
        name = info.get("archiver-account") or (parts[1] if len(parts) > 1 else "unknown")
        # A file that does not say which platform account it holds (a harvest killed before its
        # warcinfo record, cut back to nothing by recovery) must not re-point the account: that
        # would also empty its cursor.
        account = None if "archiver-account-id" in info else session.scalar(
            select(Account).where(Account.name == name))
        account = account or ensure_account(session, name, platform, info.get("archiver-account-id", ""))
        harvest_id = None
        if info.get("archiver-harvest"):
            harvest = session.scalar(select(Harvest).where(Harvest.uid == info["archiver-harvest"]))
            if harvest is None:
                started = summary.started_of(info["archiver-harvest"]) or parse_warc_date(date)
                harvest = Harvest(uid=info["archiver-harvest"], account_id=account.id,
                                  started_at=started, status="interrupted", pages=0, observations=0,
                                  new_versions=0, complete=False)
                session.add(harvest)
                session.flush()
                self._created.add(harvest.id)
            harvest_id = harvest.id
        warc = session.scalar(select(WarcFile).where(WarcFile.key == key))
        if warc is None:
            month = "/".join(parts[2:4]) if len(parts) >= 5 else parse_warc_date(date).strftime("%Y/%m")
            warc = WarcFile(key=key, account_id=account.id, harvest_id=harvest_id, month=month, size=size,
                            sha256=sha256, state="stored" if stored else "sealed",
                            stored_at=now() if stored else None)
            session.add(warc)
            session.flush()
        return _Context(account.id, platform, harvest_id, warc.id)

    def _evidence(self, session: Session, context: _Context, record: Any, iterator: ArchiveIterator) -> _Pending:
        headers = record.rec_headers
        kind = record.rec_type
        uri = headers.get_header("WARC-Target-URI") or ""
        date = headers.get_header("WARC-Date")
        status, failure = None, None
        observations: list[Any] = []
        if kind == "revisit":
            record.raw_stream.read()
            original = session.scalar(select(Evidence.payload_sha256).where(
                Evidence.record_id == headers.get_header("WARC-Refers-To")))
            stored_sha = original
            status = int(record.http_headers.get_statuscode()) if record.http_headers else None
        else:
            stored_sha, decoded = _payload(record, self.body_max_bytes)
            if kind == "resource":
                status = 200
                http_headers = Headers([("Content-Type", headers.get_header("Content-Type") or "")])
            else:
                status = int(record.http_headers.get_statuscode())
                http_headers = Headers(list(record.http_headers.headers))
            truncated = bool(headers.get_header("WARC-Truncated"))
            connector = registry.get(context.platform)
            response = CapturedResponse(uri, status, http_headers, decoded or b"", parse_warc_date(date),
                                        lookup=headers.get_header(LOOKUP_HEADER))
            if connector is not None and response.parseable and not truncated and decoded is not None:
                try:
                    observations = checked(connector.parse(response))
                except Exception as exc:  # quarantined: never the end of a reindex or a recovery
                    failure = describe_failure(exc)
        row = {
            "warc_file_id": context.warc_file_id, "record_id": headers.get_header("WARC-Record-ID"),
            "record_type": kind, "offset": iterator.get_record_offset(), "length": iterator.get_record_length(),
            "target_uri": uri, "status": status, "captured_at": parse_warc_date(date),
            "payload_sha256": stored_sha, "payload_digest": headers.get_header("WARC-Payload-Digest"),
            "block_digest": headers.get_header("WARC-Block-Digest") or "",
            "request_record_id": None, "request_offset": None, "request_length": None,
        }
        return _Pending(row, observations, failure)

    def _flush(self, session: Session, context: _Context, pending: _Pending, result: IndexedFile) -> None:
        if session.scalar(select(Evidence.id).where(Evidence.record_id == pending.row["record_id"])):
            return  # indexed before: indexing a file twice changes nothing
        [evidence_id] = insert_evidence(session, [pending.row])
        result.evidence += 1
        if pending.failure is not None:
            quarantine(session, evidence_id, pending.failure)
        if pending.observations:
            observed_at: datetime = pending.row["captured_at"]
            try:
                with session.begin_nested():  # what the index refuses quarantines this record only
                    recorder = VersionRecorder(session, context.account_id)
                    result.new_versions += recorder.apply(
                        [Observed(o, evidence_id, observed_at) for o in pending.observations])
            except Exception as exc:
                if not refused_by_index(exc):
                    raise
                log.exception("the index refused the observations of %s", pending.row["record_id"])
                quarantine(session, evidence_id, f"the index refused what the parser returned: {describe_failure(exc)}")
                return
            result.observations += len(pending.observations)

    def _metadata(self, session: Session, context: _Context, data: bytes, written_at: datetime) -> None:
        note = summary.parse(data)
        if note is None or context.harvest_id is None:
            return
        harvest = session.get(Harvest, context.harvest_id)
        assert harvest is not None
        if context.harvest_id not in self._created:  # the index's own record stands; the cursor comes back
            if note["event"] == "harvest-summary" and harvest.complete and harvest.cursor_after is not None:
                account = session.get(Account, context.account_id)
                assert account is not None
                account.cursor = harvest.cursor_after
            return
        if note["event"] == "harvest-summary":
            summary.apply(session, harvest, note, written_at)
            self._summarized.add(harvest.id)
        elif harvest.id not in self._summarized and isinstance(note.get("recovered_at"), str):
            harvest.finished_at, harvest.error = parse_warc_date(note["recovered_at"]), summary.RECOVERED


# Harvests are not here: a harvest's outcome is a fact of its run, recorded live and in its summary
# record; reindex keeps the index's record of it and rebuilds only the harvests it does not know.
DERIVED_TABLES = (StagedObservation, QuarantinedRecord, ParseProblem, ItemEvidence, Version, Item, Evidence, WarcFile)


def clear_derived(db: IndexDB) -> None:
    """Empty the tables that reindex rebuilds. Nothing that is not derived from WARCs is touched."""
    with db.session() as session:
        for table in DERIVED_TABLES:
            session.execute(delete(table))
        session.execute(Account.__table__.update().values(cursor={}))


def stored_warcs(storage: Storage) -> Iterator[tuple[str, int]]:
    """Stored WARC keys, grouped per account and in capture order within each."""
    keys = [(info.key, info.size) for info in storage.list() if info.key.endswith(".warc.gz")]
    yield from sorted(keys, key=lambda pair: (pair[0].rsplit("/", 3)[0], name_order(pair[0].rsplit("/", 1)[-1])))


def reindex(db: IndexDB, storage: Storage, progress: Callable[[str], None] | None = None,
            body_max_bytes: int = DEFAULT_BODY_MAX_BYTES) -> list[IndexedFile]:
    clear_derived(db)
    indexer = WarcIndexer(db, body_max_bytes)
    results = []
    for key, size in stored_warcs(storage):
        digest = hashlib.sha256()
        with storage.open(key) as raw:
            hashing = _HashingReader(raw, digest)
            result = indexer.index(key, hashing, size=size, sha256=None)
            hashing.drain()
        with db.session() as session:
            warc = session.scalar(select(WarcFile).where(WarcFile.key == key))
            if warc is not None:
                warc.sha256 = digest.hexdigest()
        results.append(result)
        if progress is not None:
            progress(key)
    return results


class _HashingReader:
    """Hashes a stream while warcio reads it, so a file is read from storage only once."""

    def __init__(self, raw: BinaryIO, digest: Any):
        self.raw, self.digest = raw, digest

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.raw.readline(size)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass
