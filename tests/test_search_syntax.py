"""Search words (archiver/search/syntax.py): the parser alone, then the same queries through the
engines, the CLI and the web app on SQLite and PostgreSQL, which must find the same items."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import archiver.search.filtered as search_filtered
import archiver.search.phrase as search_phrase
from archiver.index.db import IndexDB
from archiver.retention import holds
from archiver.search import QueryError, SearchQuery, _filters, matching_ids, parse, search
from archiver.search.syntax import MAX_TERMS, common_words
from archiver.web import users
from archiver.web.app import Archive, create_app
from conftest import Workspace
from search_helpers import DAY, text_index
from storage import open_storage
from web_helpers import PASSWORD, csrf, signed_in

# Item iN holds TEXTS[N]; items alternate between the accounts "mayor" and "parks".
TEXTS = [
    ["Budget hearing on the bike lane tonight"],
    ["The lane for bike riders is too narrow"],
    ["budget budget budget"],
    ["Library opens a budgetary branch"],
    ["Parks and the bike lane plan"],
    ["send an e-mail to city.gov today"],
    ["levy on parking", "a levy on parking garages"],
    ['"quoted" words: budget, lane!'],
    ["The bike and the lane"],
]
# query: the items it must find, on either engine
FINDS = {
    "budget": {"i0", "i2", "i7"},
    "bike lane": {"i0", "i1", "i4", "i8"},
    '"bike lane"': {"i0", "i4"},
    "budget OR levy": {"i0", "i2", "i6", "i7"},
    "budget OR levy lane": {"i0", "i7"},  # OR binds tighter than the space
    "lane budget OR levy": {"i0", "i7"},
    'bike -"bike lane"': {"i1", "i8"},
    "lane -bike": {"i7"},
    "budget -hearing": {"i2", "i7"},  # one word: SQLite ranks it filter-first (search/filtered.py)
    '"bike lane" -tonight': {"i4"},  # one phrase: SQLite ranks it in Python (search/phrase.py)
    "lane -bike -quoted": set(),
    "budg*": {"i0", "i2", "i3", "i7"},
    '"bike la*"': {"i0", "i4"},
    "lib* OR levy -garages": {"i3"},  # i6 left out: its later version says garages
    "levy": {"i6"},
    "e-mail": {"i5"},
    "city.gov": {"i5"},
    "parks": {"i4", "i6"},  # one stem with "parking" on both engines
    "budget,": {"i0", "i2", "i7"},
    "bike AND lane": {"i0", "i1", "i4", "i8"},
    '"': set(),
    "!!! ...": set(),
}
REFUSED = {
    "b*": "at least 2 letters",
    "*": "leave the words out",
    "bu*get": "only ends a word",
    "city.go*": "no punctuation",
    "NOT budget": "put - before a word",
    "(budget OR levy) lane": "OR binds tighter than spaces",
    "budget OR": "between two words",
    "OR budget": "between two words",
    "budget OR OR levy": "between two words",
    "budget OR -levy": "-parking -garage",
    "-budget": "say what to find",
    '-"bike lane" -levy': "say what to find",
    "author:dana": "--author",
}


def test_the_parser_builds_the_fts5_query() -> None:
    assert parse('main street "bike lane"').fts5() == '"main" "street" "bike lane"'  # as before
    assert parse("budget OR levy lane").fts5() == '("budget" OR "levy") AND "lane"'
    left_out = parse('lane -bike -"bike lane"')  # matched against every version of an item, by the engine
    assert (left_out.fts5(), left_out.fts5_excluded()) == ('"lane"', '"bike" OR "bike lane"')
    assert parse('budg* "bike la*"').fts5() == '"budg" * "bike la" *'
    assert parse('e-mail "  spaced   out  " +budget').fts5() == '"e-mail" "spaced out" "budget"'
    assert parse("budget AND lane").fts5() == '"budget" "lane"'
    assert parse('"bike lane').fts5() == '"bike" "lane"'  # a quote left open is punctuation
    assert parse("bike\x00lane\x1b").fts5() == '"bike" "lane"'  # PostgreSQL refuses a NUL in any text


def test_punctuation_only_matches_nothing_and_says_so() -> None:
    for text in ['"', '""', "!!!", "- -- ...", '" "']:
        parsed = parse(text)
        assert parsed.matches_nothing and parsed.fts5() == "", text
        assert len(parsed.notes) == 1 and "nothing matches" in parsed.notes[0], text
    assert SearchQuery(text="   ").text is None  # blank is no words at all, not a search


@pytest.mark.parametrize("text", REFUSED)
def test_unsupported_syntax_is_refused_in_one_line_with_a_hint(text: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse(text)
    message = str(refused.value)
    assert REFUSED[text] in message and "\n" not in message and len(message) < 200


def test_ranking_shortcuts_see_only_plain_queries() -> None:
    assert parse('budget "bike lane" -lane').plain_phrases() == ["budget", "bike lane"]
    for text in ("budget OR levy", "budg*"):
        assert parse(text).plain_phrases() == [], text
    assert parse('lane -bike "x" OR y').shown() == ["lane", "x", "y"]  # what is left out is not marked


def test_common_words_postgresql_ignores() -> None:
    assert common_words(parse('the budget "bike and lane" -of')) == ["the", "and", "of"]
    assert common_words(parse("and* budg*")) == ["and"]  # finds "android" there, but never "and"


@pytest.fixture
def index(index_url: str) -> Iterator[IndexDB]:
    db = text_index(index_url, iter([(DAY + timedelta(days=n), texts) for n, texts in enumerate(TEXTS)]))
    yield db
    db.dispose()


def _found(db: IndexDB, text: str) -> set[str]:
    with db.session() as session:
        page = search(session, SearchQuery(text=text, limit=100))
        every = matching_ids(session, SearchQuery(text=text))
    assert sorted(every) == sorted(hit.item_id for hit in page.hits) and page.total == len(every)
    return {hit.platform_id for hit in page.hits}


def test_each_query_finds_the_same_items_on_both_engines(index: IndexDB) -> None:
    wrong = {text: _found(index, text) for text, expected in FINDS.items() if _found(index, text) != expected}
    assert wrong == {}
    with index.session() as session, pytest.raises(QueryError):
        search(session, SearchQuery(text="b*"))  # the engine refuses what the faces refuse
    longest = " OR ".join(["budget", *(f"zz{n}" for n in range(MAX_TERMS - 2))]) + " -hearing"
    assert _found(index, longest) == {"i2", "i7"}
    with pytest.raises(QueryError, match="too many"):
        parse(longest + " -one")


# Words (no common ones: PostgreSQL does not index them), syntax and stray punctuation, for random queries.
PIECES = ["budget", "lane", "bike", "levy", "parking", "garages", "hearing", "library", "parks", "plan", "quoted",
          "OR", "AND", "-", "*", '"', "bud", "la", "e-mail", " ", " ", " "]


def test_random_queries_find_the_same_items_on_both_engines(tmp_path: Path, postgres_url: str) -> None:
    dbs = [text_index(url, iter([(DAY + timedelta(days=n), texts) for n, texts in enumerate(TEXTS)]))
           for url in (f"sqlite:///{tmp_path / 'i.sqlite'}", postgres_url)]

    def found(db: IndexDB, text: str) -> str | list[str]:
        with db.session() as session:
            try:
                return sorted(hit.platform_id for hit in search(session, SearchQuery(text=text, limit=20)).hits)
            except QueryError:
                return "refused"

    rng = random.Random(2)
    queries = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 7))) for _ in range(300)]
    # The same items, or the same refusal, unless PostgreSQL's note says it ignores a common word.
    queries = [text for text in queries if _refused(text) or not common_words(parse(text))]
    differ = {text: (found(dbs[0], text), found(dbs[1], text)) for text in queries}
    assert {text: pair for text, pair in differ.items() if pair[0] != pair[1]} == {}
    assert len(differ) > 250 and 50 < sum(pair[0] == "refused" for pair in differ.values()) < 250  # both kinds
    for db in dbs:
        db.dispose()


def _refused(text: str) -> bool:
    try:
        parse(text)
    except QueryError:
        return True
    return False


def test_sqlite_ranking_shortcuts_leave_out_what_fts5_leaves_out(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    db = text_index(tmp_path / "i.sqlite",
                    iter([(DAY + timedelta(days=n), texts) for n, texts in enumerate(TEXTS * 3)]))
    queries = ("budget -hearing", '"bike lane" -tonight', "bike -riders -plan")

    def ranked() -> list[list[int]]:
        with db.session() as session:
            return [matching_ids(session, SearchQuery(text=text)) for text in queries]

    with db.session() as session:  # the filter-first path takes the left-out words as its filter
        assert search_filtered.ranked_items(session, ["budget"], _filters(session, SearchQuery(text=queries[0])),
                                            '"budget"') is not None
    fast = ranked()
    monkeypatch.setattr(search_filtered, "MAX_CANDIDATES", -1)
    monkeypatch.setattr(search_phrase, "RANK_IN_PYTHON", False)
    assert fast == ranked() and [len(ids) for ids in fast] == [6, 3, 6]
    db.dispose()


def _workspace(workspace: Workspace, index_url: str) -> Workspace:
    """Both accounts in the index; only "mayor" in the config ("parks" was dropped, its items kept)."""
    workspace.database_url = index_url
    workspace.account("mayor", "http://127.0.0.1:9/mayor").write()
    text_index(index_url, iter([(DAY + timedelta(days=n), texts) for n, texts in enumerate(TEXTS)])).dispose()
    return workspace


@pytest.fixture
def archive(workspace: Workspace, index_url: str) -> Workspace:
    return _workspace(workspace, index_url)


def test_request_add_of_punctuation_adds_nothing_and_says_so(archive: Workspace) -> None:
    assert archive.cli("request", "new", "PRR-1").code == 0
    added = archive.cli("request", "add", "PRR-1", '"')
    assert added.code == 0 and "0 item(s) added; case PRR-1 now holds 0 item(s)" in added.out
    assert "nothing matches" in added.err
    assert archive.cli("request", "add", "PRR-1", " ").code == 1  # blank: no words, so say what to add
    found = archive.cli("search", '"', "--json")
    assert found.code == 0 and found.json()["items"] == [] and "nothing matches" in found.err
    assert archive.cli("search", '"', "--counts", "--json").json() == []
    assert archive.cli("request", "add", "PRR-1", "budget OR levy lane").out.startswith("2 item(s) added")
    shown = archive.cli("request", "show", "PRR-1", "--json").json()
    assert sorted(m["item_id"] for m in shown["members"]) == ["mayor:i0", "parks:i7"]


@pytest.mark.parametrize("text", ["b*", "NOT budget", "(budget OR levy)", "*", "author:dana", "-- -budget"])
def test_refused_words_exit_2_in_one_line_on_every_command(archive: Workspace, text: str) -> None:
    words = text.split(" ", 1) if text.startswith("--") else [text]
    assert archive.cli("request", "new", "PRR-2").code == 0
    for command in (["search"], ["request", "add", "PRR-2"], ["export", "--format", "jsonl", "--out",
                                                              str(archive.root / "out")]):
        answer = archive.cli(*command, *words)
        assert answer.code == 2, (command, answer)
        assert answer.out == "" and answer.err.count("\n") == 1 and answer.err.startswith("archiver: "), answer.err
    assert archive.cli("request", "show", "PRR-2", "--json").json()["members"] == []
    assert not (archive.root / "out").exists()
    held = archive.cli("hold", "create", "--matter", "M-1", f"--query={words[-1]}")
    assert held.code == 2 and held.err.count("\n") == 1


def test_unknown_account_exits_2_naming_the_accounts(archive: Workspace) -> None:
    assert archive.cli("request", "new", "PRR-3").code == 0
    for command in (["search", "budget"], ["request", "add", "PRR-3"],
                    ["export", "--format", "jsonl", "--out", str(archive.root / "out")]):
        answer = archive.cli(*command, "--account", "nosuch")
        assert (answer.code, answer.err) == (2, "archiver: no account named 'nosuch' (known: mayor)\n"), command
    kept = archive.cli("search", "budget", "--account", "parks", "--json")  # in the index, no longer configured
    assert kept.code == 0 and [i["item_id"] for i in kept.json()["items"]] == ["parks:i7"]


def test_common_words_noted_where_postgresql_ignores_them(archive: Workspace) -> None:
    found = archive.cli("search", "the budget", "--json")
    on_postgresql = (archive.database_url or "").startswith("postgresql")
    assert found.code == 0 and ("words as common as the;" in found.err) == on_postgresql, found.err
    assert {item["item_id"] for item in found.json()["items"]} == (
        {"mayor:i0", "mayor:i2", "parks:i7"} if on_postgresql else {"mayor:i0"})  # "the" only on SQLite


def test_export_and_hold_select_what_search_finds(archive: Workspace) -> None:
    exported = archive.cli("export", "lib* OR levy -garages", "--format", "jsonl", "--out", str(archive.root / "x"))
    assert exported.code == 0, exported.err
    lines = (archive.root / "x" / "items.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["parks:i3"]
    refused = archive.cli("hold", "create", "--matter", "M-2", "--query", '"')
    assert refused.code == 2 and "freeze nothing" in refused.err
    held = archive.cli("hold", "create", "--matter", "M-2", "--query", 'bike -"bike lane"')
    assert held.code == 0 and "2 item(s) frozen" in held.out, held.err


def test_a_hold_whose_stored_words_are_now_refused_keeps_its_items(archive: Workspace,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    db = archive.index()  # in this process, no CLI: a command sets up logging afresh, past caplog
    with db.session() as session:
        hold = holds.create(session, "M-5", holds.HoldCriteria(query="budget"), "test")
        hold.criteria = {**hold.criteria, "query": "NOT levy"}  # as an earlier version may have stored it
    with db.session() as session:
        assert holds.refresh(session) == {}  # the daemon's refresh goes on
    db.dispose()
    assert "no longer accepted" in caplog.text
    assert archive.cli("hold", "show", "1", "--json").json()["members"] == ["mayor:i0", "mayor:i2", "parks:i7"]


@pytest.fixture
def web(archive: Workspace) -> Iterator[Any]:
    config = archive.config
    db = archive.index()
    with db.session() as session:
        users.add_user(session, "lee", "legal", PASSWORD, "test")  # cases and holds
    app = create_app(Archive(config, db, open_storage(config)))
    app.testing = True
    try:
        yield signed_in(app.test_client(), "lee")
    finally:
        db.dispose()


def test_web_search_refuses_or_notes_as_the_cli_does(web: Any, archive: Workspace) -> None:
    found = web.get("/search", query_string={"q": "budget OR levy lane"})
    page = found.get_data(as_text=True)
    assert found.status_code == 200 and "2 items found" in page
    assert "/items/mayor:i0" in page and "/items/parks:i7" in page
    assert web.get("/search", query_string={"q": "budget\x00"}).status_code in (200, 400)  # never a 500
    left_out = web.get("/search", query_string={"q": "lane -bike"}).get_data(as_text=True)
    assert "1 item found" in left_out and "/items/parks:i7" in left_out
    nothing = web.get("/search", query_string={"q": '"'})
    assert nothing.status_code == 200 and "nothing matches" in nothing.get_data(as_text=True)
    assert "0 items found" in nothing.get_data(as_text=True)
    for query in ({"q": "b*"}, {"q": "NOT budget"}, {"q": "budget", "account": "nosuch"}):
        refused = web.get("/search", query_string=query)
        assert refused.status_code == 400 and 'class="error"' in refused.get_data(as_text=True), query
        assert "items found" not in refused.get_data(as_text=True)


def test_web_case_and_hold_forms_refuse_with_400(web: Any, archive: Workspace) -> None:
    assert archive.cli("request", "new", "PRR-4").code == 0
    token = csrf(web.get("/search", query_string={"q": "budget"}).get_data(as_text=True))
    added = web.post("/cases/add", data={"csrf_token": token, "case": "PRR-4", "q": '"'}, follow_redirects=True)
    assert added.status_code == 200 and "0 item(s) added" in added.get_data(as_text=True)
    assert "nothing matches" in added.get_data(as_text=True)
    refused = web.post("/cases/add", data={"csrf_token": token, "case": "PRR-4", "q": "budget OR"})
    assert refused.status_code == 400 and "OR goes between two words" in refused.get_data(as_text=True)
    hold = web.post("/holds", data={"csrf_token": token, "matter": "M-3", "q": "bu*get"})
    assert hold.status_code == 400 and "only ends a word" in hold.get_data(as_text=True)
    assert archive.cli("request", "show", "PRR-4", "--json").json()["members"] == []
    assert archive.cli("hold", "list", "--json").json() == []
