"""The Mastodon connector: the account (resolved once from ``@user@instance``), its statuses newest
first, each status's replies at any depth (``/context``), every edited status's revisions
(``/history``), direct lookups of what went missing.

Calls: the profile; one listing page per ``page_size`` statuses (at most 40); one context call
per status that has replies; one history call per edited status or reply each time it is
re-listed. The ``X-RateLimit-*`` budget (300 calls per 5 minutes by default) is waited out before
it is spent (``connectors.ratelimit``). Public statuses need no token; an instance in
authorized-fetch mode (401 "This API requires an authenticated user") needs ``token_env``, as do
threads with more than 60 replies (the context call gives unauthenticated callers only 60).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pydantic import Field

from connectors.base import (
    CapturedResponse,
    HarvestContext,
    HarvestError,
    ItemRef,
    Observation,
    Page,
)
from connectors.graph.objects import graph_time
from connectors.mastodon import parser
from connectors.mastodon.paging import LinkListing
from connectors.ratelimit import RateLimitOptions
from connectors.rest import RestClient, RestConnector, RestError, body_json

if TYPE_CHECKING:
    from archiver.config import AccountConfig


class MastodonOptions(RateLimitOptions):
    page_size: int = Field(40, ge=1, le=40)  # statuses per listing call (the API allows at most 40)


def split_handle(handle: str) -> tuple[str, str | None]:
    """
    >>> split_handle("@cityofexample@mastodon.example"), split_handle("1090"), split_handle("city@x.social")
    (('cityofexample', 'mastodon.example'), ('1090', None), ('city', 'x.social'))
    """
    user, _, instance = handle.lstrip("@").partition("@")
    return user, instance or None


def classify(response: CapturedResponse) -> RestError:
    """Mastodon's errors by HTTP status (the texts vary between versions: never match on them)."""
    body = body_json(response)
    said = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else ""
    status = response.status
    if status == 401:
        return RestError("token", f"the instance refused the credentials ({said or 'unauthorized'}); if the "
                                  "instance requires sign-in (authorized fetch), set token_env to a valid access "
                                  "token; if it was set, the token was revoked or expired: issue a new one")
    if status == 403:
        return RestError("permission", f"the instance forbids this ({said or 'forbidden'}); the token needs the "
                                       "read:statuses and read:accounts scopes")
    if status in parser.GONE:
        return RestError("missing", f"not found ({said or 'Record not found'}); check the account id or handle")
    return RestError("outage" if status >= 500 else "platform", said or f"HTTP {status}")


