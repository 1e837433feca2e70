"""A post's thread rebuilt from the index: the tree, sibling order, and work that does not grow with the account.

The work is measured in SQLite virtual-machine steps (a progress handler), not in time: a thread
of four comments must cost the same in an account of 300 items as in one of 3,300.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.index.db import IndexDB, open_index
from archiver.index.models import Account, Evidence, Item, Version, WarcFile
from archiver.threads import fill_last_words, thread
from sqlite_work import steps

DAY = datetime(2026, 3, 1, tzinfo=UTC)


class Thread:
    """An account with one post, its comments and replies, and as many unrelated items as asked."""

    def __init__(self, path: Path):
        self.db: IndexDB = open_index(f"sqlite:///{path}")
        self.filler = 0
        with self.db.session() as session:
            account = Account(name="mayor", platform="facebook", platform_account_id="1", cursor={}, created_at=DAY)
            session.add(account)
            session.flush()
            warc = WarcFile(key="t.warc.gz", account_id=account.id, month="2026/03", state="stored")
            session.add(warc)
            session.flush()
            evidence = Evidence(warc_file_id=warc.id, record_id="urn:uuid:t", record_type="response", offset=0,
                                length=1, target_uri="https://x", captured_at=DAY, block_digest="x")
            session.add(evidence)
            session.flush()
            self.account_id, self.evidence_id = account.id, evidence.id
            self.add(session, "post", None, 0, ["Budget hearing tonight"])
            # Comments answered out of posting order, one reply, one deleted after an edit.
            self.add(session, "c2", "post", 3, ["Second comment"])
            self.add(session, "c1", "post", 1, ["First comment"])
            self.add(session, "r1", "c1", 2, ["A reply to the first"])
            self.add(session, "c3", "post", 4, ["Mean words", "Meaner words", ""], states=["visible", "edited",
                                                                                        "deleted"])

    def add(self, session: Session, platform_id: str, parent: str | None, hours: int, texts: list[str],
            states: list[str] | None = None) -> None:
        posted = DAY + timedelta(hours=hours)
        states = states or ["visible"] * len(texts)
        item = Item(account_id=self.account_id, platform_id=platform_id, kind="comment" if parent else "post",
                    parent_platform_id=parent, posted_at=posted, first_seen_at=posted, last_seen_at=posted,
                    state=states[-1], version_count=len(texts), latest_hash=f"{platform_id}.{len(texts)}")
        session.add(item)
        session.flush()
        session.add_all(Version(item_id=item.id, seq=seq, content_hash=f"{platform_id}.{seq}", state=state,
                                content={}, text=words, media_urls=[], first_observed_at=posted,
                                last_observed_at=posted, first_evidence_id=self.evidence_id,
                                last_evidence_id=self.evidence_id)
                        for seq, (words, state) in enumerate(zip(texts, states, strict=True), start=1))

    def unrelated(self, count: int) -> None:
        """Other posts of the account, each with a comment, spread over the year."""
        with self.db.session() as session:
            for _ in range(count // 2):
                self.filler += 1
                self.add(session, f"other{self.filler}", None, self.filler * 3, [f"other post {self.filler}"])
                self.add(session, f"reply{self.filler}", f"other{self.filler}", self.filler * 3 + 1, ["ok"])

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session


def test_thread_is_the_tree_with_siblings_in_posting_order(tmp_path: Path) -> None:
    built = Thread(tmp_path / "index.sqlite")
    built.unrelated(40)
    with built.session() as session:
        post = session.scalars(select(Item).where(Item.platform_id == "post")).one()
        tree = fill_last_words(session, thread(session, post))
    assert tree["count"] == 4 and not tree["truncated"]
    assert [n["platform_id"] for n in tree["replies"]] == ["c1", "c2", "c3"]
    assert [n["platform_id"] for n in tree["replies"][0]["replies"]] == ["r1"]
    deleted = tree["replies"][2]
    assert deleted["state"] == "deleted" and deleted["text"] == "Meaner words"  # its last words, marked deleted
    built.db.dispose()


def test_thread_work_does_not_grow_with_the_account(tmp_path: Path) -> None:
    """The children of a post are found by their parent, not by walking the account in posting order."""
    built = Thread(tmp_path / "index.sqlite")
    built.unrelated(300)

    def measure() -> int:
        with built.session() as session:
            post = session.scalars(select(Item).where(Item.platform_id == "post")).one()
            return steps(session, lambda: thread(session, post))

    small = measure()
    built.unrelated(3000)
    large = measure()
    assert large < small * 2, (small, large)  # read by the parent index: the same work at 11 times the items
    built.db.dispose()
