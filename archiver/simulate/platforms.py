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
    def content_key(self, content: dict[str, Any], state: str = "visible") -> str:
        """The same key, from a version's content and state in the index."""


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

    def content_key(self, content: dict[str, Any], state: str = "visible") -> str:
        return str(content.get("title", ""))


FB_TOKEN_ENV = "ARCHIVER_DEMO_PAGE_TOKEN"
FB_TOKEN = "demo-page-token-7c41e2"  # a throwaway credential for the local fake Graph API only


class FacebookPage(SimulatedPlatform):
    """A city's Facebook Page on the fake Graph API: posts, comment bursts and replies, edits,
    hides and unhides, comment deletions, whole-post deletions; faults applied to the fake server."""

    kinds = ("post", "comment", "edit", "hide", "unhide", "delete_comment", "delete_post")

    def __init__(self, account: str = "city-facebook", seed: int = 0, history: int = 20):
        from connectors.facebook.fakepage import FakePage
        from connectors.graph.fakeserver import FakeGraphServer

        self.account, self.seed, self.history = account, seed, history
        self.page = FakePage(page_id=str(1740000000000 + seed))
        self.server = FakeGraphServer(self.page, tokens={FB_TOKEN})
        self._count = 0

    def start(self, begin: datetime) -> None:
        for back in range(self.history, 0, -1):
            post = self.page.add_post(begin - timedelta(hours=17 * back), f"Notice {self.history - back}",
                                      photo=back % 4 == 0)
            for index in range(back % 5):
                self.page.add_comment(post, post.created + timedelta(minutes=10 * (index + 1)),
                                      f"early comment {back}.{index}", ("5001", "Ana Ortiz"))
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def account_toml(self) -> str:
        return (f'[[accounts]]\nname = "{self.account}"\nplatform = "facebook"\nid = "{self.page.page_id}"\n'
                f'schedule = "1h"\ntoken_env = "{FB_TOKEN_ENV}"\nbase_url = "{self.server.base_url}"\n'
                "page_size = 25\nthrottle_backoff_seconds = 0.05\n")

    def environment(self) -> dict[str, str]:
        return {FB_TOKEN_ENV: FB_TOKEN}

    def _comments(self) -> list[Any]:
        return [c for p in self.page.posts for c in p.comments]

    def apply(self, event: Event, at: datetime) -> None:
        page, self._count = self.page, self._count + 1
        posts, comments = page.posts, self._comments()
        if event.kind == "post":
            page.add_post(at, f"City notice {self._count}", photo=self._count % 5 == 0)
        elif event.kind == "comment" and posts:
            post = posts[int(event.pick ** 2 * len(posts))]  # recent posts draw most comments
            parent = post.comments[int(event.pick * 997) % len(post.comments)] \
                if post.comments and int(event.pick * 1000) % 3 == 0 else None
            page.add_comment(post, at, f"resident comment {self._count}", (str(5000 + self._count % 50), "Resident"),
                             parent=parent)
        elif event.kind == "edit" and comments:
            comment = comments[int(event.pick * len(comments))]
            comment.message = f"{comment.message.split(' [')[0]} [edited {at:%a %H:%M}]"
        elif event.kind in ("hide", "unhide"):
            wanted = [c for c in comments if c.hidden == (event.kind == "unhide")]
            if wanted:
                wanted[int(event.pick * len(wanted))].hidden = event.kind == "hide"
        elif event.kind == "delete_comment" and comments:
            page.delete_comment(comments[int(event.pick * len(comments))].id)
        elif event.kind == "delete_post" and posts:
            page.delete_post(posts[int(event.pick * len(posts))].id)

    def set_faults(self, faults: list[Fault], timeout_seconds: float) -> None:
        active = {fault.kind for fault in faults}
        server = self.server
        server.status = 503 if "5xx" in active else None
        server.delay_seconds = timeout_seconds + 0.5 if "timeout" in active else 0.0
        server.truncate = "truncated" in active
        if "token" in active:
            server.expired[FB_TOKEN] = 463
        else:
            server.expired.pop(FB_TOKEN, None)  # the operator set a fresh token
        if "permission" in active:
            self.page.permissions.discard("pages_read_user_content")
        else:
            self.page.permissions.add("pages_read_user_content")

    def truth(self) -> dict[str, str]:
        return {pid: key.replace("|True", "|hidden").replace("|False", "") for pid, key in self.page.truth().items()}

    def content_key(self, content: dict[str, Any], state: str = "visible") -> str:
        return str(content.get("message", "")) + ("|hidden" if state == "hidden" else "")
