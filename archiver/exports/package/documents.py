"""The case's items as documents: each item's history and the thread it belongs to.

A records request is about items *in context*: a comment means little without the post it
answers and the replies it drew. A post's document carries its whole thread; a comment's
carries the post, the comments above it, and its own replies. Every node of the thread says
its state (hidden and deleted ones included, with their last words), when that state was
first observed and when the previous state was last seen — the two times a change lies between.

Documents are made a chunk at a time with a few queries per chunk, not per item: histories in
one batch, and whole threads loaded a level at a time for every post the chunk touches, kept
while later chunks still need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from archiver.exports.package.parts import CaseDocument
from archiver.index.models import Account, Item, Version
from archiver.items import ItemRef, item_histories

CHUNK = 200
MAX_THREAD = 2_000  # nodes shown under one item; a larger thread is cut, and says so
KEEP_NODES = 200_000  # thread nodes kept between chunks before the cache starts afresh

Redact = Callable[[CaseDocument], None]
Key = tuple[int, str]  # (account id, platform id)
NODE_COLUMNS = (Item.id, Item.account_id, Item.platform_id, Item.parent_platform_id, Item.kind, Item.state,
                Item.author, Item.posted_at, Item.url)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class Threads:
    """Thread items by (account, platform id), their children, and their timelines."""

    def __init__(self, session: Session):
        self.session = session
        self.nodes: dict[Key, Row[Any]] = {}
        self.children: dict[Key, list[str]] = {}
        self.loaded_roots: set[Key] = set()
        self.timeline: dict[int, dict[str, Any]] = {}
        self.accounts: dict[int, str] = {i: name for i, name in session.execute(select(Account.id, Account.name))}

    def _fetch(self, account_id: int, column: Any, values: list[str]) -> list[Row[Any]]:
        rows: list[Row[Any]] = []
        for start in range(0, len(values), 500):
            rows += self.session.execute(select(*NODE_COLUMNS).where(
                Item.account_id == account_id, column.in_(values[start:start + 500]))).all()
        return rows

    def chain(self, items: list[Item]) -> dict[int, list[Key]]:
        """Each item's ancestors, root first, fetching missing ones a level at a time."""
        unknown = [i.id for i in items if (i.account_id, i.platform_id) not in self.nodes]
        for start in range(0, len(unknown), 500):
            for row in self.session.execute(select(*NODE_COLUMNS).where(Item.id.in_(unknown[start:start + 500]))):
                self.nodes[(row.account_id, row.platform_id)] = row
        frontier = {(i.account_id, i.platform_id) for i in items}
        visited: set[Key] = set()
        while frontier:
            visited |= frontier
            following: set[Key] = set()
            missing: dict[int, set[str]] = {}
            for account_id, platform_id in frontier:
                parent = self.nodes[(account_id, platform_id)].parent_platform_id
                if not parent or (account_id, parent) in visited:
                    continue
                if (account_id, parent) in self.nodes:
                    following.add((account_id, parent))
                else:
                    missing.setdefault(account_id, set()).add(parent)
            for account_id, wanted in missing.items():  # parents never captured stay missing: the chain stops
                for row in self._fetch(account_id, Item.platform_id, sorted(wanted)):
                    self.nodes[(account_id, row.platform_id)] = row
                    following.add((account_id, row.platform_id))
            frontier = following - visited
        chains: dict[int, list[Key]] = {}
        for item in items:
            key, chain = (item.account_id, item.platform_id), []
            while (parent := self.nodes[key].parent_platform_id) and (item.account_id, parent) in self.nodes \
                    and (item.account_id, parent) not in chain:
                key = (item.account_id, parent)
                chain.insert(0, key)
            chains[item.id] = chain
        return chains

    def load(self, roots: set[Key]) -> None:
        """Every item under ``roots``, a level at a time; then their timelines."""
        todo = roots - self.loaded_roots
        if len(self.nodes) > KEEP_NODES:
            self.__init__(self.session)  # type: ignore[misc]
            return self.load(roots)
        level: dict[int, list[str]] = {}
        for account_id, platform_id in todo:
            level.setdefault(account_id, []).append(platform_id)
        new_ids = [self.nodes[key].id for key in todo if key in self.nodes]
        while level:
            following: dict[int, list[str]] = {}
            for account_id, parents in level.items():
                rows = sorted(self._fetch(account_id, Item.parent_platform_id, parents),
                              key=lambda r: (r.posted_at is None, r.posted_at, r.platform_id))
                for row in rows:
                    key = (account_id, row.platform_id)
                    if key in self.children:  # already placed (a cycle, or loaded with another root)
                        continue
                    self.nodes[key] = row
                    self.children[key] = []
                    self.children.setdefault((account_id, row.parent_platform_id), []).append(row.platform_id)
                    following.setdefault(account_id, []).append(row.platform_id)
                    new_ids.append(row.id)
            level = following
        for key in todo:
            self.children.setdefault(key, [])
        self.loaded_roots |= todo
        self._timelines(new_ids)
        return None

    def _timelines(self, item_ids: list[int]) -> None:
        """Per item: its last words (even if now hidden or deleted) and when its current state began."""
        wanted = [i for i in item_ids if i not in self.timeline]
        for start in range(0, len(wanted), 500):
            rows = self.session.execute(
                select(Version.item_id, Version.text, Version.first_observed_at, Version.last_observed_at)
                .where(Version.item_id.in_(wanted[start:start + 500])).order_by(Version.item_id, Version.seq)
            ).all()
            for item_id, text, first, last in rows:
                entry = self.timeline.setdefault(item_id, {"text": ""})
                # The latest version's start, and the end of the one before: the change lies between.
                entry["previous_last_observed_at"] = _iso(entry.get("last_observed_at"))
                entry.update(state_first_observed_at=_iso(first), last_observed_at=last)
                if text:
                    entry["text"] = text

    def node(self, key: Key, focus: int) -> dict[str, Any]:
        row = self.nodes[key]
        timeline = self.timeline.get(row.id, {})
        return {"id": str(ItemRef(self.accounts.get(row.account_id, ""), row.platform_id)),
                "platform_id": row.platform_id, "kind": row.kind, "state": row.state,
                "author": row.author, "posted_at": _iso(row.posted_at), "url": row.url, "focus": row.id == focus,
                "text": timeline.get("text", ""), "state_first_observed_at": timeline.get("state_first_observed_at"),
                "previous_last_observed_at": timeline.get("previous_last_observed_at"), "replies": []}

    def subtree(self, key: Key, focus: int) -> tuple[list[dict[str, Any]], int]:
        """The nested replies under ``key`` (at most MAX_THREAD shown) and how many there are."""
        shown = 0
        total = 0

        def build(parent: Key) -> list[dict[str, Any]]:
            nonlocal shown, total
            built = []
            for child in self.children.get(parent, []):
                child_key = (parent[0], child)
                total += 1
                if shown >= MAX_THREAD:
                    build(child_key)
                    continue
                shown += 1
                entry = self.node(child_key, focus)
                entry["replies"] = build(child_key)
                built.append(entry)
            return built

        return build(key), total


def documents(session: Session, item_ids: list[int], redact: Redact | None = None) -> Iterator[CaseDocument]:
    """The documents of ``item_ids`` in order, a chunk at a time so memory stays flat."""
    number = 0
    threads = Threads(session)
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start:start + CHUNK]
        found = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(chunk)))}
        items = [found[i] for i in chunk if i in found]  # an item disposed since the case was built is gone
        chains = threads.chain(items)
        threads.load({(chains[i.id] or [(i.account_id, i.platform_id)])[0] for i in items})
        for item, history in zip(items, item_histories(session, items), strict=True):
            number += 1
            key = (item.account_id, item.platform_id)
            replies, count = threads.subtree(key, item.id)
            context = {"above": [threads.node(k, item.id) for k in chains[item.id]],
                       "item": threads.node(key, item.id), "replies": replies, "count": count,
                       "truncated": count > MAX_THREAD}
            document = CaseDocument(number, f"DOC{number:06d}", history, context)
            if redact is not None:
                redact(document)
            yield document
        session.expunge_all()
