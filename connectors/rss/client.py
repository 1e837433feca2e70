"""The RSS/Atom connector: fetch a feed (and its RFC 5005 pages) through the recording session.

The first page is fetched conditionally (``If-None-Match`` / ``If-Modified-Since``), so an
unchanged feed costs one small 304 exchange. Paging stops at the end of the feed or, on
later harvests, at the first page holding nothing newer than the previous harvest saw.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from archiver.capture.session import FetchFailed
from connectors.base import (
    CapturedResponse,
    Connector,
    HarvestContext,
    ItemRef,
    Observation,
    Page,
    PlatformError,
    StrictOptions,
    describe_failure,
)
from connectors.rss.paginator import FeedPaginator
from connectors.rss.parser import GONE, FeedPage, lookup_observations, parse_feed

if TYPE_CHECKING:
    from archiver.capture.session import Exchange
    from archiver.config import AccountConfig


def with_base_url(url: str, base_url: str | None) -> str:
    """``url`` with its scheme and host replaced by ``base_url`` (proxies, tests).

    >>> with_base_url("https://www.example.gov/news/1", "http://127.0.0.1:8765")
    'http://127.0.0.1:8765/news/1'
    """
    if not base_url:
        return url
    base, original = urlsplit(base_url), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + original.path, original.query, ""))


def feed_url(account: AccountConfig) -> str:
    """The account's feed URL, with ``base_url`` (if set) replacing its scheme and host.

    >>> from archiver.config import AccountConfig
    >>> feed_url(AccountConfig(name="yt", platform="rss", id="https://www.youtube.com/feeds/videos.xml?channel_id=UC1",
    ...                        base_url="http://127.0.0.1:8765"))
    'http://127.0.0.1:8765/feeds/videos.xml?channel_id=UC1'
    """
    return with_base_url(account.id, account.base_url)


class RssOptions(StrictOptions):
    """Feeds behind a key: the account's ``token_env`` credential is sent as ``Authorization:
    Bearer …``, or as the query parameter ``token_param`` (e.g. "key") when that is set."""

    token_param: str | None = None


def with_credential(url: str, token: str | None, param: str | None) -> tuple[str, dict[str, str] | None]:
    """The URL and headers to send; a credential parameter already in the URL is replaced, not doubled."""
    if not token:
        return url, None
    if param is None:
        return url, {"Authorization": f"Bearer {token}"}
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != param] + [(param, token)]
    return urlunsplit(parts._replace(query=urlencode(query))), None


class RssConnector(Connector):
    platform = "rss"
    options_model = RssOptions

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not account.id.startswith(("http://", "https://", "file://")):
            problems.append(f"id: {account.id!r} is not a feed URL; give the feed's http(s):// URL "
                            "(or a file:// path to a saved feed)")
        return problems

    lookup_kinds = ("entry",)

    @classmethod
    def parse(cls, response: CapturedResponse) -> list[Observation]:
        if response.lookup is not None:
            return lookup_observations(response)
        return parse_feed(response).observations

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Ask each missing entry's own page; only a 404 or 410 there records a deletion."""
        for suspect in suspects:
            if not suspect.url or not suspect.url.startswith(("http://", "https://")):
                continue
            url = with_base_url(suspect.url, context.account.base_url)
            try:
                exchange = context.retry.call(lambda url=url, suspect=suspect: context.session.get(
                    url, lookup=suspect.platform_id))
            except FetchFailed as exc:
                context.notes.append(f"could not look up {suspect.platform_id}: {exc}")
                context.unresolved.append(suspect.platform_id)
                continue
            if exchange.response.status != 200 and exchange.response.status not in GONE:
                context.unresolved.append(suspect.platform_id)  # no answer either way: ask again later
            yield Page.parsed(exchange, lookup_observations)

    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        url = feed_url(context.account)
        if url.startswith("file://"):
            yield from self._harvest_file(context, url)
            return
        cursor = context.cursor if context.cursor.get("url") == url else {}
        conditional = {name: cursor[key] for name, key in (("If-None-Match", "etag"),
                                                            ("If-Modified-Since", "last_modified")) if cursor.get(key)}
        pages = FeedPaginator(url, max_pages=context.capture.max_pages)
        newest: str | None = cursor.get("newest")
        oldest_listed: datetime | None = None
        recheck_from = datetime.now(UTC) - context.recheck_window
        validators: dict[str, Any] = {}
        token = context.account.secret("token_env") if context.account.token_env else None
        param = context.options.token_param if isinstance(context.options, RssOptions) else None
        while not pages.finished:
            first = pages.pages == 0
            assert pages.current is not None
            target, auth = with_credential(pages.current, token, param)
            headers = (conditional if first else {}) | (auth or {})
            exchange = context.retry.call(
                lambda target=target, headers=headers: context.session.get(target, headers=headers)
            )
            response = exchange.response
            if first and response.status == 304:
                context.notes.append("feed unchanged since the last harvest (HTTP 304)")
                context.next_cursor, context.complete = dict(cursor), True
                return
            self._check(exchange)
            page = yield from _parsed(exchange)
            if page.problem:
                raise PlatformError(f"{page.problem}; the response is kept in {exchange.evidence.warc_name}",
                                    "listing")
            yield Page(exchange, page.observations)
            if first:
                validators = {"etag": response.headers.get("etag"),
                              "last_modified": response.headers.get("last-modified")}
            newest = max(filter(None, [newest, page.newest]), default=None)
            oldest_listed = min(filter(None, [oldest_listed, page.oldest_posted]), default=None)
            caught_up = bool(cursor.get("newest") and page.newest and page.newest <= cursor["newest"])
            past_window = page.oldest_posted is not None and page.oldest_posted < recheck_from
            if caught_up and past_window and not context.full_sweep:
                context.notes.append(f"stopped paging at page {pages.pages + 1}: nothing newer than the last "
                                     "harvest and older than the re-check window")
                break
            pages.advance(page)
        if pages.finished and cursor.get("newest") and oldest_listed is not None \
                and oldest_listed.isoformat() > cursor["newest"]:
            # The feed's window no longer reaches back to what the last harvest saw.
            context.window_exceeded = (cursor["newest"], oldest_listed.isoformat())
            context.notes.append(f"entries published between {cursor['newest']} and {oldest_listed.isoformat()} "
                                 "may have left the feed before this harvest")
        # Paging to the feed's end lists all it has: an entry listed last time and missing now is a
        # suspect however old (a windowed feed's dropped entries are looked up once, and survive).
        context.listed_since = datetime.min.replace(tzinfo=UTC) if pages.finished else oldest_listed
        context.next_cursor = {"url": url, **{k: v for k, v in validators.items() if v}, "newest": newest}
        context.complete = True

    def _harvest_file(self, context: HarvestContext, url: str) -> Iterator[Page]:
        exchange = context.session.read_file(url)
        page = yield from _parsed(exchange)
        if page.problem:
            raise PlatformError(f"{page.problem}; the file is kept in {exchange.evidence.warc_name}")
        yield Page(exchange, page.observations)
        context.next_cursor, context.complete = {"url": url, "newest": page.newest}, True

    @staticmethod
    def _check(exchange: Exchange) -> None:
        status = exchange.response.status
        if status == 200:
            return
        where = f"{exchange.response.url} answered HTTP {status}"
        hint = {404: "check the feed URL in the account's id", 401: "the feed needs credentials",
                403: "the server refuses the archiver; check access rules", 410: "the feed was removed"}
        cause = {401: "token", 403: "permission", 429: "quota"}.get(status, "outage" if status >= 500 else "platform")
        raise PlatformError(f"{where}: {hint.get(status, 'the server could not give the feed')} "
                            f"(the response is kept in {exchange.evidence.warc_name})", cause)


def _parsed(exchange: Exchange) -> Generator[Page, None, FeedPage]:
    """The feed in one response; a parser that raises on it quarantines the record (a page with
    ``failure``) and ends the listing, since nothing says where the next page is."""
    try:
        return parse_feed(exchange.response)
    except Exception as exc:  # a defect or a document no parser foresaw: never the daemon's end
        failure = describe_failure(exc)
        yield Page(exchange, [], failure=failure)
        raise PlatformError(f"{exchange.response.url} could not be parsed ({failure}); the response is kept in "
                            f"{exchange.evidence.warc_name} and quarantined", "listing") from None
