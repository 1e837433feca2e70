"""What a fake X account holds: its posts (with edit chains), the replies in their conversations,
the users who wrote them, media; and how v2 renders a post for the fields a request asks for.

The wire shapes follow ``tests/fixtures/x/`` (tweepy cassettes, python-twitter test data, docs):
``edit_history_tweet_ids`` oldest first with every edit a new id, ``referenced_tweets``,
``includes.users|tweets|media``, ``public_metrics``, ``edit_controls``. Ids are snowflakes (time
in the high bits), so newer is larger. The ground truth for tests is ``truth()``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH_MS = 1288834974657  # the snowflake epoch


def snowflake(at: datetime, sequence: int) -> str:
    return str(((int(at.timestamp() * 1000) - EPOCH_MS) << 22) + (sequence % (1 << 22)))


def x_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    protected: bool = False
    suspended: bool = False


@dataclass
class FakeVersion:
    id: str
    text: str
    created_at: datetime


@dataclass
class FakeTweet:
    versions: list[FakeVersion]  # oldest first; the last is what the platform shows now
    author_id: str
    conversation_id: str
    replied_to: str | None = None  # the version id this replies to
    in_reply_to_user_id: str | None = None
    media_keys: list[str] = field(default_factory=list)
    hidden: bool = False  # hidden by the conversation's owner
    deleted: bool = False
    likes: int = 0
    retweets: int = 0
    replies: int = 0

    @property
    def id(self) -> str:  # the item: the first id of the chain
        return self.versions[0].id

    @property
    def current(self) -> FakeVersion:
        return self.versions[-1]

    @property
    def created(self) -> datetime:
        return self.versions[0].created_at


@dataclass
class FakeMedia:
    key: str
    kind: str  # photo | video
    name: str  # served at /media/NAME


class FakeXAccount:
    """An X account with its conversations; ``owner`` is the account's user id."""

    def __init__(self, owner: FakeUser, now: datetime | None = None):
        self.owner = owner
        self.users: dict[str, FakeUser] = {owner.id: owner}
        self.tweets: list[FakeTweet] = []
        self.by_version: dict[str, FakeTweet] = {}
        self.conversations: dict[str, list[FakeTweet]] = {}
        self.media: dict[str, FakeMedia] = {}
        self.clock = now  # None: real time
        self.media_root = "http://127.0.0.1/media"  # the server serving /media/NAME sets its own
        self._sequence = 0

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    # Building ---------------------------------------------------------------------------------
    def _id(self, at: datetime) -> str:
        self._sequence += 1
        return snowflake(at, self._sequence)

    def user(self, username: str, name: str) -> FakeUser:
        user = FakeUser(str(10_000_000 + len(self.users)), username, name)
        self.users[user.id] = user
        return user

    def post(self, at: datetime, text: str, author: FakeUser | None = None, reply_to: FakeTweet | None = None,
             photo: bool = False) -> FakeTweet:
        author = author or self.owner
        tweet_id = self._id(at)
        tweet = FakeTweet([FakeVersion(tweet_id, text, at)], author.id,
                          reply_to.conversation_id if reply_to else tweet_id,
                          reply_to.current.id if reply_to else None, reply_to.author_id if reply_to else None)
        if photo:
            key = f"3_{tweet_id}"
            self.media[key] = FakeMedia(key, "photo", f"{key}.jpg")
            tweet.media_keys.append(key)
        if reply_to is not None:
            reply_to.replies += 1
        self.tweets.append(tweet)
        self.by_version[tweet_id] = tweet
        self.conversations.setdefault(tweet.conversation_id, []).append(tweet)
        return tweet

    def edit(self, tweet: FakeTweet, text: str, at: datetime | None = None) -> FakeVersion:
        at = at or max(tweet.current.created_at + timedelta(minutes=1), self.now())
        version = FakeVersion(self._id(at), text, at)
        tweet.versions.append(version)
        self.by_version[version.id] = tweet
        return version

    @classmethod
    def synthetic(cls, posts: int = 50, replies: int = 200, seed: int = 0, days: float = 400.0,
                  now: datetime | None = None, edits: float = 0.02, hidden: float = 0.01,
                  own_replies: float = 0.01) -> FakeXAccount:
        """A city account: ``posts`` over ``days`` up to ``now``, ``replies`` among them (nested,
        some by the city itself), a share edited and hidden, a few with photos."""
        rng = random.Random(seed)
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        account = cls(FakeUser("2244994945", "cityofspringfield", "City of Springfield"), now=None)
        residents = [account.user(f"resident{n}", f"Resident {n}") for n in range(60)]
        start = now - timedelta(days=days)
        step = (now - start) / max(posts, 1)
        roots: list[FakeTweet] = []
        threads: dict[str, list[FakeTweet]] = {}
        for n in range(posts):
            at = start + step * n + timedelta(seconds=rng.randrange(60))
            roots.append(account.post(at, f"City notice {n}: road work on Main Street, week {n % 52}",
                                      photo=n % 7 == 0))
        for n in range(replies):
            root = roots[int(len(roots) * (1 - rng.random() ** 2)) % len(roots)]  # recent posts draw more
            thread = threads.setdefault(root.id, [])
            parent = rng.choice(thread) if thread and rng.random() < 0.35 else root
            at = min(parent.created + timedelta(minutes=rng.randrange(1, 3000)), now - timedelta(seconds=1))
            author = account.owner if rng.random() < own_replies else rng.choice(residents)
            reply = account.post(at, f"reply {n} about notice {root.versions[0].text[12:20]}", author, parent)
            reply.hidden = parent is root and rng.random() < hidden
            thread.append(reply)
        for tweet in account.tweets:
            tweet.likes, tweet.retweets = rng.randrange(50), rng.randrange(5)
            if rng.random() < edits:
                account.edit(tweet, tweet.current.text + " (corrected)", tweet.created + timedelta(minutes=5))
        return account

    # Ground truth -----------------------------------------------------------------------------
    def live(self) -> list[FakeTweet]:
        return [t for t in self.tweets if not t.deleted]

    def shown(self, tweet: FakeTweet) -> bool:
        """Whether listings show it: live, by an author neither suspended nor protected."""
        author = self.users[tweet.author_id]
        return not (tweet.deleted or author.suspended or author.protected)

    def visible(self) -> list[FakeTweet]:
        return [t for t in self.tweets if self.shown(t)]

    def truth(self) -> dict[str, str]:
        """item id → current text of everything that exists (hidden replies marked)."""
        return {t.id: t.current.text + (" [hidden]" if t.hidden else "") for t in self.live()}

    # Rendering --------------------------------------------------------------------------------
    def render(self, tweet: FakeTweet, version: FakeVersion, fields: set[str], owner_view: bool) -> dict[str, Any]:
        """A post as v2 renders it for ``tweet.fields``: id, text, edit_history_tweet_ids always."""
        chain = [v.id for v in tweet.versions]
        node: dict[str, Any] = {"id": version.id, "text": version.text, "edit_history_tweet_ids": chain}
        wanted: dict[str, Any] = {
            "created_at": x_time(version.created_at),
            "author_id": tweet.author_id,
            "conversation_id": tweet.conversation_id,
            "lang": "en",
            "possibly_sensitive": False,
            "source": "Twitter Web App",
            "public_metrics": {"retweet_count": tweet.retweets, "reply_count": tweet.replies,
                               "like_count": tweet.likes, "quote_count": 0, "bookmark_count": 0,
                               "impression_count": 40 * tweet.likes},
            "edit_controls": {"is_edit_eligible": len(chain) < 6,
                              "editable_until": x_time(tweet.created + timedelta(minutes=30)),
                              "edits_remaining": max(0, 6 - len(chain))},
        }
        if tweet.replied_to:
            wanted["referenced_tweets"] = [{"type": "replied_to", "id": tweet.replied_to}]
            wanted["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        if tweet.media_keys:
            wanted["attachments"] = {"media_keys": list(tweet.media_keys)}
        if "#" in version.text or "@" in version.text:
            wanted["entities"] = {"hashtags": [{"start": 0, "end": 4, "tag": "city"}]}
        node.update({k: v for k, v in wanted.items() if k in fields})
        if owner_view and tweet.hidden:
            node["hidden"] = True  # the owner's view marks replies it hid
        return node

    def user_node(self, user: FakeUser, fields: set[str]) -> dict[str, Any]:
        node: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        extra = {"created_at": "2009-08-05T05:46:48.000Z", "description": f"{user.name} on X",
                 "protected": user.protected, "verified": user.id == self.owner.id,
                 "profile_image_url": f"{self.media_root}/avatar-{user.id}.jpg",
                 "public_metrics": {"followers_count": 1000 + len(self.tweets), "following_count": 12,
                                    "tweet_count": sum(1 for t in self.live() if t.author_id == user.id),
                                    "listed_count": 3}}
        node.update({k: v for k, v in extra.items() if k in fields})
        return node
