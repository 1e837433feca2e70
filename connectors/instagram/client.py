"""The Instagram connector: the account's profile, its media newest first (carousel children
included), every comment and reply with its hidden flag, lookups of what went missing, and
targeted re-fetches for webhooks. Same Graph client, throttling and paging as Facebook.

Each media page brings every media object's first comments, each with its first replies; longer
threads are followed through their own ``paging.next``. A deleted media object takes its comments
with it, a deleted comment its replies (a record of which, like Facebook's).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from archiver.capture.session import Exchange, FetchFailed
from connectors.base import Connector, HarvestContext, HarvestError, ItemRef, Page, VersionState
from connectors.graph.client import GraphClient, GraphOptions
from connectors.graph.errors import GraphError
from connectors.graph.objects import dumps, graph_time, response_json
from connectors.graph.paging import EdgePaginator, ListingPaginator
from connectors.instagram import parser
from connectors.instagram.parser import COMMENT_FIELDS, MEDIA_FIELDS, PROFILE_FIELDS, comments_field, replies_field

if TYPE_CHECKING:
    from archiver.config import AccountConfig

READ = ("instagram_basic", "instagram_manage_comments")


class InstagramOptions(GraphOptions):
    pass


class InstagramConnector(Connector):
    platform = "instagram"
    options_model = InstagramOptions
    lookup_kinds = ("post", "comment", "reply")
    default_recheck_window = timedelta(days=30)
    default_full_sweep = timedelta(days=7)

    def __init__(self) -> None:
        self._client: GraphClient | None = None
        self._listed: set[str] = set()  # media listed in this harvest, and comments seen in them
        self._complete = True

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not account.id.isdigit():
            problems.append(f"id: {account.id!r} is not an Instagram user id; give the business account's "
                            "numeric id (GET /{page-id}?fields=instagram_business_account)")
        if account.token_env is None:
            problems.append("token_env: missing; name the environment variable holding the access token")
        return problems

    @classmethod
    def parse(cls, response: Any) -> list[Any]:
        return parser.parse(response)

    def client(self, context: HarvestContext) -> GraphClient:
        if self._client is None:
            assert isinstance(context.options, GraphOptions)
            self._client = GraphClient(context, context.options)
        return self._client

    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        client = self.client(context)
        if context.targets:
            yield from self._targeted(context, client)
            context.complete = True
            return
        user, size = context.account.id, client.options.page_size
        exchange, _ = client.get_json(client.url(user, fields=PROFILE_FIELDS), needs=READ[:1])
        yield Page(exchange, parser.parse(exchange.response))
        previous = graph_time(context.cursor.get("newest"))
        stop_before = None if context.full_sweep or previous is None else \
            min(datetime.now(UTC) - context.recheck_window, previous)
        listing = ListingPaginator(client.url(f"{user}/media", fields=f"{MEDIA_FIELDS},{comments_field(size)}",
                                              limit=size), context.capture.max_pages, stop_before, "timestamp")
        newest = context.cursor.get("newest")
        while not listing.finished:
            assert listing.current is not None
            exchange, body = client.get_json(listing.current, needs=READ)
            yield Page(exchange, parser.parse(exchange.response))
            for media in body.get("data") or []:
                if isinstance(media, dict) and media.get("id"):
                    stamp = graph_time(media.get("timestamp"))
                    if stamp is not None and (newest is None or stamp > graph_time(newest)):  # type: ignore[operator]
                        newest = stamp.isoformat()
                    yield from self._thread(context, client, media)
            listing.advance(body)
        context.listed_since = datetime.min.replace(tzinfo=UTC) if listing.reached_end else listing.oldest
        context.next_cursor = {"newest": newest, "api_version": client.options.api_version}
        context.notes.append(f"{client.calls} Graph API calls; {client.throttle.throttled} throttled")
        context.complete = self._complete

    def _thread(self, context: HarvestContext, client: GraphClient, media: dict[str, Any]) -> Iterator[Page]:
        """The rest of one media object's comments, and of each comment's replies."""
        self._listed.add(str(media["id"]))
        comments = [c for c in (media.get("comments") or {}).get("data") or [] if isinstance(c, dict)]
        more = EdgePaginator(None, 1).next_value(media.get("comments") or {})
        while True:
            for comment in comments:
                if comment.get("id"):
                    self._listed.add(str(comment["id"]))
                    replies = EdgePaginator(None, 1).next_value(comment.get("replies") or {})
                    if replies:
                        yield from self._edge(context, client, replies, None)
            if not more:
                return
            comments = []
            yield from self._edge(context, client, more, comments)
            more = None

    def _edge(self, context: HarvestContext, client: GraphClient, url: str,
              collect: list[dict[str, Any]] | None) -> Iterator[Page]:
        pages = EdgePaginator(url, context.capture.max_pages)
        while not pages.finished:
            assert pages.current is not None
            try:
                exchange, body = client.get_json(pages.current, needs=READ)
            except HarvestError as exc:
                if exc.cause != "listing":
                    raise
                context.notes.append(f"a thread is not complete: {exc}")
                self._complete = False
                return
            yield Page(exchange, parser.parse(exchange.response))
            if collect is not None:
                collect += [c for c in body.get("data") or [] if isinstance(c, dict)]
            pages.advance(body)

    def _lookup(self, context: HarvestContext, client: GraphClient, object_id: str, fields: str) -> Exchange | None:
        try:
            return client.get(client.url(object_id, fields=fields), lookup=object_id)
        except FetchFailed as exc:
            context.notes.append(f"could not look up {object_id}: {exc}")
            return None

    def _cascade(self, context: HarvestContext, parent: str, reason: str, evidence: Exchange) -> Iterator[Page]:
        children = context.descendants(parent)
        if children:
            record = {"event": "parent-deleted", "reason": reason, "parent": parent, "children": children,
                      "confirmed_by": evidence.evidence.response.record_id}
            exchange = context.session.record_resource(f"{parser.CASCADE_PREFIX}{parent}", dumps(record),
                                                       "application/json")
            yield Page(exchange, parser.parse(exchange.response))

    def _settle(self, context: HarvestContext, ref_id: str, kind: str, exchange: Exchange) -> Iterator[Page]:
        observations = parser.parse(exchange.response)
        yield Page(exchange, observations)
        if any(o.state is VersionState.DELETED and o.platform_id == ref_id for o in observations):
            reason = "parent post deleted" if kind == "post" else "parent comment deleted"
            yield from self._cascade(context, ref_id, reason, exchange)

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        client, gone = self.client(context), set()
        for ref in suspects:
            if ref.platform_id in gone or ref.kind == "media":
                continue
            if ref.kind != "post" and ref.parent_id not in self._listed:
                continue  # its thread was not re-listed in this harvest
            exchange = self._lookup(context, client, ref.platform_id, MEDIA_FIELDS if ref.kind == "post"
                                    else COMMENT_FIELDS)
            if exchange is None:
                context.unresolved.append(ref.platform_id)
                continue
            error = GraphError.of(exchange.response)
            if (error is not None and error.kind != "missing") or (error is None and exchange.response.status != 200):
                context.unresolved.append(ref.platform_id)
            for page in self._settle(context, ref.platform_id, ref.kind, exchange):
                gone.update(o.platform_id for o in page.observations if o.state is VersionState.DELETED)
                yield page

    def _targeted(self, context: HarvestContext, client: GraphClient) -> Iterator[Page]:
        size = client.options.page_size
        for target in dict.fromkeys(context.targets):
            kind, _, object_id = target.partition(":")
            fields = f"{MEDIA_FIELDS},{comments_field(size)}" if kind == "post" else \
                f"{COMMENT_FIELDS},{replies_field(size)}"
            exchange = self._lookup(context, client, object_id, fields)
            if exchange is None:
                continue
            yield from self._settle(context, object_id, kind, exchange)
            body = response_json(exchange.response)
            if kind == "post" and isinstance(body, dict) and body.get("id"):
                yield from self._thread(context, client, body)
