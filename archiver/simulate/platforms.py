"""Fake platforms a simulation drives: each applies scenario events to its fake server, turns
faults on and off, and says what is true on the platform right now (the ground truth)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any

from archiver.simulate.scenario import Event, Fault
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer

TOKEN_ENV = "ARCHIVER_DEMO_FEED_KEY"
TOKEN = "demo-feed-key-0f3a9c"  # a throwaway credential for the local fake feed only


class SimulatedPlatform(ABC):
    """One account on one fake platform."""

    account: str
    kinds: tuple[str, ...]  # the scenario event kinds this platform has

    @abstractmethod
    def start(self, begin: datetime) -> None:
        """Start the fake server with the account's history up to ``begin`` (simulated time)."""

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def account_toml(self) -> str:
        """The [[accounts]] table that harvests this platform."""

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """Environment variables the account's credentials are read from."""

    @abstractmethod
    def apply(self, event: Event, at: datetime) -> None: ...

    @abstractmethod
    def set_faults(self, faults: list[Fault], timeout_seconds: float) -> None: ...

    @abstractmethod
    def truth(self) -> dict[str, str]:
        """platform id → content key of every item that exists now."""

    @abstractmethod
    def content_key(self, content: dict[str, Any]) -> str:
        """The same key, from a version's content in the index."""


class CityNewsFeed(SimulatedPlatform):
    """A city's news feed (Atom, paged, behind an API key): posts, edits and deletions."""

    kinds = ("post", "edit", "delete_post")

    def __init__(self, account: str = "city-news", seed: int = 0, history: int = 30):
        self.account = account
        self.server = FakeFeedServer()
        self.feed = FakeFeed.synthetic(entries=0, page_size=25, seed=seed, prefix=f"sim{seed}")
        self.feed.require_query = ("key", TOKEN)
        self.history = history  # posts before the simulation starts, one every six hours

    def start(self, begin: datetime) -> None:
        for back in range(self.history, 0, -1):
            self.feed.add_new(1, at=begin - timedelta(hours=6 * back))
        self.server.start()
        self.server.add_feed("/feeds/news.atom", self.feed)

    def stop(self) -> None:
        self.server.stop()

    def account_toml(self) -> str:
        return (f'[[accounts]]\nname = "{self.account}"\nplatform = "rss"\n'
                f'id = "{self.server.url("/feeds/news.atom")}"\nschedule = "1h"\n'
                f'token_env = "{TOKEN_ENV}"\ntoken_param = "key"\n')

    def environment(self) -> dict[str, str]:
        return {TOKEN_ENV: TOKEN}

    def apply(self, event: Event, at: datetime) -> None:
        entries = self.feed.entries
        if event.kind == "post":
            self.feed.add_new(1, at=at)
        elif event.kind == "edit" and entries:
            index = int(event.pick * len(entries))
            self.feed.edit(index, title=f"{entries[index].title.split(' [')[0]} [updated {at:%a %H:%M}]", at=at)
        elif event.kind == "delete_post" and entries:
            self.feed.remove(int(event.pick * len(entries)), at=at)

    def set_faults(self, faults: list[Fault], timeout_seconds: float) -> None:
        active = {fault.kind for fault in faults}
        feed = self.feed
        feed.status = 503 if "5xx" in active else 403 if "permission" in active else None
        feed.delay_seconds = timeout_seconds + 0.5 if "timeout" in active else 0.0
        feed.malformed = "truncated" in active
        feed.require_query = ("key", "rotated-" + TOKEN) if "token" in active else ("key", TOKEN)

    def truth(self) -> dict[str, str]:
        return {entry.id: entry.title for entry in self.feed.entries}

    def content_key(self, content: dict[str, Any]) -> str:
        return str(content.get("title", ""))
