"""What every platform connector is made of: a client, its paginators, a parser, a fake server.

A connector never touches WARC files or the index. Its client asks the recording session for
pages; its parser turns one captured response into ``Observation``s. The same parser runs on
live responses during a harvest and on WARC records during ``archiver reindex``, which is why
the index can always be rebuilt from the WARCs alone.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from archiver.capture.retry import RetryPolicy
    from archiver.capture.session import Exchange, RecordingSession
    from archiver.config import AccountConfig, CaptureSection


class VersionState(StrEnum):
    VISIBLE = "visible"
    EDITED = "edited"
    HIDDEN = "hidden"
    DELETED = "deleted"
    UNAVAILABLE = "unavailable"


class Headers(Mapping[str, str]):
    """Case-insensitive, order-keeping response headers (first value wins on lookup)."""

    def __init__(self, items: list[tuple[str, str]]):
        self.items_list = list(items)
        self._lookup: dict[str, str] = {}
        for name, value in self.items_list:
            self._lookup.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._lookup[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup)

    def __len__(self) -> int:
        return len(self._lookup)


@dataclass(frozen=True)
class CapturedResponse:
    """One archived response as parsers see it, live or read back from a WARC.

    ``url`` and ``body`` are the redacted forms that the WARC holds, with transfer and content
    encodings removed, so a live parse and a reindex parse see exactly the same input.
    """

    url: str
    status: int
    headers: Headers
    body: bytes
    captured_at: datetime
    # Set when this exchange was a direct lookup of one item (to confirm it is gone or changed):
    # the item's platform id. Parsers read lookups whatever their status, since a 404 there is evidence.
    lookup: str | None = None

    @property
    def parseable(self) -> bool:
        """Whether a parser sees this response: successes, and every direct lookup."""
        return self.lookup is not None or 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Observation:
    """An item as seen in one response: the unit the index turns into versions."""

    platform_id: str
    kind: str  # "post", "comment", "reply", "entry", "media", "profile"
    content: Mapping[str, Any]  # normalized, JSON-serializable; what a version is made of
    text: str = ""  # the words a search should find
    state: VersionState = VersionState.VISIBLE
    url: str | None = None
    author: str | None = None
    posted_at: datetime | None = None
    parent_id: str | None = None
    media_urls: tuple[str, ...] = ()
    # Counts that change on every look (reactions, shares, comment counts): kept as "latest
    # observed" on the item, never hashed, so they never make a new version.
    metrics: Mapping[str, Any] = field(default_factory=dict)
    # The platform reported a change of state without the item's content (a webhook event): the
    # recorder keeps the latest content and records the new state, or nothing if the item is unknown.
    state_only: bool = False

    def content_hash(self) -> str:
        """SHA-256 of the canonical content and state: equal hashes mean "no new version"."""
        canonical = json.dumps(
            {"content": self.content, "state": self.state.value}, sort_keys=True, ensure_ascii=False, default=str
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class Page:
    """One fetched page and what its parser found in it."""

    exchange: Exchange
    observations: list[Observation]


@dataclass(frozen=True)
class ItemRef:
    """An item the index already has: what a connector needs to look it up directly."""

    platform_id: str
    kind: str
    url: str | None
    posted_at: datetime | None
    parent_id: str | None = None


@dataclass
class HarvestContext:
    """What a connector gets for one harvest."""

    account: AccountConfig
    session: RecordingSession
    capture: CaptureSection
    cursor: dict[str, Any]
    retry: RetryPolicy
    options: BaseModel | None = None
    recheck_window: timedelta = timedelta(days=30)  # items this recent are re-listed every harvest
    full_sweep: bool = False  # this run re-lists the account's whole history
    # Set by the connector as it goes: the cursor to store once the data is durable, and
    # whether the run covered everything it meant to (a partial run never advances the cursor).
    next_cursor: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    notes: list[str] = field(default_factory=list)
    # Everything posted at or after this time was in the listing (datetime.min: the listing
    # reached its end). Only an item listed last time, posted in that range and missing now is a
    # suspect worth a direct lookup. None (a 304, nothing listed) means no suspicion at all.
    listed_since: datetime | None = None
    # Suspects whose lookup got no definite answer (5xx, timeout): asked again next harvest.
    unresolved: list[str] = field(default_factory=list)
    # The listing could not reach back to the previous harvest (a feed keeps only its newest
    # entries): (from, to) of what may have been lost, stated in coverage.
    window_exceeded: tuple[str, str] | None = None
    # A targeted run (a webhook asked for these objects): look them up, list nothing, and leave
    # the cursor and coverage alone.
    targets: tuple[str, ...] = ()
    # Platform ids of the items under one item (comments and replies of a post), from the index.
    descendants: Callable[[str], list[str]] = field(default=lambda platform_id: [])
    # Tell the operator the harvest is waiting (why, until when); the runner shows and records it.
    on_wait: Callable[[str, datetime], None] = field(default=lambda reason, until: None)

    def wait(self, reason: str, until: datetime) -> None:
        self.notes.append(f"waited until {until.isoformat(timespec='seconds')}: {reason}")
        self.on_wait(reason, until)


class HarvestError(Exception):
    """A harvest cannot go on; the message is the one-line reason shown to the operator.

    ``cause`` classifies the failure for coverage statements: "platform" (the platform
    answered with an error), "outage" (5xx, timeouts, unreachable), "token" (credential expired
    or revoked), "permission", "quota" (throttled beyond waiting), "listing" (a broken listing).
    """

    def __init__(self, message: str, cause: str = "platform"):
        super().__init__(message)
        self.cause = cause


class PlatformError(HarvestError):
    """The platform answered with an error that retrying will not fix."""


T = TypeVar("T")
P = TypeVar("P")


class Paginator(ABC, Generic[T, P]):
    """Follows one listing page by page; subclasses say where the next page is.

    ``current`` is what to request next (a URL, a cursor token...); ``None`` once finished.
    ``P`` is the parsed page the subclass reads the next value from (a dict of JSON, a
    parsed feed...), so a page is parsed once for its items and its paging alike. Loops and
    listings that never end stop with a HarvestError instead of running forever.
    """

    def __init__(self, start: T | None, max_pages: int):
        self.current: T | None = start
        self.pages = 0
        self.max_pages = max_pages
        self._seen: set[Any] = set()

    @abstractmethod
    def next_value(self, page: P) -> T | None:
        """Where the page after ``page`` is, or None if it was the last."""

    @property
    def finished(self) -> bool:
        return self.current is None

    def advance(self, page: P) -> None:
        if self.current is not None:
            self._seen.add(self.current)
        self.pages += 1
        following = self.next_value(page)
        if following is not None and following in self._seen:
            raise HarvestError(f"paging loops back to a page already fetched ({following}); the listing is broken",
                               "listing")
        if following is not None and self.pages >= self.max_pages:
            raise HarvestError(
                f"paging did not end after {self.pages} pages; if the listing really is that long, "
                "raise [capture] max_pages", "listing"
            )
        self.current = following


class Connector(ABC):
    """A platform: how to check its account config, harvest it, and parse what it returns."""

    platform: ClassVar[str]
    options_model: ClassVar[type[BaseModel] | None] = None
    # Kinds of item whose absence from a complete listing is worth a direct lookup.
    lookup_kinds: ClassVar[tuple[str, ...]] = ()
    default_recheck_window: ClassVar[timedelta] = timedelta(days=30)
    default_full_sweep: ClassVar[timedelta] = timedelta(days=7)

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        """Problems with an account's platform-specific keys, as "key: message" lines."""
        if cls.options_model is None:
            extra = [k for k in account.options() if not k.endswith("_env")]
            return [f"{key}: unknown key for platform '{cls.platform}'" for key in extra]
        try:
            cls.options_model(**account.options())
        except ValidationError as exc:
            return [
                f"{'.'.join(str(p) for p in e['loc'])}: "
                + (f"unknown key for platform '{cls.platform}'; check its spelling against config.example.toml"
                   if e["type"] == "extra_forbidden" else e["msg"])
                for e in exc.errors()
            ]
        return []

    @classmethod
    def options(cls, account: AccountConfig) -> BaseModel | None:
        return cls.options_model(**account.options()) if cls.options_model else None

    @classmethod
    def secrets(cls, account: AccountConfig) -> list[str]:
        """Every credential this account uses, so the recorder can keep them out of records."""
        return [value for key in account.env_keys() if (value := account.secret(key, required=False))]

    @classmethod
    @abstractmethod
    def parse(cls, response: CapturedResponse) -> list[Observation]:
        """Items in one captured response; must be a pure function of ``response``."""

    @abstractmethod
    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        """Fetch the account's pages through ``context.session``; set next_cursor and complete."""

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Look up items missing from a complete listing, one by one (``session.get(..., lookup=id)``).

        Only the platform's own answer (a 404 for that object, a tombstone) may make an item
        deleted; a connector that cannot ask the platform yields nothing and nothing is deleted.
        """
        return iter(())


class StrictOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
