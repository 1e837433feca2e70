"""The Instagram connector: the account's profile, its media newest first (carousel children
included), every comment and reply with its hidden flag, lookups of what went missing, and
targeted re-fetches for webhooks. Same Graph client, throttling and paging as Facebook.

Each media page brings every media object's first comments, each with its first replies; longer
threads are followed through their own ``paging.next``. A deleted media object takes its comments
with it, a deleted comment its replies (a record of which, like Facebook's).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from archiver.capture.session import Exchange
from connectors.base import HarvestContext, ItemRef, Page, VersionState
from connectors.graph.client import GraphClient, GraphOptions
from connectors.graph.connector import GraphConnector
from connectors.graph.objects import response_json
from connectors.instagram import parser
from connectors.instagram.parser import COMMENT_FIELDS, MEDIA_FIELDS, PROFILE_FIELDS, comments_field, replies_field
from connectors.untrusted import Fields, Malformed

READ = ("instagram_basic", "instagram_manage_comments")


class InstagramOptions(GraphOptions):
    pass


class InstagramConnector(GraphConnector):
    platform = "instagram"
    options_model = InstagramOptions
    read = READ
    time_field = "timestamp"
    id_hint = "give the business account's numeric Instagram user id (GET /{page-id}?fields=instagram_business_account)"
    default_recheck_window = timedelta(days=30)
    default_full_sweep = timedelta(days=7)

    def __init__(self) -> None:
        super().__init__()
        self._listed: set[str] = set()  # media listed in this harvest, and comments seen in them

    @classmethod
    def parse(cls, response: Any) -> list[Any]:
        return parser.parse(response)

    def profile_url(self, client: GraphClient, account_id: str) -> str:
        return client.url(account_id, fields=PROFILE_FIELDS)

    def listing_url(self, client: GraphClient, account_id: str) -> str:
        size = client.options.page_size
        return client.url(f"{account_id}/media", fields=f"{MEDIA_FIELDS},{comments_field(size)}", limit=size)

    def expand(self, context: HarvestContext, client: GraphClient, node: dict[str, Any]) -> Iterator[Page]:
        """The rest of one media object's comments, and of each comment's replies."""
        media = Fields(node)
        self._listed.add(media.identifier())
        comments = [c.raw for c in media.mapping("comments").objects("data")]
        more = self.next_url(node.get("comments"))  # Malformed: the skeleton notes it, not complete
        while True:
            for raw in comments:
                comment = Fields(raw, "comment")
                try:
                    comment_id = comment.identifier(required=False)
                    replies = self.next_url(raw.get("replies")) if comment_id else None
                except Malformed as exc:  # the parser made it a problem; its replies cannot be followed
                    context.notes.append(f"replies of a comment of {node['id']} not listed: {exc}")
                    self._complete = False
                    continue
                if comment_id:
                    self._listed.add(comment_id)
                if replies:
                    yield from self.edge(context, client, replies, "a thread")
            if not more:
                return
            comments = []
            yield from self.edge(context, client, more, "a thread", comments)
            more = None

    def _settle(self, context: HarvestContext, ref_id: str, kind: str, exchange: Exchange) -> Iterator[Page]:
        page = Page.parsed(exchange, parser.parse)
        yield page
        if any(o.state is VersionState.DELETED and o.platform_id == ref_id for o in page.observations):
            reason = "parent post deleted" if kind == "post" else "parent comment deleted"
            yield from self.cascade(context, ref_id, reason, exchange)

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        client, gone = self.client(context), set()
        for ref in suspects:
            if ref.platform_id in gone or ref.kind == "media":
                continue
            if ref.kind != "post" and ref.parent_id not in self._listed:
                continue  # its thread was not re-listed in this harvest
            exchange = self.lookup(context, client, ref.platform_id,
                                   fields=MEDIA_FIELDS if ref.kind == "post" else COMMENT_FIELDS)
            if exchange is None or not self.answered(exchange):
                context.unresolved.append(ref.platform_id)
                if exchange is None:
                    continue
            for page in self._settle(context, ref.platform_id, ref.kind, exchange):
                gone.update(o.platform_id for o in page.observations if o.state is VersionState.DELETED)
                yield page

    def targeted(self, context: HarvestContext, client: GraphClient) -> Iterator[Page]:
        size = client.options.page_size
        for target in dict.fromkeys(context.targets):
            kind, _, object_id = target.partition(":")
            fields = f"{MEDIA_FIELDS},{comments_field(size)}" if kind == "post" else \
                f"{COMMENT_FIELDS},{replies_field(size)}"
            exchange = self.lookup(context, client, object_id, fields=fields)
            if exchange is None:
                continue
            yield from self._settle(context, object_id, kind, exchange)
            body = response_json(exchange.response)
            if kind == "post" and isinstance(body, dict) and body.get("id"):
                try:
                    yield from self.expand(context, client, body)
                except Malformed as exc:
                    context.notes.append(f"thread of {object_id} not listed: {exc}")
