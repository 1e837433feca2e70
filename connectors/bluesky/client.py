"""The Bluesky connector, on the public AppView (no credentials): the profile, the account's posts
and reposts newest first (``getAuthorFeed`` with its cursor), each post's replies at any depth
(``getPostThread``) with the threadgate's hidden replies as the hidden state, direct lookups of
what went missing.

``id`` is a handle or a DID; a handle is resolved to its DID once (kept in the cursor) and the DID
stays the key: a later handle change shows as a new version of the profile. Calls: the profile;
one feed call per ``page_size`` posts (at most 100); one thread call per post with replies. The
``RateLimit-*`` headers (reset in epoch seconds) are waited out before the budget is spent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from connectors.base import (
    CapturedResponse,
    HarvestContext,
    HarvestError,
    ItemRef,
    Observation,
    Page,
)
from connectors.bluesky import parser
from connectors.bluesky.paging import FeedListing
from connectors.graph.objects import graph_time
from connectors.ratelimit import RateLimitOptions
from connectors.rest import RestClient, RestConnector, RestError, body_json

if TYPE_CHECKING:
    from archiver.config import AccountConfig

APPVIEW = "https://public.api.bsky.app"
THREAD_DEPTH = 1000  # the most getPostThread gives


class BlueskyOptions(RateLimitOptions):
    page_size: int = Field(100, ge=1, le=100)  # posts per feed call (the API allows at most 100)
    # archiver serve subscribes to this Jetstream (wss://jetstream2.us-east.bsky.network/subscribe)
    jetstream_url: str | None = Field(None, pattern=r"^wss?://")


def classify(response: CapturedResponse) -> RestError:
    """XRPC errors by their ``error`` name (never by message or status alone)."""
    body = body_json(response)
    name = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else ""
    said = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else name
    if name in ("ExpiredToken", "InvalidToken", "AuthMissing") or response.status == 401:
        return RestError("token", f"the server wants credentials ({name}: {said}); the public AppView needs none: "
                                  "check base_url")
    if name in ("BlockedActor", "BlockedByActor", "AccountTakedown", "AccountDeactivated") or response.status == 403:
        return RestError("permission", f"the AppView withholds the account ({name}: {said})")
    if name in ("NotFound", "InvalidRequest") and response.status == 400:
        return RestError("missing", f"not found ({said}); check the account's handle or DID")
    return RestError("outage" if response.status >= 500 else "platform", f"{name or 'error'}: {said}")


class BlueskyConnector(RestConnector):
    platform = "bluesky"
    options_model = BlueskyOptions
    def __init__(self) -> None:
        super().__init__()
        self.did = ""

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not account.id.startswith("did:") and "." not in account.id.lstrip("@"):
            problems.append(f"id: {account.id!r} is neither a handle (city.example.gov) nor a DID (did:plc:…)")
        return problems

    @classmethod
    def parse(cls, response: CapturedResponse) -> list[Observation]:
        return parser.parse(response)

    def client(self, context: HarvestContext) -> RestClient:
        if self._client is None:
            options = context.options
            assert isinstance(options, BlueskyOptions)
            limiter = options.limiter("ratelimit-", context.wait, context.pause, context.windows)
            root = f"{context.account.base_url or APPVIEW}/xrpc"
            self._client = RestClient(context, root, {}, limiter, classify, "Bluesky AppView")
        return self._client

    def _resolve(self, context: HarvestContext, client: RestClient) -> str:
        """The account's DID: given, kept from the last resolution, or resolved from the handle now."""
        configured = context.account.id.lstrip("@")
        if configured.startswith("did:"):
            return configured
        if context.cursor.get("handle") == configured and context.cursor.get("did"):
            return str(context.cursor["did"])
        _, body = client.get_json(client.url("com.atproto.identity.resolveHandle", {"handle": configured}))
        did = body.get("did")
        if not isinstance(did, str) or not did.startswith("did:"):
            raise HarvestError(f"the handle {configured} did not resolve to a DID", "listing")
        context.notes.append(f"handle {configured} resolved to {did}")
        return did

    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        client = self.client(context)
        self.did = self._resolve(context, client)
        exchange, _ = client.get_json(client.url("app.bsky.actor.getProfile", {"actor": self.did}))
        yield Page.parsed(exchange, parser.parse)
        size = context.options.page_size if isinstance(context.options, BlueskyOptions) else 100
        previous = graph_time(context.cursor.get("newest"))
        stop_before = None if context.full_sweep or previous is None else \
            min(datetime.now(UTC) - context.recheck_window, previous)
        feed = FeedListing(client.url("app.bsky.feed.getAuthorFeed", {
            "actor": self.did, "limit": size, "filter": "posts_with_replies"}), context.capture.max_pages, stop_before)
        newest = previous
        while not feed.finished:
            assert feed.current is not None
            exchange, body = client.get_json(feed.current)
            yield Page.parsed(exchange, parser.parse)
            for entry in body.get("feed") if isinstance(body.get("feed"), list) else []:
                post = entry.get("post") if isinstance(entry, dict) else None
                if not isinstance(post, dict) or not isinstance(post.get("uri"), str) or entry.get("reason"):
                    continue
                stamp = graph_time(post.get("indexedAt"))
                newest = stamp if stamp and (newest is None or stamp > newest) else newest
                yield from self._thread(context, client, post)
            feed.advance(body)
        context.listed_since = datetime.min.replace(tzinfo=UTC) if feed.reached_end else feed.oldest
        context.next_cursor = {"newest": newest.isoformat() if newest else None, "did": self.did,
                               "handle": context.account.id.lstrip("@")}
        context.notes.append(client.summary())
        context.complete = True

    def _thread(self, context: HarvestContext, client: RestClient, post: dict[str, Any]) -> Iterator[Page]:
        uri = post["uri"]
        if post.get("replyCount") == 0:
            self._listed.listed(uri)
            return
        exchange, _ = client.get_json(client.url("app.bsky.feed.getPostThread", {
            "uri": uri, "depth": THREAD_DEPTH, "parentHeight": 0}))
        page = Page.parsed(exchange, parser.parse)
        observations = page.observations
        yield page
        self._listed.listed(uri, (o.platform_id for o in observations))

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Ask the AppView for each missing post; only ``NotFound``/``#notFoundPost`` for that very
        URI records a deletion. A reply is asked only if its thread was re-listed in this harvest."""
        client = self.client(context)
        for ref in suspects:
            if not self._listed.covers(ref, suspects) or not ref.platform_id.startswith("at://"):
                continue
            url = client.url("app.bsky.feed.getPostThread", {"uri": ref.platform_id, "depth": 0, "parentHeight": 0})
            exchange = client.lookup(url, ref.platform_id)
            if exchange is None:
                continue
            page = Page.parsed(exchange, parser.parse)
            observations = page.observations
            if not observations:
                context.unresolved.append(ref.platform_id)  # blocked, an outage: no answer either way
            yield page
