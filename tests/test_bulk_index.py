"""The recorder's bulk path (archiver/index/bulk.py, migration 0032): what it stores is what the
ORM would have stored, its rows are found by search at once, and every other writer still gets
its rows indexed by the triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from archiver.index.bulk import insert_indexed, insert_rows
from archiver.index.db import IndexDB, open_index
from archiver.index.ledger import ensure_account
from archiver.index.models import Evidence, Item, Version, WarcFile
from archiver.index.recorder import ITEMS, Observed, VersionRecorder
from archiver.search import SearchQuery, search
from connectors.base import Observation

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _evidence(db: IndexDB) -> tuple[int, int]:
    with db.session() as session:
        account = ensure_account(session, "city", "rss", "https://city.example/feed")
        warc = WarcFile(key="rss/city/2026/03/a.warc.gz", account_id=account.id, month="2026/03", state="stored")
        session.add(warc)
        session.flush()
        evidence = Evidence(warc_file_id=warc.id, record_id="<urn:uuid:1>", record_type="response", offset=0,
                            length=100, target_uri="https://city.example/feed", status=200, captured_at=START,
                            block_digest="sha1:X")
        session.add(evidence)
        session.flush()
        return account.id, evidence.id


@pytest.fixture
def db(tmp_path: Path) -> IndexDB:
    return open_index(f"sqlite:///{tmp_path / 'index.db'}")


def test_bulk_rows_are_stored_exactly_as_the_orm_stores_them(db: IndexDB) -> None:
    """Times in and out of UTC, with and without microseconds, JSON and NULLs: byte for byte."""
    account_id, _ = _evidence(db)
    eastern = timezone(timedelta(hours=-5))
    times = [START, START.replace(microsecond=0), datetime(2026, 3, 1, 4, 30, 0, 7, tzinfo=eastern), None]
    rows = [{"account_id": account_id, "platform_id": f"{way}-{n}", "kind": "entry", "parent_platform_id": None,
             "url": f"https://city.example/{n}", "author": "Désirée \u00e9 O'Neil" if n % 2 else None,
             "posted_at": when, "first_seen_at": START, "last_seen_at": START + timedelta(seconds=n),
             "state": "visible", "version_count": 1, "latest_hash": "h",
             "metrics": {"likes": n, "nested": {"a": [1, "two"]}} if n % 2 else None,
             "metrics_observed_at": when}
            for way in ("bulk", "orm") for n, when in enumerate(times)]
    with db.session() as session:
        insert_rows(session, ITEMS, rows[:len(times)])
        session.execute(insert(ITEMS), rows[len(times):])
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT platform_id, author, posted_at, first_seen_at, last_seen_at, "
                                         "metrics, metrics_observed_at FROM items ORDER BY id")).all()
    bulk, orm = stored[:len(times)], stored[len(times):]
    assert [row[1:] for row in bulk] == [row[1:] for row in orm]
    assert bulk[2][2] == "2026-03-01 09:30:00.000007"  # another zone is stored as UTC
    with db.session() as session:  # and read back alike
        read = session.execute(select(Item.posted_at, Item.metrics).order_by(Item.id)).all()
    assert read[:len(times)] == read[len(times):]
    db.dispose()


def test_what_the_recorder_adds_is_searchable_and_other_writers_keep_their_triggers(db: IndexDB) -> None:
    account_id, evidence_id = _evidence(db)
    batch = [Observed(Observation(f"entry-{n}", "entry", {"title": f"notice {n}"},
                                  text=f"Road works on Elm street, notice {n}", author="Public Works Desk"),
                      evidence_id, START) for n in range(30)]
    with db.session() as session:
        assert VersionRecorder(session, account_id).apply(batch) == 30
    with db.session() as session:  # an item written without the recorder, as tests and tools do
        item = Item(account_id=account_id, platform_id="manual", kind="entry", author="Harbour Master",
                    first_seen_at=START, last_seen_at=START, state="visible", latest_hash="m")
        session.add(item)
        session.flush()
        session.add(Version(item_id=item.id, seq=1, content_hash="m", state="visible", content={},
                            text="Ferry timetable for Elm island", first_observed_at=START, last_observed_at=START,
                            first_evidence_id=evidence_id, last_evidence_id=evidence_id))
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM fts_deferred")) == 0  # never left behind
        road = search(session, SearchQuery(text="road works", limit=100))
        elm = search(session, SearchQuery(text="elm", limit=100))
        desk = search(session, SearchQuery(author="works desk", limit=100))
        harbour = search(session, SearchQuery(author="harbour", limit=100))
        session.execute(text("INSERT INTO versions_fts(versions_fts, rank) VALUES ('integrity-check', 1)"))
        session.execute(text("INSERT INTO items_author_fts(items_author_fts, rank) VALUES ('integrity-check', 1)"))
    assert road.total == 30 and elm.total == 31
    assert desk.total == 30 and [hit.platform_id for hit in harbour.hits] == ["manual"]
    db.dispose()


def test_a_refused_insert_leaves_the_triggers_on(db: IndexDB) -> None:
    """Rows the index refuses (here a second item with the same id) roll back with their savepoint,
    flag and all; later writes are indexed as always."""
    account_id, _ = _evidence(db)
    row = {"account_id": account_id, "platform_id": "twice", "kind": "entry", "parent_platform_id": None,
           "url": None, "author": "Parks Office", "posted_at": None, "first_seen_at": START, "last_seen_at": START,
           "state": "visible", "version_count": 1, "latest_hash": "h", "metrics": None, "metrics_observed_at": None}
    with db.session() as session:
        with pytest.raises(IntegrityError), session.begin_nested():
            insert_indexed(session, ITEMS, [row, row | {"author": "Someone Else"}])
        assert session.scalar(text("SELECT count(*) FROM fts_deferred")) == 0
        session.add(Item(account_id=account_id, platform_id="after", kind="entry", author="Parks Office",
                         first_seen_at=START, last_seen_at=START, state="visible", latest_hash="a"))
    with db.session() as session:
        assert [hit.platform_id for hit in search(session, SearchQuery(author="parks")).hits] == ["after"]
        session.execute(text("INSERT INTO items_author_fts(items_author_fts, rank) VALUES ('integrity-check', 1)"))
    db.dispose()