class MastodonConnector(RestConnector):
    platform = "mastodon"
    options_model = MastodonOptions
    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        user, instance = split_handle(account.id)
        if not user.isdigit() and instance is None:
            problems.append(f"id: {account.id!r} is neither an account id nor @user@instance; give the numeric "
                            "account id or the full handle (e.g. @cityofexample@mastodon.example)")
        if account.base_url is None and instance is None:
            problems.append("base_url: missing; give the instance's address (e.g. https://mastodon.example)")
        return problems

    @classmethod
    def parse(cls, response: CapturedResponse) -> list[Observation]:
        return parser.parse(response)

    def client(self, context: HarvestContext) -> RestClient:
        if self._client is None:
            options = context.options
            assert isinstance(options, MastodonOptions)
            instance = context.account.base_url or f"https://{split_handle(context.account.id)[1]}"
            token = context.account.secret("token_env") if context.account.token_env else None
            limiter = options.limiter("x-ratelimit-", context.wait, context.pause, context.windows)
            self._client = RestClient(context, f"{instance}/api/v1", {"Authorization": f"Bearer {token}"}
                                      if token else {}, limiter, classify, "Mastodon API")
        return self._client

    # The listing ------------------------------------------------------------------------------
    def _account(self, context: HarvestContext, client: RestClient) -> Iterator[Page]:
        """The profile; a handle is resolved to the account id once (kept in the cursor)."""
        handle = context.account.id
        user, _ = split_handle(handle)
        known = context.cursor.get("account_id") if context.cursor.get("handle") == handle else None
        if user.isdigit() or known:
            url = client.url(f"accounts/{user if user.isdigit() else known}")
        else:
            url = client.url("accounts/lookup", {"acct": handle.lstrip("@")})
        exchange, body = client.get_json(url)
        yield Page.parsed(exchange, parser.parse)
        if not isinstance(body.get("id"), str) or not body["id"].isdigit():
            raise HarvestError(f"{client.where(url)} gave no account id (kept in {exchange.evidence.warc_name})",
                               "listing")
        self.account_id = body["id"]

    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        client = self.client(context)
        yield from self._account(context, client)
        size = context.options.page_size if isinstance(context.options, MastodonOptions) else 40
        previous = graph_time(context.cursor.get("newest"))
        stop_before = None if context.full_sweep or previous is None else \
            min(datetime.now(UTC) - context.recheck_window, previous)
        listing = LinkListing(client.url(f"accounts/{self.account_id}/statuses", {"limit": size}),
                              context.capture.max_pages, stop_before)
        newest = previous
        while not listing.finished:
            assert listing.current is not None
            exchange, body = client.get_json(listing.current, list)
            yield Page.parsed(exchange, parser.parse)
            for status in body:
                if not isinstance(status, dict) or not isinstance(status.get("id"), str):
                    continue
                stamp = graph_time(status.get("created_at"))
                newest = stamp if stamp and (newest is None or stamp > newest) else newest
                yield from self._thread(context, client, status)
            listing.advance((exchange.response.headers, body))
        context.listed_since = datetime.min.replace(tzinfo=UTC) if listing.reached_end else listing.oldest
        context.next_cursor = {"newest": newest.isoformat() if newest else None, "account_id": self.account_id,
                               "handle": context.account.id}
        context.notes.append(client.summary())
        context.complete = True

    def _thread(self, context: HarvestContext, client: RestClient, status: dict[str, Any]) -> Iterator[Page]:
        """A status's own revisions, its replies at any depth, and theirs."""
        status_id = status["id"]
        if status.get("edited_at"):
            yield from self._history(client, status, "post")
        if status.get("reblog") or status.get("replies_count") == 0:
            self._listed.listed(status_id)
            return
        exchange, body = client.get_json(client.url(f"statuses/{status_id}/context"))
        page = Page.parsed(exchange, parser.parse)
        observations = page.observations
        yield page
        self._listed.listed(status_id, (o.platform_id for o in observations))
        for reply in body.get("descendants") or []:
            if isinstance(reply, dict) and reply.get("edited_at") and isinstance(reply.get("id"), str):
                kind = "comment" if reply.get("in_reply_to_id") == status_id else "reply"
                yield from self._history(client, reply, kind)

    def _history(self, client: RestClient, status: dict[str, Any], kind: str) -> Iterator[Page]:
        known = {"kind": kind, "parent": status.get("in_reply_to_id"), "url": status.get("url")}
        fragment = urlencode({k: v for k, v in known.items() if isinstance(v, str)})
        exchange, _ = client.get_json(client.url(f"statuses/{status['id']}/history") + f"#{fragment}", list)
        yield Page.parsed(exchange, parser.parse)

    # Lookups ----------------------------------------------------------------------------------
    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Ask each missing status directly; only its own 404/410 records a deletion. A reply is
        asked only if its thread was re-listed in this harvest."""
        client = self.client(context)
        for ref in suspects:
            if not self._listed.covers(ref, suspects):
                continue
            url = client.url(f"statuses/{ref.platform_id}") + f"#{urlencode({'kind': ref.kind})}"
            exchange = client.lookup(url, ref.platform_id)
            if exchange is None:
                continue
            if exchange.response.status != 200 and exchange.response.status not in parser.GONE:
                context.unresolved.append(ref.platform_id)
            yield Page.parsed(exchange, parser.parse)
