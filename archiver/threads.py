"""A post's whole thread: its comments and their replies at any depth, rebuilt from the index.

Every comment and reply names its parent (``items.parent_platform_id``), so the thread is the
tree under the post. Each node carries the item's latest state and text and its latest observed
counts; ``archiver show`` prints it indented, ``--json`` gives it nested.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from archiver.index.models import Account, Item, Version
from archiver.items import ItemRef

MAX_NODES = 50_000  # a thread larger than this is cut, and says so


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def thread(session: Session, item: Item) -> dict[str, Any]:
    """{"replies": [...nested nodes...], "count": N, "truncated": bool} under ``item``."""
    account = session.get(Account, item.account_id)
    name = account.name if account else ""
    nodes: dict[str, dict[str, Any]] = {}
    children: dict[str, list[str]] = {}
    level, total = [item.platform_id], 0
    while level and total < MAX_NODES:
        rows = session.execute(
            select(Item.platform_id, Item.parent_platform_id, Item.kind, Item.state, Item.author, Item.posted_at,
                   Item.metrics, Version.text)
            .join(Version, and_(Version.item_id == Item.id, Version.seq == Item.version_count))
            .where(Item.account_id == item.account_id, Item.parent_platform_id.in_(level))
        ).all()
        level = []
        # Siblings in posting order, undated last (as packages show them), sorted here: asked to
        # order by the posted time, a planner without statistics (SQLite is never ANALYZEd) walks
        # every item of the account in posting order to spare itself sorting a handful of rows.
        for row in sorted(rows, key=lambda r: (r.posted_at is None, r.posted_at, r.platform_id)):
            if row.platform_id in nodes or row.platform_id == item.platform_id:
                continue
            nodes[row.platform_id] = {"id": str(ItemRef(name, row.platform_id)), "platform_id": row.platform_id,
                                      "kind": row.kind, "state": row.state, "author": row.author,
                                      "posted_at": _iso(row.posted_at), "text": row.text,
                                      "metrics": row.metrics or {}, "replies": []}
            children.setdefault(row.parent_platform_id, []).append(row.platform_id)
            level.append(row.platform_id)
            total += 1

    def build(parent: str) -> list[dict[str, Any]]:
        built = []
        for child in children.get(parent, []):
            node = nodes[child]
            node["replies"] = build(child)
            built.append(node)
        return built

    return {"count": total, "truncated": total >= MAX_NODES, "replies": build(item.platform_id)}


def thread_lines(tree: dict[str, Any], width: int = 100) -> list[str]:
    """The tree as indented lines: "└ [hidden] Ana Ortiz 2026-11-02 10:31: text… (id)"."""
    lines: list[str] = []

    def walk(nodes: list[dict[str, Any]], depth: int) -> None:
        for node in nodes:
            state = "" if node["state"] in ("visible", "edited") else f"[{node['state']}] "
            when = (node["posted_at"] or "")[:16].replace("T", " ")
            text = " ".join((node["text"] or "").split())
            text = text if len(text) <= width else text[: width - 1] + "…"
            lines.append(f"{'  ' * depth}└ {state}{node['author'] or '-'} {when}: {text}  ({node['id']})")
            walk(node["replies"], depth + 1)

    walk(tree["replies"], 0)
    return lines


def fill_last_words(session: Session, tree: dict[str, Any]) -> dict[str, Any]:
    """Give hidden and deleted nodes (whose latest version keeps no words) the last words they had."""
    wordless: dict[ItemRef, dict[str, Any]] = {}

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            if not node["text"]:
                wordless[ItemRef.parse(node["id"])] = node
            walk(node["replies"])

    walk(tree["replies"])
    for account in sorted({ref.account for ref in wordless}):
        wanted = sorted(ref.platform_id for ref in wordless if ref.account == account)
        for start in range(0, len(wanted), 500):
            for platform_id, words in session.execute(
                    select(Item.platform_id, Version.text).join(Version, Version.item_id == Item.id)
                    .join(Account, Account.id == Item.account_id)
                    .where(Account.name == account, Item.platform_id.in_(wanted[start:start + 500]),
                           Version.text != "").order_by(Item.id, Version.seq)):
                wordless[ItemRef(account, platform_id)]["text"] = words  # ordered by seq: the last one wins
    return tree
