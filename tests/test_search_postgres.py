"""PostgreSQL text search by newest-first slices: the ranking it had where a query fits one slice,
the slice order beyond, capped counts, and whole selections in the same order as the pages."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, literal_column, select, text
from sqlalchemy.orm import Session

import archiver.search.engine as search_engine
import archiver.search.postgres as search_postgres
from archiver.index.db import IndexDB
from archiver.index.models import Item, Version
from archiver.search import SearchQuery, count, matching_ids, search
from archiver.search.syntax import parse
from search_helpers import DAY, text_index

VOCABULARY = ["park", "parks", "parking", "budget", "budgets", "lane", "bike", "road", "tax", "hearing", "meeting",
              "library", "the", "of", "x-ray", "2026", "bike lane", "lane bike"]
QUERIES = ["park", "budget lane", '"bike lane"', "tax road", "parking budgets", "hearing", '"the park"', "nothing",
           "bike OR road", "park -lane", "budg*"]


def _ranked_before(session: Session, query: SearchQuery) -> list[int]:
    """What PostgreSQL search returned before slices: every match ranked by its best version (the
    statement it ran, with the engine's own filters)."""
    tsquery, vector = parse(query.text or "").tsquery(), literal_column("versions.search_vector")
    ranked = (select(Version.item_id.label("item_id"), (-func.max(func.ts_rank(vector, tsquery))).label("rank"))
              .where(vector.op("@@")(tsquery)).group_by(Version.item_id).subquery())
    return list(session.scalars(select(Item.id).join(ranked, ranked.c.item_id == Item.id)
                                .where(*search_engine._filters(session, query))
                                .order_by(ranked.c.rank, Item.posted_at.desc().nulls_last(), Item.id)))


@pytest.fixture
def index(postgres_url: str) -> Iterator[IndexDB]:
    def items() -> Iterator[tuple[datetime | None, list[str]]]:
        rng = random.Random(7)
        for n in range(240):
            # Some items undated, some on the same day: the order's later keys decide among them.
            posted = None if n % 17 == 0 else DAY + timedelta(days=rng.randrange(30))
            texts = [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randrange(2, 9)))]
            if n % 5 == 0:
                texts.append(" ".join(rng.choice(VOCABULARY) for _ in range(rng.randrange(2, 9))))
            yield posted, texts

    db = text_index(postgres_url, items())
    with db.session() as session:  # later edits of early items: one item's versions far apart
        for item in session.scalars(select(Item).where(Item.id % 9 == 0)):
            item.version_count += 1
            session.add(Version(item_id=item.id, seq=item.version_count, content_hash=f"late{item.id}",
                                state="edited", content={}, text="late budget park edit", media_urls=[],
                                first_observed_at=DAY, last_observed_at=DAY, first_evidence_id=1,
                                last_evidence_id=1))
    yield db
    db.dispose()


def _sliced(db: IndexDB, words: str, size: int) -> list[int]:
    """The slice order written out: matching versions newest first, ``size`` at a time, each slice's
    new items by best ts_rank in it, newest posted (undated last), then lowest id."""
    tsquery, vector = parse(words).tsquery(), literal_column("versions.search_vector")
    with db.session() as session:
        rows = session.execute(select(Version.id, Version.item_id, func.ts_rank(vector, tsquery), Item.posted_at)
                               .join(Item, Item.id == Version.item_id).where(vector.op("@@")(tsquery))
                               .order_by(Version.id.desc())).all()
    placed: list[int] = []
    for start in range(0, len(rows), size):
        best: dict[int, tuple[float, Any]] = {}
        for _, item_id, rank, posted in rows[start:start + size]:
            if item_id not in placed and (item_id not in best or rank > best[item_id][0]):
                best[item_id] = (rank, posted)
        placed += sorted(best, key=lambda i: (-best[i][0], best[i][1] is None,
                                              -(best[i][1] or DAY.replace(tzinfo=None)).timestamp(), i))
    return placed


