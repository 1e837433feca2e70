"""Finding items: full text (SQLite FTS5 or PostgreSQL) combined with filters, ranked, paged.

Text matches any version of an item, so words later edited away or in a deleted comment are
still found; the result is the item, shown with its current state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, column, func, literal_column, select, table
from sqlalchemy.orm import Session

from archiver.index.models import Account, Item, Version

_TOKEN = re.compile(r'"[^"]+"|\S+')


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None
    accounts: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    since: datetime | None = None  # posted at or after
    until: datetime | None = None  # posted before
    captured_since: datetime | None = None  # first captured at or after
    captured_until: datetime | None = None  # first captured before
    states: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    author: str | None = None
    limit: int = 50
    offset: int = 0

    def describe(self) -> dict[str, Any]:
        described = {k: v for k, v in self.__dict__.items() if v not in (None, (), "")}
        return {k: (v.isoformat() if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v)
                for k, v in described.items()}


@dataclass
class SearchHit:
    item_id: int
    account: str
    platform: str
    platform_id: str
    kind: str
    state: str
    posted_at: datetime | None
    author: str | None
    url: str | None
    snippet: str

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["posted_at"] = self.posted_at.isoformat() if self.posted_at else None
        return data


@dataclass
class SearchPage:
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0


def fts5_query(user_text: str) -> str:
    """User words as an FTS5 query: every word must occur; "quoted phrases" stay phrases.

    >>> fts5_query('main street "bike lane"')
    '"main" "street" "bike lane"'
    """
    terms = []
    for token in _TOKEN.findall(user_text):
        words = token.strip('"').replace('"', " ").strip()
        if words:
            terms.append(f'"{words}"')
    return " ".join(terms)


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.accounts:
        conditions.append(Account.name.in_(query.accounts))
    if query.platforms:
        conditions.append(Account.platform.in_(query.platforms))
    if query.since:
        conditions.append(Item.posted_at >= query.since)
    if query.until:
        conditions.append(Item.posted_at < query.until)
    if query.captured_since:
        conditions.append(Item.first_seen_at >= query.captured_since)
    if query.captured_until:
        conditions.append(Item.first_seen_at < query.captured_until)
    if query.states:
        conditions.append(Item.id.in_(select(Version.item_id).where(Version.state.in_(query.states))))
    if query.kinds:
        conditions.append(Item.kind.in_(query.kinds))
    if query.author:
        conditions.append(func.lower(Item.author).contains(query.author.lower()))
    return conditions


def _matching_versions(session: Session, user_text: str) -> Select[Any]:
    """(item_id, rank) of versions whose text matches, best first (lower rank is better)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        fts = table("versions_fts", column("rowid"), column("rank"), column("versions_fts"))
        # bm25 (FTS5's "rank") only works directly on the FTS table, so rank first, then group.
        ranked = (
            select(fts.c.rowid.label("version_id"), fts.c.rank.label("score"))
            .where(fts.c.versions_fts.op("MATCH")(fts5_query(user_text)))
            .subquery()
        )
        return (
            select(Version.item_id.label("item_id"), func.min(ranked.c.score).label("rank"))
            .join(ranked, ranked.c.version_id == Version.id)
            .group_by(Version.item_id)
        )
    tsquery = func.websearch_to_tsquery("english", user_text)
    vector = literal_column("versions.search_vector")
    return (
        select(Version.item_id.label("item_id"), (-func.max(func.ts_rank(vector, tsquery))).label("rank"))
        .where(vector.op("@@")(tsquery))
        .group_by(Version.item_id)
    )


def search(session: Session, query: SearchQuery) -> SearchPage:
    base = select(Item, Account.name, Account.platform).join(Account, Account.id == Item.account_id)
    conditions = _filters(query)
    if query.text and query.text.strip():
        matches = _matching_versions(session, query.text).subquery()
        base = base.join(matches, matches.c.item_id == Item.id).add_columns(matches.c.rank)
        order = [matches.c.rank, Item.posted_at.desc(), Item.id]
    else:
        order = [Item.posted_at.desc().nulls_last(), Item.id.desc()]
    if conditions:
        base = base.where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(*order).limit(query.limit).offset(query.offset)).all()
    # The latest words each item had: a deleted or hidden version has none of its own.
    latest: dict[int, str] = {}
    for item_id, words in session.execute(
        select(Version.item_id, Version.text)
        .where(Version.item_id.in_([row[0].id for row in rows]), Version.text != "")
        .order_by(Version.item_id, Version.seq)
    ):
        latest[item_id] = words
    hits = [
        SearchHit(item.id, account, platform, item.platform_id, item.kind, item.state, item.posted_at, item.author,
                  item.url, _snippet(latest.get(item.id, ""), query.text))
        for item, account, platform, *_ in rows
    ]
    return SearchPage(hits, total)


def state_counts(session: Session, query: SearchQuery) -> list[dict[str, Any]]:
    """Versions by account, month first observed and state, for the items the query matches.

    The monthly picture a records manager or a court asks for: how many comments were edited,
    hidden or deleted on which account, and when that was observed.
    """
    matching = select(Item.id).join(Account, Account.id == Item.account_id)
    conditions = _filters(SearchQuery(**{**query.__dict__, "states": ()}))
    if conditions:
        matching = matching.where(and_(*conditions))
    if query.text and query.text.strip():
        found = _matching_versions(session, query.text).subquery()
        matching = matching.join(found, found.c.item_id == Item.id)
    month = func.substr(func.cast(Version.first_observed_at, String), 1, 7)
    rows = session.execute(
        select(Account.name, month.label("month"), Version.state, func.count())
        .join(Item, Item.id == Version.item_id).join(Account, Account.id == Item.account_id)
        .where(Version.item_id.in_(matching.scalar_subquery()),
               *([Version.state.in_(query.states)] if query.states else []))
        .group_by(Account.name, month, Version.state)
        .order_by(Account.name, month, Version.state)
    ).all()
    return [{"account": a, "month": m, "state": s, "versions": n} for a, m, s, n in rows]


def _snippet(words: str, user_text: str | None, width: int = 160) -> str:
    if not words:
        return ""
    position = 0
    if user_text:
        first = fts5_query(user_text).split('"')[1:2]
        found = words.lower().find(first[0].lower()) if first else -1
        position = max(found - width // 3, 0) if found >= 0 else 0
    piece = words[position:position + width]
    return ("…" if position else "") + piece + ("…" if position + width < len(words) else "")
