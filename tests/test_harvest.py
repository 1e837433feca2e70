"""A feed harvested end to end through the CLI: fake platform → WARC → storage → index → search."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiver.index.models import Account, Evidence, Harvest, Item, Version
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer


def warcio_check(paths: list[Path]) -> None:
    assert paths, "no WARC files to check"
    result = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, paths)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def count(workspace: Workspace, model: type, *where: object) -> int:
    db = workspace.index()
    try:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    finally:
        db.dispose()


def test_paged_feed_with_media_is_harvested_completely(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=250, page_size=100))
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    assert "news: succeeded — 3 pages, 253 items seen, 251 new versions, 100 media, 1 WARC(s)" in result.out
    assert count(workspace, Item, Item.kind == "entry") == 250
    assert count(workspace, Item, Item.kind == "profile") == 1
    # Identical bytes (the city seal, on 11 posts) are stored once, then as revisits.
    assert count(workspace, Evidence, Evidence.record_type == "revisit") == len(feed.shared_media()[0]) - 1
    assert workspace.spool_files() == []
    warcio_check(workspace.stored_warcs())

    found = workspace.cli("search", "Library", "--json").json()
    assert found["total"] > 0 and all(hit["account"] == "news" for hit in found["items"])
    newest = feed.entries[0]
    shown = workspace.cli("show", f"news:{newest.id}", "--json").json()
    assert shown["versions"][0]["content"]["title"] == newest.title
    evidence = shown["versions"][0]["first_evidence"]
    assert evidence["warc"].startswith("rss/news/") and evidence["status"] == 200
    assert shown["media"] == [] or all(m["captures"] for m in shown["media"])
    text = workspace.cli("show", f"news:{newest.id}").out
    assert f"offset {evidence['offset']} sha256 {evidence['sha256']}" in text


def test_unchanged_feed_adds_nothing_and_an_edit_adds_a_version(workspace: Workspace,
                                                                 feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=30, page_size=10))
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    versions = count(workspace, Version)
    again = workspace.cli("harvest")
    assert again.code == 0 and "news: succeeded — 0 pages" in again.out
    assert count(workspace, Version) == versions
    assert feed_server.requests_for("/feeds/news.atom")[-1].header("If-None-Match")

    edited = feed.edit(0, title="Council meeting moved to Thursday")
    third = workspace.cli("harvest")
    assert third.code == 0, third.err
    assert count(workspace, Version) == versions + 1  # the entry; the feed profile did not change
    history = workspace.cli("show", f"news:{edited.id}", "--json").json()
    assert [v["state"] for v in history["versions"]] == ["visible", "edited"]
    assert history["versions"][1]["content"]["title"] == "Council meeting moved to Thursday"
    assert history["versions"][1]["previous_last_observed_at"] == history["versions"][0]["last_observed_at"]
    assert workspace.cli("search", "Thursday", "--json").json()["total"] == 1


@pytest.mark.parametrize(
    ("fault", "message", "responses"),
    [
        ({"malformed": True}, "is not a valid RSS or Atom feed", 1),
        ({"status": 404}, "answered HTTP 404: check the feed URL", 1),
        ({"status": 500}, "answered HTTP 500", 3),  # first try + 2 retries, each kept
        ({"delay_seconds": 3}, "timed out waiting for the response from", 0),
    ],
    ids=["malformed", "404", "500", "timeout"],
)
def test_faults_end_in_one_line_keep_data_and_keep_the_failed_exchange(
    workspace: Workspace, feed_server: FakeFeedServer, fault: dict[str, object], message: str, responses: int
) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.capture.update(retries=2, timeout_seconds=1, media=False)
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    before = count(workspace, Item)
    feed.add_new(1)  # so the next request is not a 304
    for key, value in fault.items():
        setattr(feed, key, value)
    result = workspace.cli("harvest")
    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert line.startswith("archiver: news: ") and message in line
    assert count(workspace, Item) >= before  # nothing already captured is lost
    failed = workspace.stored_warcs()[-1]
    warcio_check([failed])
    data = gzip.decompress(failed.read_bytes())
    assert data.count(b"WARC-Type: response") == responses
    assert data.count(b"WARC-Type: request") == max(responses, 3 if "timed out" in message else 1)
    db = workspace.index()
    with db.session() as session:
        harvest = session.scalars(select(Harvest).order_by(Harvest.id.desc())).first()
        account = session.scalar(select(Account))
        assert harvest is not None and account is not None
        assert harvest.status == "failed" and message in (harvest.error or "")
        assert account.cursor == harvest.cursor_before  # a failed harvest never advances the cursor
    db.dispose()


def test_retried_5xx_then_success(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    feed.fail_first = 2
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    data = gzip.decompress(workspace.stored_warcs()[0].read_bytes())
    assert data.count(b"HTTP/1.0 500") + data.count(b"HTTP/1.1 500") == 2
    assert count(workspace, Item, Item.kind == "entry") == 5


def test_endless_paging_stops_at_max_pages_and_keeps_what_it_got(workspace: Workspace,
                                                                   feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=10, page_size=5))
    feed.endless = True
    workspace.capture.update(max_pages=4, media=False)
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    result = workspace.cli("harvest")
    assert result.code == 1
    assert "paging did not end after 4 pages; if the listing really is that long, raise [capture] max_pages" in (
        result.err)
    assert count(workspace, Item, Item.kind == "entry") == 20  # four pages of five, all kept


def test_storage_refusing_the_upload_leaves_the_warc_in_the_spool_until_next_start(
    workspace: Workspace, feed_server: FakeFeedServer
) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=8))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    workspace.write()
    blocker = workspace.root / "data" / "warcs" / "rss"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")  # the store's folder for this platform cannot be created
    result = workspace.cli("harvest")
    assert result.code == 1 and "stay in the spool" in result.err
    assert len(workspace.spool_files()) == 1 and count(workspace, Item) == 0
    blocker.unlink()
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    assert workspace.spool_files() == []
    assert len(workspace.stored_warcs()) == 2
    assert count(workspace, Item, Item.kind == "entry") == 8
    warcio_check(workspace.stored_warcs())


def test_unwritable_spool_is_one_clear_line(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=2))
    (workspace.root / "blocked").write_text("a file, not a folder")
    workspace.capture["spool_dir"] = str(workspace.root / "blocked" / "spool")
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    result = workspace.cli("harvest")
    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert "is not writable" in line and "spool" in line


def test_unreachable_s3_storage_is_one_clear_line(workspace: Workspace, feed_server: FakeFeedServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=2))
    monkeypatch.setenv("T_KEY", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("T_SECRET", "s3cr3t-value-never-printed")
    workspace.storage_lines = ('url = "s3://records/warcs"\nendpoint_url = "http://127.0.0.1:9"\n'
                               'access_key_id_env = "T_KEY"\nsecret_access_key_env = "T_SECRET"\n')
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    result = workspace.cli("harvest")
    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert "http://127.0.0.1:9" in line and "s3cr3t" not in line


def test_secret_never_in_warc_index_log_or_export(workspace: Workspace, feed_server: FakeFeedServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "k3y-CITY-feed-0123456789abcdef"
    monkeypatch.setenv("CITY_FEED_KEY", secret)
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=30, page_size=10))
    feed.require_query = ("key", secret)
    workspace.account("news", feed_server.url("/feeds/news.atom"), token_env="CITY_FEED_KEY", token_param="key")
    result = workspace.cli("-vv", "harvest")
    assert result.code == 0, result.err
    assert all(r.path.endswith(f"key={secret}") for r in feed_server.requests_for("/feeds/news.atom"))
    assert workspace.cli("export", "--out", str(workspace.root / "x1")).code == 0
    assert workspace.cli("export", "--format", "warc", "--out", str(workspace.root / "x2")).code == 0
    everything = [p for p in workspace.root.rglob("*") if p.is_file() and p.name != "archiver.toml"]
    assert any(p.suffix == ".gz" for p in everything)
    for path in everything:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        assert secret.encode() not in data, f"secret found in {path}"
    assert secret not in result.err + result.out
