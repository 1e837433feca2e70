"""Finding items: full text (SQLite FTS5 or PostgreSQL) combined with filters, ranked, paged.

Text matches any version of an item, so words later edited away or in a deleted comment are
still found; the result is the item, shown with its current state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, column, false, func, literal_column, select, table
from sqlalchemy.orm import Session

from archiver.index.models import Account, Item, Version
from archiver.search import postgres
from archiver.search.filtered import ranked_items
from archiver.search.phrase import one_term, ranked_slice
from archiver.search.syntax import parse

# Counting every match of a common word costs more than the page itself; past this many,
# a search reports "at least" (total_is_exact False) instead of reading on. Whole selections
# (exports, cases, holds) use matching_ids, which is never capped.
COUNT_CAP = 1_000
# SQLite: counting text matches examines at most this many matching versions (a lower bound beyond).
COUNT_WORK = 5_000
# SQLite: bm25 ranks at most this many versions matching one word at a time (see _sqlite_ranked).
RANK_SLICE = 5_000
_FTS = table("versions_fts", column("rowid"), column("rank"), column("versions_fts"))
# SQLite: a search reads its pages through a memory map of up to this much of the index file,
# not copies into the connection's small page cache (2 MB by default, so a search at 1M items
# reads most pages again with a system call each). The map takes no memory of its own: the
# pages are the operating system's file cache, shared by every connection and process.
MMAP_BYTES = 1 << 30


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

    def __post_init__(self) -> None:
        if self.text is not None and not self.text.strip():  # blank words are no words, not a search for ""
            object.__setattr__(self, "text", None)

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
    total: int = 0  # exact up to COUNT_CAP; beyond it, a lower bound (see total_is_exact)
    total_is_exact: bool = True

    def total_text(self) -> str:
        """The count for people: "1,234", or "1,000+" when counting stopped at the cap."""
        return f"{self.total:,}" + ("" if self.total_is_exact else "+")


def fts5_query(user_text: str) -> str:
    """User words as an FTS5 query (search/syntax.py): every word must occur; "quoted phrases" stay
    phrases; "" when there is nothing to search for. Raises QueryError for syntax it refuses.

    >>> fts5_query('main street "bike lane"')
    '"main" "street" "bike lane"'
    """
    return parse(user_text).fts5()


def _filters(session: Session, query: SearchQuery) -> list[ColumnElement[bool]]:
    """Conditions on ``items`` only, so the text search can stream matches through them."""
    conditions: list[ColumnElement[bool]] = []
    if query.text is not None and not _has_text(query):  # only punctuation ("): nothing, never everything
        conditions.append(false())
    if query.text is not None and parse(query.text).excluded:
        conditions.append(Item.id.not_in(_holding_excluded(session, query.text)))
    if query.accounts or query.platforms:
        accounts = select(Account.id)
        if query.accounts:
            accounts = accounts.where(Account.name.in_(query.accounts))
        if query.platforms:
            accounts = accounts.where(Account.platform.in_(query.platforms))
        if session.get_bind().dialect.name != "sqlite":
            # The ids themselves let PostgreSQL's planner walk (account_id, posted_at) for them.
            accounts = list(session.scalars(accounts))  # type: ignore[assignment]
        conditions.append(Item.account_id.in_(accounts))
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
        conditions.append(_author_matches(session, query.author))
    return conditions


def _holding_excluded(session: Session, text: str) -> Select[Any]:
    """Items with a version holding a word or phrase the query leaves out (-word): left out whole, so
    neither an earlier version without the word nor the engine's NOT (per version) brings them back."""
    parsed = parse(text)
    if session.get_bind().dialect.name == "sqlite":
        versions = select(_FTS.c.rowid).where(_FTS.c.versions_fts.op("MATCH")(parsed.fts5_excluded()))
        return select(Version.item_id).where(Version.id.in_(versions))
    return select(Version.item_id).where(literal_column("versions.search_vector").op("@@")(parsed.excluded_tsquery()))


