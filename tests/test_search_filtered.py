"""Filter-first text search on SQLite: the same items in the same order as the streamed FTS5 path."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import archiver.search.filtered as search_filtered
from archiver.index.db import IndexDB
from archiver.index.models import Account, Item, Version
from archiver.search import SearchQuery, _filters, fts5_query, matching_ids, search
from search_helpers import DAY, text_index

# Stems and accents on purpose: "parks", "parking" and "Park" are one word to FTS5, "café" is "cafe".
VOCABULARY = ["park", "parks", "parking", "Park", "café", "cafe", "budget", "budgets", "lane", "bike", "road",
              "tax", "hearing", "meeting", "library", "the", "a", "of", "x-ray", "2026"]
QUERIES = ["park", "parks budget", "cafe", "CAFÉ lane", "budget budget", "the", "bike road tax", "ray",
           "hearing 2026", "library meeting", "parking budgets tax"]


def _both(db: IndexDB, query: SearchQuery, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """Every match in order by the filter-first path, then by the streamed FTS5 path."""
    with db.session() as session:
        monkeypatch.setattr(search_filtered, "MAX_CANDIDATES", 10**9)
        monkeypatch.setattr(search_filtered, "MAX_MATCHES", 10**9)
        terms = fts5_query(query.text or "")
        ways = []
        for rows_per_item in (0, 10**9):  # the filtered texts tokenized, then FTS5 merging doclists
            monkeypatch.setattr(search_filtered, "DOCLIST_ROWS_PER_ITEM", rows_per_item)
            ways.append(search_filtered.ranked_items(session, [t.strip('"') for t in terms.split('" "')],
                                                     _filters(session, query), terms))
        first = ways[0]
        assert first is not None  # the filter-first path did run
        assert ways[1] == first  # both ways of finding the matches find the same, in the same order
        assert first == matching_ids(session, query)
        monkeypatch.setattr(search_filtered, "MAX_CANDIDATES", -1)  # every filter too broad: streamed
        return first, matching_ids(session, query)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexDB]:
    def items() -> Iterator[tuple[datetime, list[str]]]:
        rng = random.Random(3)
        length = 2
        for n in range(150):
            posted = DAY + timedelta(days=rng.randrange(90))
            texts = [" ".join(rng.choice(VOCABULARY) for _ in range(length))]
            length += 1  # every version a different length, so no two bm25 scores tie
            if n % 7 == 0:
                texts.append(" ".join(rng.choice(VOCABULARY) for _ in range(length)))
                length += 1
            yield posted, texts

    db = text_index(tmp_path / "index.sqlite", items())
    yield db
    db.dispose()


@pytest.mark.parametrize("words", QUERIES)
def test_filter_first_finds_and_orders_as_fts5_does(index: IndexDB, words: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    month = {"since": DAY + timedelta(days=31), "until": DAY + timedelta(days=59)}
    for criteria in ({"accounts": ("parks",)}, {"accounts": ("mayor",), **month}, {"kinds": ("post",)},
                     {"states": ("edited",)}):
        first, streamed = _both(index, SearchQuery(text=words, **criteria), monkeypatch)  # type: ignore[arg-type]
        assert first == streamed, (words, criteria)
    assert _both(index, SearchQuery(text=words, accounts=("parks",)), monkeypatch)[0]  # the words are there


def test_pages_counts_and_stems(index: IndexDB) -> None:
    with index.session() as session:
        whole = search(session, SearchQuery(text="parking", accounts=("mayor",), limit=1000))
        assert whole.total == len(whole.hits) > 10 and whole.total_is_exact  # counted, never capped
        pages = [search(session, SearchQuery(text="parking", accounts=("mayor",), limit=4, offset=n))
                 for n in range(0, whole.total + 4, 4)]
        assert [hit.item_id for page in pages for hit in page.hits] == [hit.item_id for hit in whole.hits]
        assert all(page.total == whole.total for page in pages)
        assert {hit.item_id for hit in whole.hits} == {hit.item_id for hit in search(
            session, SearchQuery(text="PARKS", accounts=("mayor",), limit=1000)).hits}  # one stem
        assert search(session, SearchQuery(text="nowhere", accounts=("mayor",))).total == 0


def test_a_phrase_of_several_words_is_left_to_fts5(index: IndexDB) -> None:
    with index.session() as session:
        query = SearchQuery(text='"bike lane"', accounts=("mayor",))
        assert search_filtered.ranked_items(session, ["bike lane"], _filters(session, query), '"bike lane"') is None
        expected = {item_id for item_id, words in session.execute(
            select(Version.item_id, Version.text).join(Item).join(Account).where(Account.name == "mayor"))
            if re.search(r"\bbike lane\b", words.lower())}
        assert expected and set(matching_ids(session, query)) == expected


def test_new_versions_refresh_the_word_counts(index: IndexDB, monkeypatch: pytest.MonkeyPatch) -> None:
    query = SearchQuery(text="library", accounts=("parks",))
    before, _ = _both(index, query, monkeypatch)
    with index.session() as session:  # a version holding the word many times: it must now rank first
        item = session.get(Item, before[-1])
        assert item is not None
        session.add(Version(item_id=item.id, seq=9, content_hash="new", state="edited", content={},
                            text="library " * 30, media_urls=[], first_observed_at=DAY, last_observed_at=DAY,
                            first_evidence_id=1, last_evidence_id=1))
    after, streamed = _both(index, query, monkeypatch)
    assert after == streamed and after[0] == before[-1] and set(after) == set(before)


def test_texts_that_could_confuse_tokenizing_them_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The filtered texts are tokenized as one document with a marker word after each: whitespace of
    every kind, punctuation between words, accents and empty texts must count exactly as FTS5 counts
    each text alone; texts holding the marker (posts here) are counted another way."""
    marker = search_filtered._MARKER
    odd = ["park\u00a0budget", "park\u2003park\x1cbudget", "park-budget,park", "Park\tBUDGETS\n", "",
           "parkbudget park", "café budget park", "budget\u3000 parks parks parking", "park" + " x" * 40 + " budget",
           "budget\u200bpark budget", "ÉCOLE park budget école"]
    marked = [f"park budget {marker}", f"{marker.upper()}park budget"]

    def items() -> Iterator[tuple[datetime, list[str]]]:
        for n in range(90):
            texts = [odd[n % len(odd)] + f" filler{n}" * (n % 4), odd[(n * 5) % len(odd)]]
            yield DAY + timedelta(days=n % 30), texts + ([marked[n % 2]] if n % 3 == 0 else [])

    db = text_index(tmp_path / "odd.sqlite", items())
    try:
        # The marker itself searched for: never counted as the texts' ends.
        for words in ("park budget", "budget", "cafe park", "parks budgets", "ecole", f"{marker} park"):
            for criteria in ({"kinds": ("comment",)}, {"accounts": ("parks",)}, {"accounts": ("mayor", "parks")}):
                first, streamed = _both(db, SearchQuery(text=words, **criteria), monkeypatch)  # type: ignore[arg-type]
                assert first == streamed, (words, criteria)
                assert first or (marker in words and criteria != {"accounts": ("mayor", "parks")}), words
        with db.session() as session:  # each text's token count and word counts as FTS5 has them alone
            tokens = search_filtered._Tokens(session)
            counted = tokens.document(odd, ["park", "budget"])
            assert counted is not None
            lengths, frequencies = tokens.counts(dict(enumerate(odd, start=1)), ["park", "budget"])
            assert counted[0] == [lengths.get(n, 0) for n in range(1, len(odd) + 1)]
            assert {(n + 1, word): count for word, found in counted[1].items() for n, count in found.items()} \
                == frequencies
            assert tokens.document(marked, ["park"]) is None  # a text holding the marker: not counted this way
            tokens.close()
    finally:
        db.dispose()
