"""State facets of a search: the same numbers as counting each state with search.count, at a fraction of the work.

The index holds 4,000 items (bulk-inserted into the real schema): every item says "harbor",
so a count of it stops examining at COUNT_WORK matches; more than COUNT_CAP are edited; the
hidden and deleted ones are fewer. The reference is the definition the page promises: each
state counted as ``search.count`` counts the query narrowed to that state.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert

from archiver import facets
from archiver.facets import state_facets
from archiver.index.db import IndexDB, open_index
from archiver.index.models import Account, Evidence, Item, Version, WarcFile
from archiver.search import COUNT_CAP, SearchQuery, count, matching_ids, search
from sqlite_work import steps

START = datetime(2026, 1, 1, tzinfo=UTC)
ITEMS = 4_000


def new_index(url: str) -> IndexDB:
    db = open_index(url)
    with db.engine.begin() as connection:
        connection.execute(insert(Account), [
            {"id": n, "name": name, "platform": "rss", "platform_account_id": name, "cursor": {}, "created_at": START}
            for n, name in ((1, "mayor"), (2, "parks"), (3, "police"))])
        connection.execute(insert(WarcFile), [{"id": 1, "key": "t.warc.gz", "account_id": 1, "month": "2026/01",
                                               "state": "stored"}])
        connection.execute(insert(Evidence), [{"id": 1, "warc_file_id": 1, "record_id": "urn:uuid:t",
                                               "record_type": "response", "offset": 0, "length": 1,
                                               "target_uri": "https://x", "captured_at": START, "block_digest": "x"}])
    return db


def fill(db: IndexDB, first: int, items: int, start: datetime, edited: float = 0.3) -> None:
    """``items`` items from id ``first``, an hour apart from ``start``; ``edited`` of them edited (some
    twice), 4% hidden, 4% deleted and 2% edited then deleted."""
    rng = random.Random(first)
    rows, versions = [], []
    for item_id in range(first, first + items):
        posted = start + timedelta(hours=item_id - first)
        fate = rng.random()
        twice, changed = edited / 3, edited + 0.1
        later = ["edited", "edited"] if fate < twice else ["edited"] if fate < edited else \
            ["hidden"] if fate < edited + 0.04 else ["deleted"] if fate < edited + 0.08 else \
            ["edited", "deleted"] if fate < changed else []
        words = f"harbor {'ferry' if item_id % 7 == 0 else 'dock'} {rng.choice(['north', 'south', 'east'])}"
        for seq, state in enumerate(["visible", *later], start=1):
            versions.append({"item_id": item_id, "seq": seq, "content_hash": f"h{item_id}.{seq}", "state": state,
                             "content": {}, "media_urls": [], "first_evidence_id": 1, "last_evidence_id": 1,
                             "text": "" if state in ("hidden", "deleted") else f"{words} take {seq}",
                             "first_observed_at": posted + timedelta(days=seq),
                             "last_observed_at": posted + timedelta(days=seq)})
        rows.append({"id": item_id, "account_id": item_id % 3 + 1, "platform_id": f"p{item_id}",
                     "kind": "post" if item_id % 5 == 0 else "comment", "url": f"https://example.org/{item_id}",
                     "author": f"Author {item_id % 40}", "posted_at": posted, "first_seen_at": posted,
                     "last_seen_at": posted, "version_count": len(later) + 1, "state": (["visible", *later])[-1],
                     "latest_hash": "h"})
    with db.engine.begin() as connection:
        connection.execute(insert(Item), rows)
        connection.execute(insert(Version), versions)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexDB]:
    db = new_index(f"sqlite:///{tmp_path_factory.mktemp('facets') / 'index.sqlite'}")
    fill(db, 1, ITEMS, START)
    yield db
    db.dispose()


def defined(session: Any, query: SearchQuery) -> dict[str, str | None]:
    """The facets as promised: exact from the matches when the total is exact, else each state's own count."""
    unfiltered = replace(query, states=(), limit=COUNT_CAP, offset=0)
    page = search(session, query)
    if page.total_is_exact and not query.states:
        ids = set(matching_ids(session, unfiltered))
        return {state: f"{count_exact(session, unfiltered, state, ids):,}" for state in facets.STATES}
    shown: dict[str, str | None] = {"visible": None}
    for state in facets.CHANGED:
        number, exact = count(session, replace(unfiltered, states=(state,)))
        shown[state] = f"{number:,}" + ("" if exact else "+")
    return shown


def count_exact(session: Any, query: SearchQuery, state: str, ids: set[int]) -> int:
    return len(ids & set(matching_ids(session, replace(query, states=(state,)))))


