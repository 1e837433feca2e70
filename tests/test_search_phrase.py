"""One-term searches on SQLite ranked without FTS5's bm25: the same items in the same order as FTS5."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import text

import archiver.search.engine as search_module
import archiver.search.filtered as search_filtered
import archiver.search.phrase as search_phrase
from archiver.index.db import IndexDB
from archiver.index.models import Item, Version
from archiver.search import SearchQuery, fts5_query, matching_ids, search
from search_helpers import DAY, text_index

# Stems, accents and case on purpose ("parks", "parking" and "Park" are one word to FTS5, "café" is
# "cafe"), and few words, so phrases repeat within a text and overlap ("budget budget budget").
VOCABULARY = ["park", "parks", "Parking", "café", "CAFE", "budget", "budgets", "lane", "bike", "the", "the", "the",
              "x-ray"]
QUERIES = ["park", "CAFÉ", '"bike lane"', '"parks budget"', '"budget budget"', '"park lane park"',
           '"the the the"', '"café bike"', "ray", '"x ray"', "lane"]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexDB]:
    def items() -> Iterator[tuple[datetime, list[str]]]:
        rng = random.Random(7)
        for n in range(300):
            posted = DAY + timedelta(days=rng.randrange(90))
            # Lengths from a small range: many rows share length and count, so bm25 scores tie.
            texts = [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 12)))]
            if n % 5 == 0:
                texts.append(" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 12))))
            yield posted, texts

    db = text_index(tmp_path / "index.sqlite", items())
    yield db
    db.dispose()


def _both(db: IndexDB, query: SearchQuery, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """Every match in order ranked here, then as FTS5 ranks it (filter-first kept out of both)."""
    monkeypatch.setattr(search_filtered, "MAX_CANDIDATES", -1)
    monkeypatch.setattr(search_phrase, "MIN_TOKENS", 1)  # single words too (FTS5 ranks them faster)
    with db.session() as session:
        monkeypatch.setattr(search_phrase, "RANK_IN_PYTHON", True)
        here = matching_ids(session, query)
        monkeypatch.setattr(search_phrase, "RANK_IN_PYTHON", False)
        return here, matching_ids(session, query)


def _fts5_versions(db: IndexDB, words: str) -> list[tuple[int, float]]:
    """Version ids and scores as a bare FTS5 query ranks them."""
    with db.engine.connect() as connection:
        return [(rowid, rank) for rowid, rank in connection.execute(text(
            "SELECT rowid, rank FROM versions_fts WHERE versions_fts MATCH :q ORDER BY rank"),
            {"q": fts5_query(words)})]


@pytest.mark.parametrize("words", QUERIES)
@pytest.mark.parametrize("slice_size", [5_000, 40])
def test_one_term_is_ranked_as_fts5_ranks_it(index: IndexDB, words: str, slice_size: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "RANK_SLICE", slice_size)  # 40: several slices, newest first
    for criteria in ({}, {"accounts": ("parks",)}, {"kinds": ("post",)}, {"states": ("edited",)}):
        here, fts5 = _both(index, SearchQuery(text=words, **criteria), monkeypatch)  # type: ignore[arg-type]
        assert here == fts5, (words, criteria)
    assert _both(index, SearchQuery(text=words), monkeypatch)[0]  # the words are there


@pytest.mark.parametrize("words", QUERIES)
def test_each_slice_is_ranked_here_as_fts5_ranks_it(index: IndexDB, words: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_phrase, "MIN_TOKENS", 1)
    with index.session() as session:
        term = search_phrase.one_term(session, [fts5_query(words).strip('"')])
        assert term is not None
        ranked = search_phrase.ranked_slice(session, term, fts5_query(words), 10**6, None, [])[0]
        # Every span tokenized again, not only those in texts where occurrences overlap: the same.
        everywhere = replace(term, overlapping=None)
        assert search_phrase.ranked_slice(session, everywhere, fts5_query(words), 10**6, None, [])[0] == ranked
        owners = {version.id: version.item_id for version in session.query(Version)}
    fts5 = _fts5_versions(index, words)
    assert ranked == [owners[version_id] for version_id, _ in fts5]


def test_ties_are_broken_as_fts5_breaks_them(index: IndexDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_phrase, "MIN_TOKENS", 1)
    fts5 = _fts5_versions(index, "budget")
    tied = [(a, b) for (a, score_a), (b, score_b) in pairwise(fts5) if score_a == score_b]
    assert len(tied) > 20 and all(a < b for a, b in tied)  # short texts of few words: many equal scores
    with index.session() as session:
        term = search_phrase.one_term(session, ["budget"])
        assert term is not None
        ranked = search_phrase.ranked_slice(session, term, '"budget"', 10**6, None, [])[0]
        owners = {version.id: version.item_id for version in session.query(Version)}
    assert ranked == [owners[version_id] for version_id, _ in fts5]


def test_repeated_and_overlapping_phrases_count_every_occurrence(index: IndexDB) -> None:
    with index.session() as session:
        item = session.get(Item, 1)
        assert item is not None
        for seq, words in ((7, "budget budget budget budget budget"), (8, "budget x budget x budget x")):
            session.add(Version(item_id=item.id, seq=seq, content_hash=f"new{seq}", state="edited", content={},
                                text=words, media_urls=[], first_observed_at=DAY, last_observed_at=DAY,
                                first_evidence_id=1, last_evidence_id=1))
    with index.session() as session:
        page = search(session, SearchQuery(text='"budget budget"', limit=1))
        assert page.hits[0].item_id == 1  # four overlapping occurrences in five words rank first
        assert search(session, SearchQuery(text="budget", limit=1)).hits[0].item_id == 1


def test_words_and_several_terms_keep_fts5_ranking(index: IndexDB) -> None:
    with index.session() as session:
        assert search_phrase.one_term(session, ["budgets"]) is None  # one word: FTS5 ranks it faster
        assert search_phrase.one_term(session, ["bike", "lane"]) is None  # several words: bm25 weighs each
        assert search_phrase.one_term(session, ["..."]) is None  # no word at all
        term = search_phrase.one_term(session, ["budget budget"])
        assert term is not None and term.overlaps and term.tokens == ("budget", "budget")
        assert term.overlapping == '"budget budget budget"'  # where two occurrences share a word
        term = search_phrase.one_term(session, ["Park lane PARKING"])
        assert term is not None and term.overlapping == '"park lane park lane park"'

        assert not search_phrase.one_term(session, ["bike lane"]).overlaps  # type: ignore[union-attr]


def test_scores_too_close_to_order_safely_are_left_to_fts5() -> None:
    avgdl = 7.3
    # Two rows with different counts and lengths: if their scores differ by less than rounding can
    # blur once FTS5 multiplies by the term's weight, the order is not decided here.
    one = search_phrase._f(1.0, 4.0, avgdl)
    length = avgdl / 3 + 8 + 1e-9  # where f(2, length) = f(1, 4) exactly, then a hair further
    close = search_phrase._f(2.0, length, avgdl)
    assert 0 < abs(close - one) < 1e-9 * one
    assert search_phrase.order({1: (1, 4), 2: (2, 10)}, avgdl) == [2, 1]  # clearly apart: decided here
    assert search_phrase.order({1: (1, 4), 2: (2, length)}, avgdl) is None  # type: ignore[dict-item]
    assert search_phrase.order({5: (1, 4), 3: (1, 4), 4: (2, 4)}, avgdl) == [4, 3, 5]  # ties by rowid


@pytest.mark.parametrize("cap", [3, 1_000])
def test_pages_and_totals_are_those_fts5_ranking_gives(index: IndexDB, cap: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "RANK_SLICE", 30)  # phrases: slices of 15 versions
    monkeypatch.setattr(search_module, "COUNT_CAP", cap)  # 3: a ranked slice already shows more items
    monkeypatch.setattr(search_filtered, "MAX_CANDIDATES", -1)

    def pages(flag: bool) -> list[tuple[list[int], int, bool]]:
        monkeypatch.setattr(search_phrase, "RANK_IN_PYTHON", flag)
        with index.session() as session:
            found = [search(session, SearchQuery(text='"the the"', limit=4, offset=n)) for n in range(0, 40, 4)]
        return [([hit.item_id for hit in page.hits], page.total, page.total_is_exact) for page in found]

    here = pages(True)
    assert here == pages(False)
    assert len({item for ids, _, _ in here for item in ids}) == sum(len(ids) for ids, _, _ in here) > 20
