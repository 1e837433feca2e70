"""The platforms the crash harness (bench/crash.py) harvests: the RSS and Facebook fakes over real
sockets, each changed a little between harvests (new, edited, hidden and deleted items) and able
to say what it serves now, so that the index can be compared with it after every restart.

Every change gives an item a new unique marker (``rev N``) in its title or message, so a version
in the index names the state of the fake it came from by that marker alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from connectors.facebook.fakepage import FakePage
from connectors.graph.fakeserver import FakeGraphServer
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer

TOKEN = "EAAGcrashHarnessToken0a1b2c3d4e5f6g7h8"  # a throwaway for the local fake only
TOKEN_ENV = "CRASH_PAGE_TOKEN"
WINDOW = 'recheck_window = "36500d"'  # every harvest lists everything: each edit is seen by the next one


@dataclass(frozen=True)
class State:
    """What the fake shows of one item: its marker (the text a version must contain) and state."""

    marker: str
    state: str  # "live", "hidden" or "deleted"


class Platform(Protocol):
    name: str  # the account name in the config
    kinds: tuple[str, ...]  # the item kinds compared with the index

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def account_toml(self) -> str: ...

    def env(self) -> dict[str, str]: ...

    def change(self, rng: random.Random) -> None: ...

    def truth(self) -> dict[str, State]: ...


class RssPlatform:
    """A paged Atom feed; changes: new entries, edited titles, removed entries (their page 404s)."""

    name, kinds = "crash-rss", ("entry",)

    def __init__(self, seed: int, entries: int = 24, page_size: int = 4):
        self.server = FakeFeedServer()
        self.feed = FakeFeed.synthetic(entries=entries, page_size=page_size, seed=seed % 1000, prefix=f"crash{seed}")
        self.server.add_feed("/feeds/crash.atom", self.feed)
        self.revision = 0
        self.gone: set[str] = set()

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def account_toml(self) -> str:
        return f'name = "{self.name}"\nplatform = "rss"\nid = "{self.server.url("/feeds/crash.atom")}"\n{WINDOW}\n'

    def env(self) -> dict[str, str]:
        return {}

    def change(self, rng: random.Random) -> None:
        for _ in range(rng.randint(1, 3)):
            self.revision += 1
            entries = self.feed.entries
            roll = rng.random()
            if roll < 0.3 or len(entries) < 6:
                [entry] = self.feed.add_new(1)
                self.feed.edit(0, title=f"{entry.title} rev {self.revision}")
            elif roll < 0.8:
                index = rng.randrange(len(entries))
                self.feed.edit(index, title=f"{entries[index].title.split(' rev ')[0]} rev {self.revision}")
            else:
                self.gone.add(self.feed.remove(rng.randrange(len(entries))).id)

    def truth(self) -> dict[str, State]:
        found = {entry.id: State(entry.title, "live") for entry in self.feed.entries}
        return found | {gone: State("", "deleted") for gone in self.gone}


class FacebookPlatform:
    """A Facebook Page on the fake Graph API; changes: new posts and comments, edited messages,
    hidden comments, deleted comments (with their replies)."""

    name, kinds = "crash-fb", ("post", "comment", "reply")

    def __init__(self, seed: int, posts: int = 8, comments: int = 24):
        self.page = FakePage.synthetic(posts=posts, comments=comments, seed=seed, hours_apart=2.0)
        self.server = FakeGraphServer(self.page, tokens={TOKEN})
        self.revision = 0

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def account_toml(self) -> str:
        return (f'name = "{self.name}"\nplatform = "facebook"\nid = "{self.page.page_id}"\n'
                f'token_env = "{TOKEN_ENV}"\nbase_url = "{self.server.base_url}"\npage_size = 3\n{WINDOW}\n')

    def env(self) -> dict[str, str]:
        return {TOKEN_ENV: TOKEN}

    def change(self, rng: random.Random) -> None:
        page, now = self.page, datetime.now(UTC).replace(microsecond=0)
        for _ in range(rng.randint(1, 3)):
            self.revision += 1
            comments = [c for p in page.posts for c in p.comments]
            roll = rng.random()
            if roll < 0.15:
                page.add_post(now - timedelta(minutes=5), f"notice rev {self.revision}")
            elif roll < 0.35 or not comments:
                post = rng.choice(page.posts)
                page.add_comment(post, now - timedelta(minutes=1), f"comment rev {self.revision}",
                                 ("5123", "Ana Ortiz"))
            elif roll < 0.6:
                comment = rng.choice(comments)
                comment.message = f"{comment.message.split(' rev ')[0]} rev {self.revision}"
            elif roll < 0.75:
                post = rng.choice(page.posts)
                post.message = f"{post.message.split(' rev ')[0]} rev {self.revision}"
            elif roll < 0.88:
                comment = rng.choice(comments)
                comment.hidden = not comment.hidden
            else:
                page.delete_comment(rng.choice(comments).id)

    def truth(self) -> dict[str, State]:
        page = self.page
        found = {post.id: State(post.message, "hidden" if post.hidden else "live") for post in page.posts}
        found |= {c.id: State(c.message, "hidden" if c.hidden else "live") for p in page.posts for c in p.comments}
        return found | {gone: State("", "deleted") for gone in page.deleted}


PLATFORMS: dict[str, type[RssPlatform] | type[FacebookPlatform]] = {"rss": RssPlatform, "facebook": FacebookPlatform}