def _author_matches(session: Session, author: str) -> ColumnElement[bool]:
    contains = func.lower(Item.author).contains(author.lower(), autoescape=True)
    if session.get_bind().dialect.name != "sqlite" or len(author) < 3 or any(c in author for c in "%_\\"):
        return contains
    # A trigram index finds substrings without reading every item (migration 0009). FTS5 only
    # takes a plain two-argument LIKE, hence no wildcards above; the exact test stays as well.
    trigrams = table("items_author_fts", column("rowid"), column("author"))
    narrowed = select(trigrams.c.rowid).where(trigrams.c.author.like(f"%{author}%"))
    return and_(Item.id.in_(narrowed), contains)


def _has_text(query: SearchQuery) -> bool:
    return bool(query.text and fts5_query(query.text))


def _newest_first(session: Session, query: SearchQuery) -> list[Any]:
    # SQLite sorts NULL lowest, so DESC already puts undated items last and can walk the index.
    if session.get_bind().dialect.name == "sqlite":
        return [Item.posted_at.desc(), Item.id.desc()]
    if query.captured_since or query.captured_until:
        # The same order, spelled so PostgreSQL cannot walk ix_items_newest (migration 0030): items
        # are captured soon after they are posted, so walking newest first to fill a page from a
        # capture window reads every item posted since; the window's items are sorted instead.
        return [Item.posted_at.is_(None), Item.posted_at.desc(), Item.id.desc()]
    return [Item.posted_at.desc().nulls_last(), Item.id.desc()]


