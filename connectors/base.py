"""What every platform connector is made of: a client, its paginators, a parser, a fake server.

A connector never touches WARC files or the index. Its client asks the recording session for
pages; its parser turns one captured response into ``Observation``s. The same parser runs on
live responses during a harvest and on WARC records during ``archiver reindex``, which is why
the index can always be rebuilt from the WARCs alone.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from archiver.capture.response import CapturedResponse, Headers
from connectors.untrusted import Malformed, clean, storable
from connectors.windows import SharedWindows

# CapturedResponse and Headers live in archiver.capture (the session builds them); connectors
# import them from here with everything else a connector is made of.
__all__ = ["CapturedResponse", "Connector", "HarvestContext", "HarvestError", "HarvestStopped", "Headers", "ItemRef",
           "Malformed", "Observation", "Page", "Paginator", "PlatformError", "StrictOptions", "VersionState", "checked",
           "describe_failure"]

if TYPE_CHECKING:
    from archiver.capture.retry import RetryPolicy
    from archiver.capture.session import Exchange, RecordingSession
    from archiver.config import AccountConfig, CaptureSection
    from archiver.quota import Budget, QuotaSpec


class VersionState(StrEnum):
    VISIBLE = "visible"
    EDITED = "edited"
    HIDDEN = "hidden"
    DELETED = "deleted"
    UNAVAILABLE = "unavailable"


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
    # Only counts for an item observed elsewhere (an insights response): they update the item's
    # latest metrics and link the evidence, never make a version, and are ignored for unknown items.
    metrics_only: bool = False
    # A past revision the platform reports (an edit history, oldest first): recorded as a version
    # only if the item has no version with this content yet, so re-reading a history adds nothing.
    historical: bool = False
    # This object could not be read (connectors/untrusted.py): why, naming the field. Its bytes
    # are evidence in the WARC; the index records the problem, never a version or a deletion, and
    # ``platform_id`` is empty when not even the object's id was readable.
    problem: str | None = None

    def __post_init__(self) -> None:
        # Storable by construction, whatever a parser passed (connectors/untrusted.py): text without
        # NUL or lone surrogates, finite numbers, JSON-shaped content, times in UTC.
        # (Field by field, not in a loop over names: this runs for every item of every harvest.)
        setter = object.__setattr__
        for name in ("platform_id", "parent_id"):
            value = getattr(self, name)
            if type(value) is not str:
                if isinstance(value, bool) or not isinstance(value, str | int):
                    value = "" if name == "platform_id" else None  # not an id at all: see ``checked``
                if value is not None:
                    setter(self, name, clean(value if isinstance(value, str) else str(value)))
                continue
            setter(self, name, storable(value))
        for name in ("kind", "text", "url", "author", "problem"):
            value = getattr(self, name)
            if type(value) is str:
                setter(self, name, storable(value))
            elif value is not None:
                setter(self, name, clean(value if isinstance(value, str) else str(value)))
        setter(self, "content", clean(dict(self.content), "content"))
        setter(self, "metrics", clean(dict(self.metrics), "metrics") if self.metrics else {})
        if self.media_urls:
            setter(self, "media_urls", tuple(clean(str(u)) for u in self.media_urls))
        elif type(self.media_urls) is not tuple:
            setter(self, "media_urls", ())
        setter(self, "posted_at", _utc(self.posted_at))

    def content_hash(self) -> str:
        """SHA-256 of the canonical content and state: equal hashes mean "no new version"."""
        canonical = _CANONICAL.encode({"content": self.content, "state": self.state.value})
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# What json.dumps(sort_keys=True, ensure_ascii=False, default=str) builds on every call, built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)


def _utc(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    if moment.tzinfo is UTC:  # already so (parsers read times in UTC): no conversion
        return moment
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        return None


def checked(found: Any) -> list[Observation]:
    """What a parser returned, if it is a list of observations (else the record is quarantined);
    an observation without a usable id becomes a problem observation (the record holds an object
    the index cannot name), never an item named by nothing."""
    if not isinstance(found, list) or not all(isinstance(o, Observation) for o in found):
        raise TypeError(f"the parser returned {type(found).__name__}, not a list of observations")
    return [o if o.platform_id.strip() or o.problem else
            replace(o, platform_id="", content={}, problem=f"{o.kind}: the parser found no id to name it by")
            for o in found]


@dataclass
class Page:
    """One fetched page and what its parser found in it.

    ``failure`` says why the parser raised on it: the record is quarantined (kept, listed, retried
    by ``reindex``) and the harvest goes on. Build pages with ``Page.parsed`` so that it is so.
    """

    exchange: Exchange
    observations: list[Observation]
    failure: str | None = None

    @classmethod
    def parsed(cls, exchange: Exchange, parse: Callable[[CapturedResponse], list[Observation]]) -> Page:
        """``parse(exchange.response)`` as a page; a parser that raises quarantines the record."""
        try:
            return cls(exchange, checked(parse(exchange.response)))
        except Exception as exc:  # a defect or a payload no parser foresaw: never the harvest's end
            return cls(exchange, [], failure=describe_failure(exc))


def describe_failure(exc: BaseException) -> str:
    """One line naming a parser's failure."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return text if isinstance(exc, Malformed) else f"{type(exc).__name__}: {text}".rstrip(": ")


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
    # The latest recorded content of items, by platform id (those the index has), so a connector
    # can ask the platform only for versions it has not recorded yet (X's edit chains).
    recorded: Callable[[list[str]], dict[str, Mapping[str, Any]]] = field(default=lambda platform_ids: {})
    # Tell the operator the harvest is waiting (why, until when); the runner shows and records it.
    on_wait: Callable[[str, datetime], None] = field(default=lambda reason, until: None)
    # The credential's budget (X paid reads, YouTube units) when the platform has one: reserve
    # before each call, never past it (archiver/quota.py).
    budget: Budget | None = None
    # The rate-limit windows the platform announced for the account's credential, shared by every
    # harvest on it through the credential's governor (archiver/governor.py).
    windows: SharedWindows = field(default_factory=SharedWindows)
    # Set when a stop is asked for (SIGTERM, Ctrl-C): every wait of the harvest ends at once.
    stop: threading.Event = field(default_factory=threading.Event)

    def wait(self, reason: str, until: datetime) -> None:
        self.notes.append(f"waited until {until.isoformat(timespec='seconds')}: {reason}")
        self.on_wait(reason, until)

    def pause(self, seconds: float) -> None:
        """Sleep for a retry backoff or a rate limit, unless a stop is asked for: then raise
        HarvestStopped, so a throttled harvest (Meta may ask for an hour) never holds up a stop."""
        if self.stop.wait(max(0.0, seconds)):
            raise HarvestStopped("a stop was asked for while the harvest waited")


