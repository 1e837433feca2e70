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
from datetime import datetime, timedelta
from typing import Any

from connectors.base import HarvestContext, ItemRef, Page, VersionState
from connectors.facebook import parser
from connectors.facebook.parser import COMMENT_FIELDS, POST_FIELDS, PROFILE_FIELDS, comments_field
from connectors.graph.client import GraphClient, GraphOptions
from connectors.graph.connector import GraphConnector
from connectors.graph.objects import graph_time, response_json
from connectors.untrusted import Fields, Malformed

READ = ("pages_read_engagement", "pages_read_user_content")


class FacebookOptions(GraphOptions):
    pass


class FacebookConnector(GraphConnector):
    platform = "facebook"
    options_model = FacebookOptions
    read = READ
    id_hint = "give the Page's numeric id (Page settings → About, or GET /me?fields=id with the Page token)"
    token_hint = "the Page access token"
    default_recheck_window = timedelta(days=30)
    default_full_sweep = timedelta(days=7)

    def __init__(self) -> None:
        super().__init__()
        self._listed_posts: set[str] = set()

    @classmethod
    def parse(cls, response: Any) -> list[Any]:
        return parser.parse(response)

    # The listing ------------------------------------------------------------------------------
    def profile_url(self, client: GraphClient, account_id: str) -> str:
        return client.url(account_id, fields=PROFILE_FIELDS)

    def listing_url(self, client: GraphClient, account_id: str) -> str:
        size = client.options.page_size
        return client.url(f"{account_id}/feed", fields=f"{POST_FIELDS},{comments_field(size)}", limit=size)

    def expand(self, context: HarvestContext, client: GraphClient, node: dict[str, Any]) -> Iterator[Page]:
        """The rest of one post's comments and replies (the first page came with the post)."""
        self._listed_posts.add(Fields(node).identifier())
        following = self.next_url(node.get("comments"))  # Malformed: the skeleton notes it, not complete
        if following:
            yield from self.edge(context, client, following, f"comments of {node['id']}")

    def thread_due(self, node: dict[str, Any], stop_before: datetime | None) -> bool:
        """A post listed from before the re-check bound (on the feed page that crosses it) keeps the
        comments that came embedded with it; the rest of its thread waits for the full sweep unless
        it was commented on since the bound (``updated_time`` moves for a new comment or an edit).
        Graph has no conditional request, so each further page skipped is a call saved."""
        if stop_before is None:
            return True
        changed = [t for t in (graph_time(node.get("created_time")), graph_time(node.get("updated_time"))) if t]
        return not changed or max(changed) >= stop_before

    # Lookups ----------------------------------------------------------------------------------
    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Look up each post, comment or reply missing from the listing; only error 100/33 for that
        object (or its post's) records a deletion. A comment is a suspect only if its post was
        re-listed in this harvest (older threads are re-listed by the full sweep)."""
        client, page_id, gone = self.client(context), context.account.id, set()
        for ref in suspects:
            root = ref.platform_id if ref.kind == "post" else f"{page_id}_{ref.platform_id.split('_')[0]}"
            if ref.platform_id in gone or (ref.kind != "post" and root not in self._listed_posts):
                continue
            yield from self.confirm_one(context, client, ref, POST_FIELDS if ref.kind == "post" else COMMENT_FIELDS,
                                        gone)

    def targeted(self, context: HarvestContext, client: GraphClient) -> Iterator[Page]:
        """Re-fetch what a webhook named: "post:ID" (with its whole thread) or "comment:ID"."""
        for target in dict.fromkeys(context.targets):
            kind, _, object_id = target.partition(":")
            fields = f"{POST_FIELDS},{comments_field(client.options.page_size)}" if kind == "post" else COMMENT_FIELDS
            exchange = self.lookup(context, client, object_id, fields=fields)
            if exchange is None:
                continue
            page = Page.parsed(exchange, parser.parse)
            yield page
            body = response_json(exchange.response)
            if kind == "post" and any(o.state is VersionState.DELETED for o in page.observations):
                yield from self.cascade(context, object_id, "parent post deleted", exchange)
            elif kind == "post" and isinstance(body, dict):
                try:
                    following = self.next_url(body.get("comments"))
                except Malformed as exc:
                    context.notes.append(f"comments of {object_id} not listed: {exc}")
                    continue
                if following:
                    yield from self.edge(context, client, following, f"comments of {object_id}")
