"""A small text index built directly through the models, for the search-ranking tests.

Items alternate between two accounts ("mayor", "parks"); every third is a post, the rest
comments; each item's versions are the texts given, the first visible, later ones edited.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from archiver.index.db import IndexDB, open_index
from archiver.index.models import Account, Evidence, Item, Version, WarcFile

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def text_index(path: Path | str, items: Iterator[tuple[datetime | None, list[str]]]) -> IndexDB:
    """An index at ``path`` (SQLite) or database URL holding one item per (posted time, version texts)."""
    db = open_index(path if isinstance(path, str) else f"sqlite:///{path}")
    with db.session() as session:
        accounts = [Account(name=name, platform="rss", platform_account_id=name, cursor={}, created_at=DAY)
                    for name in ("mayor", "parks")]
        session.add_all(accounts)
        session.flush()
        warc = WarcFile(key="t.warc.gz", account_id=accounts[0].id, month="2026/01", state="stored")
        session.add(warc)
        session.flush()
        evidence = Evidence(warc_file_id=warc.id, record_id="urn:uuid:t", record_type="response", offset=0,
                            length=1, target_uri="https://x", captured_at=DAY, block_digest="x")
        session.add(evidence)
        session.flush()
        for n, (posted, texts) in enumerate(items):
            item = Item(account_id=accounts[n % 2].id, platform_id=f"i{n}", kind="comment" if n % 3 else "post",
                        posted_at=posted, first_seen_at=posted or DAY, last_seen_at=posted or DAY, state="visible",
                        version_count=len(texts), latest_hash=f"i{n}")
            session.add(item)
            session.flush()
            session.add_all(Version(item_id=item.id, seq=seq, content_hash=f"i{n}.{seq}",
                                    state="visible" if seq == 1 else "edited", content={}, text=words,
                                    media_urls=[], first_observed_at=posted or DAY,
                                    last_observed_at=posted or DAY,
                                    first_evidence_id=evidence.id, last_evidence_id=evidence.id)
                            for seq, words in enumerate(texts, start=1))
    return db
