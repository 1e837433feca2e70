"""Search on SQLite and PostgreSQL: every filter, text with filters, ranking, paging, capped counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import archiver.search.engine as search_module
import archiver.search.filtered as search_filtered
from archiver.index.db import IndexDB, open_index
from archiver.index.models import Account, Evidence, Item, Version, WarcFile
from archiver.search import SearchQuery, matching_ids, search, state_counts
from conftest import Workspace

DAY = datetime(2026, 3, 1, tzinfo=UTC)

# platform id: (account, kind, author, posted day, captured day, [(state, text) per version])
ITEMS: dict[str, tuple[str, str, str, int, int, list[tuple[str, str]]]] = {
    "p1": ("mayor", "post", "Office of the Mayor", 0, 0, [("visible", "Budget hearing on the bike lane tonight")]),
    "c1": ("mayor", "comment", "Dana Smith", 1, 3, [("visible", "The lane for bike riders is too narrow")]),
    "c2": ("mayor", "comment", "Lee Park", 2, 2, [("visible", "budget budget budget budget")]),
    "c3": ("mayor", "comment", "Sam 100% Real", 5, 5, [("visible", "call me about the secret plan"),
                                                     ("deleted", "")]),
    "c4": ("mayor", "comment", "dana smithers", 10, 10, [("visible", "first words"),
                                                         ("edited", "budget words changed later")]),
    "e1": ("citynews", "entry", "City News Desk", 20, 21, [("visible", "Library opens a budget branch")]),
    "e2": ("citynews", "entry", "City News Desk", 40, 40, [("visible", "Parks and the bike lane plan"),
                                                           ("hidden", "")]),
}


@pytest.fixture
def index(index_url: str) -> Iterator[IndexDB]:
    db = open_index(index_url)
    fill(db)
    yield db
    db.dispose()


def fill(db: IndexDB) -> None:
    with db.session() as session:
        accounts = {name: Account(name=name, platform=platform, platform_account_id=name, cursor={},
                                  created_at=DAY) for name, platform in (("mayor", "facebook"), ("citynews", "rss"))}
        session.add_all(accounts.values())
        session.flush()
        warc = WarcFile(key="t.warc.gz", account_id=accounts["mayor"].id, month="2026/03", state="stored")
        session.add(warc)
        session.flush()
        evidence = Evidence(warc_file_id=warc.id, record_id="urn:uuid:t", record_type="response", offset=0,
                            length=1, target_uri="https://x", captured_at=DAY, block_digest="x")
        session.add(evidence)
        session.flush()
        for platform_id, (account, kind, author, posted, captured, versions) in ITEMS.items():
            seen = DAY + timedelta(days=captured)
            item = Item(account_id=accounts[account].id, platform_id=platform_id, kind=kind, author=author,
                        posted_at=DAY + timedelta(days=posted), first_seen_at=seen, last_seen_at=seen,
                        state=versions[-1][0], version_count=len(versions), latest_hash=platform_id)
            session.add(item)
            session.flush()
            session.add_all(Version(item_id=item.id, seq=seq, content_hash=f"{platform_id}{seq}", state=state,
                                    content={"text": words}, text=words, media_urls=[], first_observed_at=seen,
                                    last_observed_at=seen, first_evidence_id=evidence.id,
                                    last_evidence_id=evidence.id)
                            for seq, (state, words) in enumerate(versions, start=1))


def found(db: IndexDB, **criteria: object) -> list[str]:
    with db.session() as session:
        page = search(session, SearchQuery(**criteria))  # type: ignore[arg-type]
        assert page.total == len(page.hits) and page.total_is_exact
        return [hit.platform_id for hit in page.hits]


def test_each_filter_and_text_with_filters(index: IndexDB) -> None:
    everything = found(index)
    assert everything == ["e2", "e1", "c4", "c3", "c2", "c1", "p1"]  # newest first without text
    assert found(index, accounts=("citynews",)) == ["e2", "e1"]
    assert found(index, platforms=("facebook",)) == ["c4", "c3", "c2", "c1", "p1"]
    assert found(index, since=DAY + timedelta(days=2), until=DAY + timedelta(days=20)) == ["c4", "c3", "c2"]
    assert found(index, captured_since=DAY + timedelta(days=3), captured_until=DAY + timedelta(days=21)) == [
        "c4", "c3", "c1"]
    assert found(index, states=("deleted", "hidden")) == ["e2", "c3"]
    assert found(index, states=("edited",)) == ["c4"]
    assert found(index, kinds=("entry", "post")) == ["e2", "e1", "p1"]
    assert found(index, author="SMITH") == ["c4", "c1"]  # contains, any case
    assert found(index, author="100%") == ["c3"]  # % is a character here, not a wildcard
    assert found(index, author="0%R") == []
    assert set(found(index, text="budget")) == {"p1", "c2", "c4", "e1"}
    assert set(found(index, text="budget", accounts=("mayor",), since=DAY + timedelta(days=1))) == {"c2", "c4"}
    assert found(index, text="budget", kinds=("entry",)) == ["e1"]
    assert found(index, text="bike", states=("hidden",)) == ["e2"]
    assert found(index, text="budget", author="dana") == ["c4"]


def test_phrases_and_words(index: IndexDB) -> None:
    assert set(found(index, text="bike lane")) == {"p1", "c1", "e2"}
    assert set(found(index, text='"bike lane"')) == {"p1", "e2"}
    assert set(found(index, text='"bike lane" budget')) == {"p1"}
    assert found(index, text="bike nowhere") == []


def test_words_only_in_a_deleted_or_earlier_version_are_found(index: IndexDB) -> None:
    with index.session() as session:
        [hit] = search(session, SearchQuery(text="secret plan")).hits
        assert (hit.platform_id, hit.state) == ("c3", "deleted")
        assert "secret plan" in hit.snippet  # the words it had, shown with its current state
        assert [h.platform_id for h in search(session, SearchQuery(text="first")).hits] == ["c4"]


def test_more_occurrences_rank_first(index: IndexDB) -> None:
    ranked = found(index, text="budget")
    assert ranked[0] == "c2"  # the word four times in four words
    with index.session() as session:
        assert matching_ids(session, SearchQuery(text="budget")) == [
            hit.item_id for hit in search(session, SearchQuery(text="budget")).hits]


@pytest.mark.parametrize("text", [None, "budget"])
def test_pages_are_disjoint_and_complete(index: IndexDB, text: str | None) -> None:
    with index.session() as session:
        whole = search(session, SearchQuery(text=text))
        pages = [search(session, SearchQuery(text=text, limit=2, offset=offset)) for offset in range(0, 8, 2)]
        assert [hit.item_id for page in pages for hit in page.hits] == [hit.item_id for hit in whole.hits]
        assert all(page.total == whole.total and page.total_is_exact for page in pages)
        assert matching_ids(session, SearchQuery(text=text, limit=1)) == [hit.item_id for hit in whole.hits]


def test_total_is_capped_and_says_so(index: IndexDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "COUNT_CAP", 3)
    with index.session() as session:
        first = search(session, SearchQuery(limit=2))
        assert (first.total, first.total_is_exact, first.total_text()) == (3, False, "3+")
        deep = search(session, SearchQuery(limit=2, offset=4))
        assert (len(deep.hits), deep.total, deep.total_is_exact) == (2, 6, False)  # at least what was read
        last = search(session, SearchQuery(limit=50))
        assert (last.total, last.total_is_exact) == (7, True)  # the page read everything: exact
        words = search(session, SearchQuery(text="budget", limit=1))
        assert (words.total, words.total_is_exact) == (3, False)
        assert len(matching_ids(session, SearchQuery(text="budget"))) == 4  # selections are never capped


def test_count_stops_early_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = open_index(f"sqlite:///{tmp_path / 'index.sqlite'}")  # only SQLite bounds what a count examines
    fill(index)
    monkeypatch.setattr(search_module, "COUNT_WORK", 2)
    monkeypatch.setattr(search_filtered, "MAX_CANDIDATES", 0)  # the streamed path: filter-first counts all
    with index.session() as session:
        page = search(session, SearchQuery(text="budget", accounts=("citynews",), limit=1))
        assert ([hit.platform_id for hit in page.hits], page.total, page.total_is_exact) == (["e1"], 1, False)
        assert search(session, SearchQuery(text="budget", accounts=("citynews",))).total_is_exact


def test_ranking_in_slices_still_finds_everything(index: IndexDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "RANK_SLICE", 2)  # SQLite ranks big match sets a slice at a time
    with index.session() as session:
        ids = matching_ids(session, SearchQuery(text="budget"))
        assert len(ids) == len(set(ids)) == 4
        pages = [search(session, SearchQuery(text="budget", limit=1, offset=n)).hits for n in range(4)]
        assert [hit.item_id for page in pages for hit in page] == ids


def test_state_counts_follow_the_filters(index: IndexDB) -> None:
    with index.session() as session:
        rows = state_counts(session, SearchQuery(text="budget", accounts=("mayor",)))
        assert {(row["state"], row["versions"]) for row in rows} == {("visible", 3), ("edited", 1)}
        deleted = state_counts(session, SearchQuery(states=("deleted",)))
        assert [(row["account"], row["versions"]) for row in deleted] == [("mayor", 1)]


def test_cli_shows_whether_the_total_is_exact(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace.write()
    db = workspace.index()
    fill(db)
    db.dispose()
    monkeypatch.setattr(search_module, "COUNT_CAP", 3)
    listed = workspace.cli("search", "--limit", "2")
    assert listed.code == 0, listed.err
    assert "1 to 2 of 3+ item(s)" in listed.out
    page = workspace.cli("search", "budget", "--json").json()
    assert (page["total"], page["total_is_exact"], len(page["items"])) == (4, True, 4)