def _pages(db: IndexDB, words: str, limit: int) -> list[int]:
    ids: list[int] = []
    with db.session() as session:
        while page := search(session, SearchQuery(text=words, limit=limit, offset=len(ids))).hits:
            ids += [hit.item_id for hit in page]
    return ids


@pytest.mark.parametrize("words", QUERIES)
def test_a_query_within_a_slice_is_ranked_as_before(index: IndexDB, words: str) -> None:
    with index.session() as session:
        for query in (SearchQuery(text=words), SearchQuery(text=words, accounts=("parks",))):
            before = _ranked_before(session, query)
            page = search(session, query)
            assert [hit.item_id for hit in page.hits] == before[:50], query
            assert (page.total, page.total_is_exact) == (len(before), True)
            assert matching_ids(session, query) == before
            assert count(session, query) == (len(before), True)
            for hit in page.hits:  # the snippet: from the item's latest words
                latest = session.scalar(select(Version.text).where(Version.item_id == hit.item_id, Version.text != "")
                                        .order_by(Version.seq.desc()).limit(1))
                assert hit.snippet == search_engine._snippet(latest or "", words)


@pytest.mark.parametrize("words", ["park", "budget lane", '"bike lane"'])
def test_beyond_a_slice_newest_versions_are_ranked_first(index: IndexDB, words: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_postgres, "RANK_SLICE", 9)
    monkeypatch.setattr(search_postgres, "PHRASE_SLICE", 4)
    expected = _sliced(index, words, 4 if '"' in words else 9)
    assert len(expected) > 20  # several slices
    with index.session() as session:
        assert matching_ids(session, SearchQuery(text=words)) == expected  # one pass, the same order
    assert _pages(index, words, 7) == expected  # page after page (later pages skip slices unranked)
    with index.session() as session:
        deep = search(session, SearchQuery(text=words, limit=5, offset=len(expected) - 3))
        assert [hit.item_id for hit in deep.hits] == expected[-3:]
        assert (deep.total, deep.total_is_exact) == (len(expected), True)


def test_counts_stop_at_the_cap_and_say_so(index: IndexDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_engine, "COUNT_CAP", 10)
    monkeypatch.setattr(search_postgres, "RANK_SLICE", 4)  # the count reads several slices to reach the cap
    with index.session() as session:
        matches = len(matching_ids(session, SearchQuery(text="park")))
        assert matches > 10
        assert count(session, SearchQuery(text="park")) == (10, False)
        page = search(session, SearchQuery(text="park", limit=3))
        assert (len(page.hits), page.total, page.total_is_exact, page.total_text()) == (3, 10, False, "10+")
        deep = search(session, SearchQuery(text="park", limit=3, offset=12))
        assert (deep.total, deep.total_is_exact) == (15, False)  # at least what the page read past
        edited = session.scalar(select(func.count()).where(Item.id % 9 == 0))  # "late ... edit": see index
        monkeypatch.setattr(search_engine, "COUNT_CAP", edited)
        assert count(session, SearchQuery(text="late edit")) == (edited, True)  # every slice read: exact


def test_the_phrase_slice_is_chosen_by_quotes_of_several_words() -> None:
    assert search_postgres.slice_size('"bike lane" tax') == search_postgres.PHRASE_SLICE
    assert search_postgres.slice_size('"bike" lane') == search_postgres.RANK_SLICE
    assert search_postgres.slice_size("bike lane") == search_postgres.RANK_SLICE


def test_the_search_indexes_exist_and_capture_windows_keep_newest_first(index: IndexDB) -> None:
    with index.session() as session:
        names = set(session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'items'")))
        assert {"ix_items_newest", "ix_items_author_trigrams"} <= names  # migration 0030
        rows = session.execute(select(Item.id, Item.posted_at)).all()
        newest = [i for i, _ in sorted(rows, key=lambda r: (r[1] is None, -(r[1] or DAY).timestamp(), -r[0]))]
        for query in (SearchQuery(limit=500), SearchQuery(limit=500, captured_since=DAY - timedelta(days=1))):
            assert [hit.item_id for hit in search(session, query).hits] == newest  # undated items last
