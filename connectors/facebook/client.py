"""The Facebook Pages connector: the Page's profile, its feed (own and visitors' posts) with every
comment and reply, direct lookups of what went missing, and targeted re-fetches for webhooks.

One harvest: the profile; then ``/{page-id}/feed`` newest first, each post bringing the first page
of its comments and replies (``filter=stream``, flat, with ``parent``) in the same call, and the
rest of a long thread followed through ``paging.next``. Paging stops once it reaches back past
both the re-check window and the newest post the last complete harvest saw (a full sweep pages to
the end), so a harvest after a gap (an expired token, an outage) lists everything the gap missed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from archiver.capture.session import Exchange, FetchFailed
from connectors.base import Connector, HarvestContext, HarvestError, ItemRef, Page, VersionState
from connectors.facebook import parser
from connectors.facebook.parser import COMMENT_FIELDS, POST_FIELDS, PROFILE_FIELDS, comments_field
from connectors.graph.client import GraphClient, GraphOptions
from connectors.graph.errors import GraphError
from connectors.graph.objects import dumps, graph_time, response_json
from connectors.graph.paging import EdgePaginator, ListingPaginator

if TYPE_CHECKING:
    from archiver.config import AccountConfig

READ = ("pages_read_engagement", "pages_read_user_content")


class FacebookOptions(GraphOptions):
    pass


class FacebookConnector(Connector):
    platform = "facebook"
    options_model = FacebookOptions
    lookup_kinds = ("post", "comment", "reply")
    default_recheck_window = timedelta(days=30)
    default_full_sweep = timedelta(days=7)

    def __init__(self) -> None:
        self._client: GraphClient | None = None
        self._listed_posts: set[str] = set()
        self._complete = True

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not account.id.isdigit():
            problems.append(f"id: {account.id!r} is not a Page id; give the Page's numeric id "
                            "(Page settings → About, or GET /me?fields=id with the Page token)")
        if account.token_env is None:
            problems.append("token_env: missing; name the environment variable holding the Page access token")
        return problems

    @classmethod
    def parse(cls, response: Any) -> list[Any]:
        return parser.parse(response)

    def client(self, context: HarvestContext) -> GraphClient:
        if self._client is None:
            assert isinstance(context.options, GraphOptions)
            self._client = GraphClient(context, context.options)
        return self._client

    # The listing ------------------------------------------------------------------------------
    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        client = self.client(context)
        if context.targets:
            yield from self._targeted(context, client)
            context.complete = True
            return
        page_id, size = context.account.id, client.options.page_size
        exchange, _ = client.get_json(client.url(page_id, fields=PROFILE_FIELDS), needs=READ[:1])
        yield Page(exchange, parser.parse(exchange.response))
        previous = graph_time(context.cursor.get("newest"))
        stop_before = None if context.full_sweep or previous is None else \
            min(datetime.now(UTC) - context.recheck_window, previous)
        feed = ListingPaginator(client.url(f"{page_id}/feed", fields=f"{POST_FIELDS},{comments_field(size)}",
                                           limit=size), context.capture.max_pages, stop_before)
        newest = context.cursor.get("newest")
        while not feed.finished:
            assert feed.current is not None
            exchange, body = client.get_json(feed.current, needs=READ)
            yield Page(exchange, parser.parse(exchange.response))
            for post in body.get("data") or []:
                if not isinstance(post, dict) or not post.get("id"):
                    continue
                self._listed_posts.add(str(post["id"]))
                created = graph_time(post.get("created_time"))
                if created is not None and (newest is None or created > graph_time(newest)):  # type: ignore[operator]
                    newest = created.isoformat()
                following = EdgePaginator(None, context.capture.max_pages).next_value(post.get("comments") or {})
                if following:
                    yield from self._thread(context, client, str(post["id"]), following)
            feed.advance(body)
        context.listed_since = datetime.min.replace(tzinfo=UTC) if feed.reached_end else feed.oldest
        if stop_before is not None and not feed.reached_end:
            context.notes.append(f"listed posts back to {feed.oldest}; older posts wait for the full sweep")
        context.next_cursor = {"newest": newest, "api_version": client.options.api_version}
        context.notes.append(f"{client.calls} Graph API calls; {client.throttle.throttled} throttled, "
                             f"{client.throttle.waited + client.throttle.paced:.1f} s waited")
        context.complete = self._complete

    def _thread(self, context: HarvestContext, client: GraphClient, post_id: str, url: str) -> Iterator[Page]:
        """The rest of one post's comments and replies, page by page."""
        pages = EdgePaginator(url, context.capture.max_pages)
        while not pages.finished:
            assert pages.current is not None
            try:
                exchange, body = client.get_json(pages.current, needs=READ)
            except HarvestError as exc:
                if exc.cause != "listing":
                    raise
                context.notes.append(f"comments of {post_id} not complete: {exc}")
                self._complete = False  # kept and reported; the cursor waits for a clean listing
                return
            yield Page(exchange, parser.parse(exchange.response))
            pages.advance(body)

    # Lookups ----------------------------------------------------------------------------------
    def _lookup(self, context: HarvestContext, client: GraphClient, object_id: str, fields: str) -> Exchange | None:
        try:
            return client.get(client.url(object_id, fields=fields), lookup=object_id)
        except FetchFailed as exc:
            context.notes.append(f"could not look up {object_id}: {exc}")
            return None

    def _cascade(self, context: HarvestContext, post_id: str, evidence: Exchange) -> Iterator[Page]:
        """A deleted post takes its comments with it: an explicit record of which, parsed like any other."""
        children = context.descendants(post_id)
        if not children:
            return
        record = {"event": "parent-deleted", "reason": "parent post deleted", "parent": post_id,
                  "children": children, "confirmed_by": evidence.evidence.response.record_id,
                  "confirmed_at": evidence.response.captured_at.isoformat()}
        exchange = context.session.record_resource(f"{parser.CASCADE_PREFIX}{post_id}", dumps(record),
                                                   "application/json")
        yield Page(exchange, parser.parse(exchange.response))

    def _answered(self, exchange: Exchange) -> bool:
        """Whether a lookup got a definite answer: the object, or the platform saying it is gone."""
        error = GraphError.of(exchange.response)
        return error.kind == "missing" if error is not None else exchange.response.status == 200

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Look up each post, comment or reply missing from the listing; only error 100/33 for that
        object (or its post's) records a deletion. A comment is a suspect only if its post was
        re-listed in this harvest (older threads are re-listed by the full sweep)."""
        client, page_id, gone = self.client(context), context.account.id, set()
        for ref in suspects:
            root = ref.platform_id if ref.kind == "post" else f"{page_id}_{ref.platform_id.split('_')[0]}"
            if ref.platform_id in gone or (ref.kind != "post" and root not in self._listed_posts):
                continue
            exchange = self._lookup(context, client, ref.platform_id,
                                    POST_FIELDS if ref.kind == "post" else COMMENT_FIELDS)
            if exchange is None or not self._answered(exchange):
                context.unresolved.append(ref.platform_id)
                if exchange is None:
                    continue
            observations = parser.parse(exchange.response)
            yield Page(exchange, observations)
            if ref.kind == "post" and any(o.state is VersionState.DELETED for o in observations):
                for page in self._cascade(context, ref.platform_id, exchange):
                    gone.update(o.platform_id for o in page.observations)
                    yield page

    def _targeted(self, context: HarvestContext, client: GraphClient) -> Iterator[Page]:
        """Re-fetch what a webhook named: "post:ID" (with its whole thread) or "comment:ID"."""
        for target in dict.fromkeys(context.targets):
            kind, _, object_id = target.partition(":")
            fields = f"{POST_FIELDS},{comments_field(client.options.page_size)}" if kind == "post" else COMMENT_FIELDS
            exchange = self._lookup(context, client, object_id, fields)
            if exchange is None:
                continue
            observations = parser.parse(exchange.response)
            yield Page(exchange, observations)
            body = response_json(exchange.response)
            if kind == "post" and any(o.state is VersionState.DELETED for o in observations):
                yield from self._cascade(context, object_id, exchange)
            elif kind == "post" and isinstance(body, dict):
                following = EdgePaginator(None, 1).next_value(body.get("comments") or {})
                if following:
                    yield from self._thread(context, client, object_id, following)
