"""The case's items as documents: each item's history and the thread it belongs to.

A records request is about items *in context*: a comment means little without the post it
answers and the replies it drew. A post's document carries its whole thread; a comment's
carries the post, the comments above it, and its own replies. Every node of the thread says
its state (hidden and deleted ones included, with their last words), when that state was
first observed and when the previous state was last seen — the two times a change lies between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.exports.package.parts import CaseDocument
from archiver.index.models import Item, Version
from archiver.items import item_history
from archiver.threads import thread

CHUNK = 200
MAX_THREAD = 2_000  # nodes shown around one item; a larger thread is cut, and says so

Redact = Callable[[CaseDocument], None]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _ancestors(session: Session, item: Item) -> list[Item]:
    """The items above ``item``, root (the post) first."""
    chain: list[Item] = []
    seen = {item.platform_id}
    parent = item.parent_platform_id
    while parent and parent not in seen:
        above = session.scalar(select(Item).where(Item.account_id == item.account_id, Item.platform_id == parent))
        if above is None:
            break
        chain.insert(0, above)
        seen.add(parent)
        parent = above.parent_platform_id
    return chain


def _timeline(session: Session, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per item: its last words (even if now hidden or deleted) and when its current state began."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(item_ids), 500):
        rows = session.execute(
            select(Version.item_id, Version.seq, Version.text, Version.state, Version.first_observed_at,
                   Version.last_observed_at)
            .where(Version.item_id.in_(item_ids[start:start + 500])).order_by(Version.item_id, Version.seq)
        ).all()
        for item_id, _seq, text, state, first, last in rows:
            entry = found.setdefault(item_id, {"text": ""})
            # The latest version's start, and the end of the one before: the change lies between.
            entry["previous_last_observed_at"] = _iso(entry.get("last_observed_at"))
            entry.update(state=state, state_first_observed_at=_iso(first), last_observed_at=last)
            if text:
                entry["text"] = text
    return found


def _node(item: Item, timeline: dict[str, Any], focus: int) -> dict[str, Any]:
    return {"id": item.id, "platform_id": item.platform_id, "kind": item.kind, "state": item.state,
            "author": item.author, "posted_at": _iso(item.posted_at), "url": item.url, "focus": item.id == focus,
            "text": timeline.get("text", ""), "state_first_observed_at": timeline.get("state_first_observed_at"),
            "previous_last_observed_at": timeline.get("previous_last_observed_at"), "replies": []}


def context(session: Session, item: Item) -> dict[str, Any]:
    """{"above": [root post, …, parent], "replies": [nested nodes under the item], "count", "truncated"}."""
    above = _ancestors(session, item)
    tree = thread(session, item)
    tree_ids: list[int] = []

    def collect(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            tree_ids.append(node["id"])
            collect(node["replies"])

    collect(tree["replies"])
    shown = tree_ids[:MAX_THREAD]
    timeline = _timeline(session, [a.id for a in above] + shown + [item.id])
    items = {i.id: i for start in range(0, len(shown), 500)
             for i in session.scalars(select(Item).where(Item.id.in_(shown[start:start + 500])))}
    kept = set(shown)

    def build(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        built = []
        for node in nodes:
            if node["id"] not in kept:
                continue
            entry = _node(items[node["id"]], timeline.get(node["id"], {}), item.id)
            entry["replies"] = build(node["replies"])
            built.append(entry)
        return built

    return {"above": [_node(a, timeline.get(a.id, {}), item.id) for a in above],
            "item": _node(item, timeline.get(item.id, {}), item.id),
            "replies": build(tree["replies"]), "count": len(tree_ids),
            "truncated": tree["truncated"] or len(tree_ids) > MAX_THREAD}


def documents(session: Session, item_ids: list[int], redact: Redact | None = None) -> Iterator[CaseDocument]:
    """The documents of ``item_ids`` in order, a chunk at a time so memory stays flat."""
    number = 0
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start:start + CHUNK]
        items = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(chunk)))}
        for item_id in chunk:
            item = items.get(item_id)
            if item is None:  # disposed since the case was built
                continue
            number += 1
            document = CaseDocument(number, f"DOC{number:06d}", item_history(session, item), context(session, item))
            if redact is not None:
                redact(document)
            yield document
        session.expunge_all()