def day(n: int) -> datetime:
    return START + timedelta(days=n)


QUERIES = {
    "a word in every item (count stops examining)": SearchQuery(text="harbor"),
    "a word and an account": SearchQuery(text="ferry", accounts=("parks",)),
    "a phrase": SearchQuery(text='"harbor ferry"'),
    "a rare word, all on the page": SearchQuery(text="ferry", since=day(10), until=day(20)),
    "a rare word over two pages": SearchQuery(text="ferry", since=day(10), until=day(60), limit=10),
    "a word, deleted only": SearchQuery(text="dock", states=("deleted",)),
    "a week captured": SearchQuery(captured_since=day(30), captured_until=day(37)),
    "an account, deleted only": SearchQuery(accounts=("police",), states=("deleted",)),
    "deleted only": SearchQuery(states=("hidden", "deleted")),
    "an author and a kind": SearchQuery(author="author 7", kinds=("post",)),
    "nothing matches": SearchQuery(text="zeppelin"),
}


@pytest.mark.parametrize("span", [facets.SPAN, 500])
@pytest.mark.parametrize("label", list(QUERIES))
def test_facets_are_each_states_own_count(index: IndexDB, label: str, span: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facets, "SPAN", span)  # small: broad filters take the batched path
    query = QUERIES[label]
    with index.session() as session:
        assert state_facets(session, query, search(session, query)) == defined(session, query)


def test_facets_show_the_cap_and_the_exact_numbers(index: IndexDB) -> None:
    with index.session() as session:
        broad = state_facets(session, SearchQuery(text="harbor"), search(session, SearchQuery(text="harbor")))
        months = SearchQuery(captured_since=day(30), captured_until=day(90))  # 1,440 items: past the cap
        narrow = state_facets(session, months, search(session, months))
        week = SearchQuery(captured_since=day(30), captured_until=day(37))  # 168 items: every one counted
        exact = state_facets(session, week, search(session, week))
    assert broad["visible"] is None and broad["edited"] == "1,000+"
    assert all(value is not None and value[0].isdigit() for value in (broad["hidden"], broad["deleted"]))
    assert narrow["visible"] is None and all(v and v[0].isdigit() and "+" not in v for v in
                                             (narrow["edited"], narrow["hidden"], narrow["deleted"]))
    assert exact["visible"] == "168" and "+" not in "".join(v or "" for v in exact.values())


def statements(index: IndexDB) -> list[str]:
    seen: list[str] = []
    event.listen(index.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_text_facets_read_the_text_index_once(index: IndexDB) -> None:
    query = SearchQuery(text="harbor dock")
    with index.session() as session:
        page = search(session, query)
        seen = statements(index)
        state_facets(session, query, page)
    assert sum("MATCH" in statement for statement in seen) == 1, seen


def test_a_weeks_facets_do_not_grow_with_the_edits_elsewhere(tmp_path: Path) -> None:
    """A week's items have their states looked up one by one, instead of every edited, hidden and
    deleted item of the archive being gathered to check the week's against."""
    db = new_index(f"sqlite:///{tmp_path / 'index.sqlite'}")
    fill(db, 1, 1_500, START)
    week = SearchQuery(captured_since=day(7), captured_until=day(14))  # 168 items, edited and not
    wider = SearchQuery(captured_since=day(7), captured_until=day(56))  # 1,176: more than the cap

    def work() -> list[int]:
        with db.session() as session:
            return [steps(session, lambda q=q: state_facets(session, q, search(session, q))) for q in (week, wider)]

    before = work()
    fill(db, 10_000, 3_000, START + timedelta(days=400), edited=0.8)  # a later year, edited far more
    after = work()
    assert all(a < b * 1.2 for a, b in zip(after, before, strict=True)), (before, after)
    db.dispose()


@pytest.mark.postgres
def test_facets_are_each_states_own_count_on_postgresql(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facets, "SPAN", 300)  # a small index: both ways of counting filters
    db = new_index(postgres_url)
    fill(db, 1, 1_500, START)
    try:
        for query in (SearchQuery(text="harbor"), SearchQuery(captured_since=day(7), captured_until=day(30)),
                      SearchQuery(captured_since=day(7), captured_until=day(56)), SearchQuery(states=("deleted",)),
                      SearchQuery(accounts=("police",), states=("hidden",)), SearchQuery(text="ferry", limit=10)):
            with db.session() as session:
                assert state_facets(session, query, search(session, query)) == defined(session, query), query
    finally:
        db.dispose()
