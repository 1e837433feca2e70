"""The recorder applies a batch of observations (one WARC file's) to items and versions: each item's
observations in the order they were captured, however often the item repeats among the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from archiver.index.db import open_index
from archiver.index.ledger import ensure_account
from archiver.index.models import Evidence, Item, ItemEvidence, Version, WarcFile
from archiver.index.recorder import Observed, VersionRecorder
from connectors.base import Observation


def test_an_item_repeated_among_others_keeps_its_order_and_every_record(tmp_path: Path) -> None:
    """A feed's profile comes with every page: here it changes on the third page and changes back on
    the fifth, between pages of entries; each page's record stays evidence of what it showed."""
    db = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    titles = ["City News", "City News", "City News (renamed)", "City News (renamed)", "City News"]
    with db.session() as session:
        account = ensure_account(session, "city", "rss", "https://city.example/feed")
        warc = WarcFile(key="rss/city/2026/03/a.warc.gz", account_id=account.id, month="2026/03", state="stored")
        session.add(warc)
        session.flush()
        records = []
        for page in range(5):
            evidence = Evidence(warc_file_id=warc.id, record_id=f"<urn:uuid:{page}>", record_type="response",
                                offset=page * 100, length=100, target_uri=f"https://city.example/feed?page={page}",
                                status=200, captured_at=start + timedelta(minutes=page), block_digest="sha1:X")
            session.add(evidence)
            session.flush()
            records.append(evidence.id)
        batch = []
        for page, title in enumerate(titles):
            at = start + timedelta(minutes=page)
            batch.append(Observed(Observation("feed", "profile", {"title": title}, text=title), records[page], at))
            batch += [Observed(Observation(f"entry-{page}-{n}", "entry", {"title": f"notice {page}.{n}"}),
                               records[page], at) for n in range(3)]
        created = VersionRecorder(session, account.id).apply(batch)
        session.commit()
        profile = session.scalar(select(Item).where(Item.platform_id == "feed"))
        assert profile is not None
        versions = session.execute(select(Version.seq, Version.content, Version.first_evidence_id,
                                          Version.last_evidence_id).where(Version.item_id == profile.id)
                                   .order_by(Version.seq)).all()
        linked = set(session.scalars(select(ItemEvidence.evidence_id).where(ItemEvidence.item_id == profile.id)))
        entries = session.scalar(select(Item.id).where(Item.kind == "entry").order_by(Item.id.desc()).limit(1))
    db.dispose()
    assert created == 3 + 15  # the profile's three versions and one for each entry
    assert [(v.seq, v.content["title"], v.first_evidence_id, v.last_evidence_id) for v in versions] == [
        (1, "City News", records[0], records[1]), (2, "City News (renamed)", records[2], records[3]),
        (3, "City News", records[4], records[4])]
    assert profile.version_count == 3 and profile.last_seen_at == start + timedelta(minutes=4)
    assert linked == set(records) and entries is not None