def _sqlite_matches(query: SearchQuery, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """Item ids of matching versions, best first, one row per version (an item may repeat).

    FTS5 sorts its matches by bm25 itself, and the joins run row by row as the caller reads,
    so a page costs the ranking plus the rows read, not a grouping of every match.
    """
    return (
        select(Version.item_id)
        .select_from(_FTS)
        .join(Version, Version.id == _FTS.c.rowid)
        .join(Item, Item.id == Version.item_id)
        .where(_FTS.c.versions_fts.op("MATCH")(fts5_query(query.text or "")), *conditions)
        .order_by(_FTS.c.rank)
    )


def _sqlite_ranked(session: Session, query: SearchQuery, conditions: list[ColumnElement[bool]],
                   skip: int = 0, known: set[int] | None = None) -> Iterator[int]:
    """Item ids, best first within slices of matching versions, newest slice first.

    bm25 costs a few microseconds per match, so ranking all 600,000 versions holding a word as
    common as "the" takes seconds. Ranking the newest slice first keeps a page fast; when a word
    matches fewer versions than a slice (most searches) the ranking is over every match.

    The first ``skip`` distinct items are only counted by the caller (they precede its page), so
    a slice whose items all fall among them is read unranked: the same items, in any order.
    Items of slices read whole before their first row is handed over are added to ``known``.
    """
    terms = fts5_query(query.text or "")
    words = _FTS.c.versions_fts.op("MATCH")(terms)
    # bm25 of a phrase or several words matches position lists per word, so slices shrink.
    size = max(RANK_SLICE // len(terms.split()), 1)
    # One quoted phrase alone: its bm25 order needs no count over the whole index (search/phrase.py).
    term = one_term(session, parse(query.text or "").plain_phrases())
    upper: int | None = None
    seen: set[int] = set()  # while counting up to skip
    while True:
        lower: int | None = None
        if term is None or len(seen) < skip:
            newest = select(_FTS.c.rowid).where(words, *([_FTS.c.rowid < upper] if upper is not None else []))
            lower = session.scalar(newest.order_by(_FTS.c.rowid.desc()).limit(1).offset(size - 1))
            if len(seen) < skip:
                before = set(session.scalars(_sqlite_matches(query, [*conditions, *_bounds(lower, upper)])
                                             .order_by(None)))
                if len(seen | before) <= skip:
                    seen |= before
                    yield from before
                    if lower is None:
                        return
                    upper = lower
                    continue
        # A phrase's slice is found and ranked in one pass; None: FTS5 ranks it (search/phrase.py).
        ranked, lower = ranked_slice(session, term, terms, size, upper, conditions) if term else (None, lower)
        if ranked is not None:
            if known is not None:
                known.update(ranked)
            if len(seen) < skip:
                seen.update(ranked)
            yield from ranked
        else:
            yield from _fts5_ranked(session, _sqlite_matches(query, [*conditions, *_bounds(lower, upper)]), seen,
                                    skip)
        if lower is None:
            return
        upper = lower


def _bounds(lower: int | None, upper: int | None) -> list[ColumnElement[bool]]:
    """A slice of matches: versions_fts rowids in [lower, upper), either end open when None."""
    return [*([_FTS.c.rowid >= lower] if lower is not None else []),
            *([_FTS.c.rowid < upper] if upper is not None else [])]


def _fts5_ranked(session: Session, statement: Select[Any], seen: set[int], skip: int) -> Iterator[int]:
    """A slice's item ids as FTS5 ranks them, noting those among the first ``skip``."""
    with session.execute(statement) as rows:  # closed if the reader stops
        for chunk in rows.yield_per(200).scalars().partitions():
            if len(seen) < skip:
                seen.update(chunk)
            yield from chunk


def _ordered(session: Session, query: SearchQuery) -> tuple[Select[Any], bool]:
    """The ids the query matches in result order, and whether rows may repeat an item."""
    conditions = _filters(session, query)
    if not _has_text(query):
        return select(Item.id).where(*conditions).order_by(*_newest_first(session, query)), False
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_matches(query, conditions), True
    return postgres.matching_versions(query.text or "", conditions).with_only_columns(Version.item_id), True


def _filtered_first(session: Session, query: SearchQuery) -> list[int] | None:
    """All matches ranked after reading the filtered items first, when the filters are selective."""
    if session.get_bind().dialect.name != "sqlite" or not _has_text(query):
        return None
    return ranked_items(session, parse(query.text or "").plain_phrases(), _filters(session, query),
                        fts5_query(query.text or ""))


def _id_rows(session: Session, query: SearchQuery, skip: int = 0, known: set[int] | None = None) -> Iterator[int]:
    """Item ids in result order, possibly repeating an item (first is its best).

    The first ``skip`` distinct items may come in any order (the caller only counts them).
    Matching items seen on the way may be added to ``known`` (see _sqlite_ranked).
    """
    statement, repeats = _ordered(session, query)
    if not repeats:
        return iter(session.scalars(statement.execution_options(yield_per=1000)))
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_ranked(session, query, _filters(session, query), skip, known)
    return iter(postgres.all_ids(session, query.text or "", _filters(session, query)))


def _distinct(rows: Iterator[int], stop: int | None) -> tuple[list[int], bool]:
    """First occurrences of item ids, up to ``stop`` of them; and whether the rows ran out."""
    seen: dict[int, None] = {}
    for item_id in rows:
        seen.setdefault(item_id)
        if stop is not None and len(seen) >= stop:
            return list(seen), False
    return list(seen), True


def matching_ids(session: Session, query: SearchQuery) -> list[int]:
    """Every item the query matches, in search order (best first, or newest first); no paging."""
    _mapped(session)
    ranked = _filtered_first(session, query)
    if ranked is not None:
        return ranked
    return _distinct(_id_rows(session, query), None)[0]


def _count(session: Session, query: SearchQuery) -> tuple[int, bool]:
    """How many items match, counted up to COUNT_CAP; and whether that is the exact number."""
    conditions = _filters(session, query)
    complete = True
    if not _has_text(query):
        found = select(Item.id).where(*conditions)
    elif session.get_bind().dialect.name == "sqlite":
        # Unranked, FTS5 hands matches over in rowid order without scoring them; but each still
        # costs two lookups, so with selective filters only the first COUNT_WORK are examined.
        words = _FTS.c.versions_fts.op("MATCH")(fts5_query(query.text or ""))
        examined = select(_FTS.c.rowid.label("version_id")).where(words).limit(COUNT_WORK).subquery()
        found = (select(Version.item_id).join(examined, examined.c.version_id == Version.id)
                 .join(Item, Item.id == Version.item_id).where(*conditions).distinct())
        matches = select(_FTS.c.rowid).where(words).limit(COUNT_WORK).subquery()
        complete = (session.scalar(select(func.count()).select_from(matches)) or 0) < COUNT_WORK
    else:
        return postgres.count(session, query.text or "", conditions, COUNT_CAP)
    counted = session.scalar(select(func.count()).select_from(found.limit(COUNT_CAP + 1).subquery())) or 0
    return min(counted, COUNT_CAP), counted <= COUNT_CAP and complete


def _page_ids(session: Session, query: SearchQuery, stop: int) -> tuple[list[int], int, bool]:
    """The first ``stop`` ids in result order, and the count (exact, or a lower bound)."""
    statement, repeats = _ordered(session, query)
    if repeats and session.get_bind().dialect.name != "sqlite":
        return _postgres_page(session, query, stop)
    known: set[int] = set()
    if repeats:
        found, exhausted = _distinct(_id_rows(session, query, query.offset, known), stop)
    else:
        found = list(session.scalars(statement.limit(stop)))
        exhausted = len(found) < stop
    if exhausted:  # the page read every match, so the count is known without another query
        return found, len(found), True
    if len(known) > COUNT_CAP:  # ranking already saw more items than a count reports
        return found, max(COUNT_CAP, stop), False
    total, exact = _count(session, query)
    return found, (max(total, stop) if not exact else total), exact


def _postgres_page(session: Session, query: SearchQuery, stop: int) -> tuple[list[int], int, bool]:
    """As _page_ids, for text on PostgreSQL: a count goes on from the slices the page read."""
    conditions = _filters(session, query)
    walk = postgres.page_ids(session, query.text or "", conditions, stop, query.offset)
    found, seen = list(walk.placed)[:stop], len(walk.placed)
    if walk.exhausted and (seen < stop or seen <= COUNT_CAP):  # every match read: the count is known
        return found, seen, True
    if seen > COUNT_CAP:  # past the cap, reported as counting would
        return found, max(COUNT_CAP, stop), False
    total, exact = postgres.count(session, query.text or "", conditions, COUNT_CAP, walk)
    return found, (max(total, stop) if not exact else total), exact


def _mapped(session: Session) -> None:
    """Read through the memory map (MMAP_BYTES) on this connection; a no-op when it already does."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")


def search(session: Session, query: SearchQuery) -> SearchPage:
    stop = query.offset + query.limit
    _mapped(session)
    ranked = _filtered_first(session, query)
    if ranked is not None:  # every match is known, so is the count
        found, total, exact = ranked[:stop], len(ranked), True
    else:
        found, total, exact = _page_ids(session, query, stop)
    ids = found[query.offset:stop]
    # Items by key, accounts apart: joined, the planner may walk accounts and all their items.
    items = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(ids)))} if ids else {}
    accounts = {a: (name, platform) for a, name, platform in session.execute(
        select(Account.id, Account.name, Account.platform)
        .where(Account.id.in_({item.account_id for item in items.values()})))} if ids else {}
    # The latest words each item had: a deleted or hidden version has none of its own.
    latest: dict[int, str] = {}
    for item_id, words in session.execute(
        select(Version.item_id, Version.text)
        .where(Version.item_id.in_(ids), Version.text != "")
        .order_by(Version.item_id, Version.seq)
    ):
        latest[item_id] = words
    hits = []
    for item_id in ids:
        item = items[item_id]
        account, platform = accounts[item.account_id]
        hits.append(SearchHit(item.id, account, platform, item.platform_id, item.kind, item.state, item.posted_at,
                              item.author, item.url, _snippet(latest.get(item.id, ""), query.text)))
    return SearchPage(hits, total, exact)


def state_counts(session: Session, query: SearchQuery) -> list[dict[str, Any]]:
    """Versions by account, month first observed and state, for the items the query matches.

    The monthly picture a records manager or a court asks for: how many comments were edited,
    hidden or deleted on which account, and when that was observed.
    """
    matching, _ = _ordered(session, SearchQuery(**{**query.__dict__, "states": ()}))
    month = func.substr(func.cast(Version.first_observed_at, String), 1, 7)
    rows = session.execute(
        select(Account.name, month.label("month"), Version.state, func.count())
        .join(Item, Item.id == Version.item_id).join(Account, Account.id == Item.account_id)
        .where(Version.item_id.in_(matching.order_by(None).scalar_subquery()),
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
        first = parse(user_text).shown()[:1]
        found = words.lower().find(first[0].lower()) if first else -1
        position = max(found - width // 3, 0) if found >= 0 else 0
    piece = words[position:position + width]
    return ("…" if position else "") + piece + ("…" if position + width < len(words) else "")
