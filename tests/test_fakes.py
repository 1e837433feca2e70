"""The fakes themselves: an error of a fake is a test failure (never a quiet "fetch failed"), and
the Instagram fake serves its media, so images and carousel children reach the WARC."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests
from sqlalchemy import select

from archiver.index.models import Evidence
from conftest import Workspace, fail_on_fake_errors
from connectors.facebook.fakepage import FakePage
from connectors.graph.fakeserver import FakeGraphServer
from connectors.instagram.fakeaccount import FakeInstagram
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from graph_helpers import graph_account


def test_instagram_images_and_carousel_children_are_in_the_warc_with_their_sha256(workspace: Workspace) -> None:
    account = FakeInstagram.synthetic(media=16, comments=30, seed=11)
    carousels = [m for m in account.media if m.children]
    videos = [m for m in account.media if m.media_type == "VIDEO"]
    assert carousels and videos
    with graph_account(workspace, account, platform="instagram", account_id=account.user_id, name="city-ig"):
        result = workspace.cli("harvest", "--json")
    assert result.code == 0, result.err
    [outcome] = result.json()
    assert outcome["status"] == "succeeded"
    expected = {f"ig-{m.id}.{'mp4' if m.media_type == 'VIDEO' else 'jpg'}" for m in account.media}
    expected |= {f"ig-{m.id}-thumb.jpg" for m in videos} | {f"ig-{c}.jpg" for m in carousels for c in m.children}
    expected.add("ig-profile.jpg")
    db = workspace.index()
    with db.session() as session:
        stored = {uri.split("/media/")[1].split("?")[0]: (status, sha) for uri, status, sha in session.execute(
            select(Evidence.target_uri, Evidence.status, Evidence.payload_sha256)
            .where(Evidence.target_uri.contains("/media/ig-")))}
    db.dispose()
    assert {name: stored.get(name) for name in expected} == {
        name: (200, hashlib.sha256(account.media_bytes(name)).hexdigest()) for name in expected}
    assert outcome["media"] == len(expected)


class _BrokenModel(FakePage):
    """A fake with a bug of its own: its media answer raises."""

    def media_file(self, name: str) -> bytes | None:
        raise TypeError("'list' object is not callable")


class _BrokenFeed(FakeFeed):
    def page(self, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug in the fake feed")


def test_an_error_of_a_fake_itself_fails_the_test() -> None:
    with FakeGraphServer(_BrokenModel(), tokens=set()) as server:
        with pytest.raises(requests.ConnectionError):  # the client only sees a dropped connection ...
            requests.get(f"{server.base_url}/media/profile.jpg", timeout=5)
        with pytest.raises(pytest.fail.Exception, match="TypeError: 'list' object is not callable"):
            fail_on_fake_errors()  # ... the test fails, naming the fake's error
    with FakeFeedServer() as feeds:
        feeds.add_feed("/feed.atom", _BrokenFeed.synthetic(entries=3))
        with pytest.raises(requests.ConnectionError):
            requests.get(feeds.url("/feed.atom"), timeout=5)
        with pytest.raises(pytest.fail.Exception, match="a bug in the fake feed"):
            fail_on_fake_errors()
        feeds.add_feed("/ok.atom", FakeFeed.synthetic(entries=3))
        requests.get(feeds.url("/ok.atom"), timeout=5).raise_for_status()
    fail_on_fake_errors()  # a client that goes away is not the fake's error


def test_a_bad_day_is_played_on_request_not_by_accident() -> None:
    page = FakePage.synthetic(posts=3, comments=0, seed=1)

    def wrong_types(path: list[str], body: Any) -> Any:
        return {"data": "not a list"} if path[-1] == "feed" else body

    with FakeGraphServer(page, tokens=set(), mangle=wrong_types) as server:
        feed = requests.get(f"{server.base_url}/v26.0/{page.page_id}/feed", params={"access_token": "t"}, timeout=5)
        profile = requests.get(f"{server.base_url}/v26.0/{page.page_id}", params={"access_token": "t"}, timeout=5)
    assert feed.json() == {"data": "not a list"} and profile.json()["id"] == page.page_id