class HarvestStopped(Exception):
    """A stop was asked for (SIGTERM, Ctrl-C): the harvest ends where it is; what is in flight is
    sealed and stored, and the cursor stays."""


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
        try:
            following = self.next_value(page)
        except Malformed as exc:
            raise HarvestError(f"the listing's paging cannot be read ({exc}); the page is kept", "listing") from None
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
    def access(cls, account: AccountConfig) -> list[str]:
        """What the platform must grant before this account can be harvested (``check-config`` says it)."""
        return []

    @classmethod
    def options(cls, account: AccountConfig) -> BaseModel | None:
        return cls.options_model(**account.options()) if cls.options_model else None

    @classmethod
    def quota(cls, account: AccountConfig) -> QuotaSpec | None:
        """The budget the account's credential draws on, for platforms that sell or grant one."""
        return None

    @classmethod
    def credential(cls, account: AccountConfig) -> str | None:
        """Who the platform counts the account's calls against, as "platform:VARIABLE" (the name of
        the environment variable holding the credential, never its value): accounts naming the same
        one share a governor — its budget and its rate-limit windows (archiver/governor.py)."""
        spec = cls.quota(account)
        if spec is not None:
            return spec.credential
        return f"{cls.platform}:{account.token_env}" if account.token_env else None

    @classmethod
    def secrets(cls, account: AccountConfig) -> list[str]:
        """Every credential this account uses, so the recorder can keep them out of records."""
        return [value for key in account.env_keys() if (value := account.secret(key, required=False))]

    @classmethod
    def quota_used(cls, headers: Mapping[str, str]) -> float | None:
        """The percentage of the platform's rate-limit budget in use that a response reports, if any."""
        return None

    @classmethod
    @abstractmethod
    def parse(cls, response: CapturedResponse) -> list[Observation]:
        """Items in one captured response; must be a pure function of ``response``."""

    @abstractmethod
    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        """Fetch the account's pages through ``context.session``; set next_cursor and complete."""

    def worth_lookup(self, ref: ItemRef) -> bool:
        """Whether a suspect is worth a lookup in this harvest (e.g. only comments of posts whose
        threads were re-listed); the rest are not suspects at all. Asked after the listing."""
        return True

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Look up items missing from a complete listing, one by one (``session.get(..., lookup=id)``).

        Only the platform's own answer (a 404 for that object, a tombstone) may make an item
        deleted; a connector that cannot ask the platform yields nothing and nothing is deleted.
        """
        return iter(())


class StrictOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
