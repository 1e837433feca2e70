"""State facets of a search: how many of the matching items were ever visible, edited, hidden, deleted.

Counted like the search total: exactly when the search matched at most ``COUNT_CAP`` items, else
per state up to the cap ("1,000+"), each state as ``search.count`` would count the query narrowed
to it. Beyond the cap, "visible" is not counted: nearly every item was visible once, and counting
them would read the whole index.

The states are counted together where one query can, never repeating the text match, and never
by gathering every version in a state across the archive (50,000 edited ones at a million items)
to check a week's worth of items against them:

- text (SQLite): the same first ``COUNT_WORK`` text matches a count examines, read once, then the
  states of the items they belong to, from the (state, item) index, all states in one query;
- filters only, passed by at most ``SPAN`` items: those items' states, from the same index;
- filters passed by more items (or none): each state's own items in id order, each checked
  against the filters, until past the cap (a broad filter passes many, so this stops soon);
- text on PostgreSQL: each state by ``search.count``.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import ColumnElement, Select, column, distinct, func, select, table
from sqlalchemy.orm import Session

from archiver.index.models import Item, Version
from archiver.search import COUNT_CAP, SearchPage, SearchQuery, _filters, count, fts5_query, matching_ids
from archiver.search.engine import COUNT_WORK

STATES = ("visible", "edited", "hidden", "deleted")
CHANGED = STATES[1:]
SPAN = 20_000  # filtered items whose states are read all at once (about what three capped counts cost)
_FTS = table("versions_fts", column("rowid"), column("versions_fts"))

Counted = dict[str, tuple[int, bool]]  # state: (items, whether every match was examined)


def state_facets(session: Session, query: SearchQuery, page: SearchPage) -> dict[str, str | None]:
    """{state: "12" | "1,000+" | None (not counted)} for the items ``query`` matches, ignoring its own states."""
    unfiltered = replace(query, states=(), limit=COUNT_CAP, offset=0)
    if page.total_is_exact and not query.states:
        if query.offset == 0 and page.total <= len(page.hits):  # the page shows every match
            ids = [hit.item_id for hit in page.hits]
        else:
            ids = matching_ids(session, unfiltered)
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            for state, number in session.execute(
                    select(Version.state, func.count(distinct(Version.item_id)))
                    .where(Version.item_id.in_(ids[start:start + 500])).group_by(Version.state)):
                found[state] = found.get(state, 0) + number
        return {state: f"{found.get(state, 0):,}" for state in STATES}
    facets: dict[str, str | None] = {"visible": None}
    for state, (number, complete) in _counted(session, unfiltered).items():
        facets[state] = f"{min(number, COUNT_CAP):,}" + ("" if complete and number <= COUNT_CAP else "+")
    return facets


def _counted(session: Session, query: SearchQuery) -> Counted:
    conditions = _filters(session, query)
    terms = fts5_query(query.text) if query.text else ""
    if terms and session.get_bind().dialect.name == "sqlite":
        # Unranked, FTS5 hands matches over in rowid order: the versions search.count examines.
        examined = list(session.scalars(select(_FTS.c.rowid).where(_FTS.c.versions_fts.op("MATCH")(terms))
                                        .limit(COUNT_WORK)))
        matched = (select(Version.item_id).join(Item, Item.id == Version.item_id)
                   .where(Version.id.in_(examined), *conditions))
        return _by_state(session, matched, complete=len(examined) < COUNT_WORK)
    filtered = select(Item.id).where(*conditions)
    if not terms and conditions and _at_most(session, filtered, SPAN):
        return _by_state(session, filtered, complete=True)
    if terms:
        return {state: count(session, replace(query, states=(state,))) for state in CHANGED}
    return {state: _from_state(session, state, conditions) for state in CHANGED}


def _at_most(session: Session, items: Select[tuple[int]], limit: int) -> bool:
    return session.scalar(items.limit(1).offset(limit)) is None  # no item past the limit


def _by_state(session: Session, items: Select[tuple[int]], complete: bool) -> Counted:
    """How many of ``items`` were ever in each changed state: a probe of the (state, item) index per item and state."""
    found = dict(session.execute(
        select(Version.state, func.count(distinct(Version.item_id)))
        .where(Version.state.in_(CHANGED), Version.item_id.in_(items)).group_by(Version.state)).all())
    return {state: (found.get(state, 0), complete) for state in CHANGED}


def _from_state(session: Session, state: str, conditions: list[ColumnElement[bool]]) -> tuple[int, bool]:
    """Items ever in ``state`` that pass ``conditions``, up to the cap: the state's items in id order,
    each checked against the filters (one query that can only be run that way round)."""
    passes = select(Item.id).where(Item.id == Version.item_id, *conditions).exists()
    items = (select(Version.item_id).where(Version.state == state, passes).group_by(Version.item_id)
             .limit(COUNT_CAP + 1))
    return session.scalar(select(func.count()).select_from(items.subquery())) or 0, True
