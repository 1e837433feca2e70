"""What the Facebook, Instagram and Threads connectors share: one harvest skeleton over Graph.

A Graph harvest is: the account's profile; then its listing (``feed``, ``media``, ``threads``)
newest first, each listed object expanded into the rest of its thread by the platform
(``expand``); paging stops once it reaches back past both the re-check window and the newest
object the last complete harvest saw (a full sweep pages to the end), so a harvest after a gap
(an expired token, an outage) lists everything the gap missed. The cursor (``newest``) is set
here and stored by the runner only once the data is durable.

Each platform says where its profile and listing are (``profile_url``, ``listing_url``), how a
listed object's thread is completed (``expand``), and how missing items are looked up
(``confirm``, with ``lookup``, ``answered`` and ``cascade`` from here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from archiver.capture.session import Exchange, FetchFailed
from connectors.base import Connector, HarvestContext, HarvestError, ItemRef, Page, VersionState
from connectors.cascade import cascade
from connectors.graph.client import GRAPH_HOST, GraphClient, GraphOptions
from connectors.graph.errors import GraphError
from connectors.graph.objects import graph_time
from connectors.graph.paging import EdgePaginator, ListingPaginator, next_page
from connectors.graph.throttle import usage_percent
from connectors.untrusted import Fields, Malformed

if TYPE_CHECKING:
    from archiver.config import AccountConfig


class GraphConnector(Connector):
    """A connector on a Graph-style API (``graph.facebook.com``, ``graph.threads.net``)."""

    host: ClassVar[str] = GRAPH_HOST  # replaced by the account's base_url when set
    read: ClassVar[tuple[str, ...]] = ()  # permissions a listing needs (named when one is missing)
    time_field: ClassVar[str] = "created_time"  # the listed objects' creation time
    id_hint: ClassVar[str] = "give the account's numeric id"
    token_hint: ClassVar[str] = "the access token"
    api_name: ClassVar[str] = "Graph API"  # in the harvest's notes
    lookup_kinds = ("post", "comment", "reply")
    quota_used = staticmethod(usage_percent)  # the usage headers on every Graph response

    def __init__(self) -> None:
        self._client: GraphClient | None = None
        self._complete = True  # False once part of a thread could not be listed (the cursor then waits)

    @classmethod
    def credential(cls, account: AccountConfig) -> str | None:
        """Meta counts calls per app and token whichever Graph product they read (one Page token may
        serve a Facebook Page and its Instagram account)."""
        return f"meta:{account.token_env}" if account.token_env else None

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not account.id.isdigit():
            problems.append(f"id: {account.id!r} is not a numeric id; {cls.id_hint}")
        if account.token_env is None:
            problems.append(f"token_env: missing; name the environment variable holding {cls.token_hint}")
        return problems

    def client(self, context: HarvestContext) -> GraphClient:
        if self._client is None:
            assert isinstance(context.options, GraphOptions)
            self._client = GraphClient(context, context.options, self.host)
        return self._client

    # What each platform says ---------------------------------------------------------------
    def profile_url(self, client: GraphClient, account_id: str) -> str:
        raise NotImplementedError

    def listing_url(self, client: GraphClient, account_id: str) -> str:
        raise NotImplementedError

    def expand(self, context: HarvestContext, client: GraphClient, node: dict[str, Any]) -> Iterator[Page]:
        """The rest of one listed object's thread (what did not come embedded in the listing)."""
        return iter(())

    def targeted(self, context: HarvestContext, client: GraphClient) -> Iterator[Page]:
        """Re-fetch what a webhook named; nothing by default."""
        return iter(())

    def thread_due(self, node: dict[str, Any], stop_before: datetime | None) -> bool:
        """Whether a listed object's thread is completed (``expand``) in this harvest; ``stop_before``
        is the re-check bound (None on a first harvest or a full sweep). Always, by default."""
        return True

    # The skeleton ----------------------------------------------------------------------------
    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        client = self.client(context)
        if context.targets:
            yield from self.targeted(context, client)
            context.complete = True
            return
        account_id = context.account.id
        exchange, _ = client.get_json(self.profile_url(client, account_id), needs=self.read[:1])
        yield Page.parsed(exchange, self.parse)
        previous = graph_time(context.cursor.get("newest"))
        stop_before = None if context.full_sweep or previous is None else \
            min(datetime.now(UTC) - context.recheck_window, previous)
        listing = ListingPaginator(self.listing_url(client, account_id), context.capture.max_pages, stop_before,
                                   self.time_field)
        newest: datetime | None = previous
        while not listing.finished:
            assert listing.current is not None
            exchange, body = client.get_json(listing.current, needs=self.read)
            yield Page.parsed(exchange, self.parse)
            for node in Fields(body).objects("data"):  # what cannot be read, the parser made a problem of
                try:
                    if not node.identifier(required=False):
                        continue
                except Malformed:
                    continue
                stamp = graph_time(node.raw.get(self.time_field))
                if stamp is not None and (newest is None or stamp > newest):
                    newest = stamp
                if not self.thread_due(node.raw, stop_before):
                    continue
                try:
                    yield from self.expand(context, client, node.raw)
                except Malformed as exc:  # its thread cannot be followed: kept, reported, not complete
                    context.notes.append(f"thread of {node.path} not listed: {exc}")
                    self._complete = False
            listing.advance(body)
        context.listed_since = datetime.min.replace(tzinfo=UTC) if listing.reached_end else listing.oldest
        if stop_before is not None and not listing.reached_end:
            context.notes.append(f"listed back to {listing.oldest}; older posts wait for the full sweep")
        context.next_cursor = {"newest": newest.isoformat() if newest else context.cursor.get("newest"),
                               "api_version": client.options.api_version}
        context.notes.append(f"{client.calls} {self.api_name} calls; {client.throttle.throttled} throttled, "
                             f"{client.throttle.waited + client.throttle.paced:.1f} s waited")
        context.complete = self._complete

    def edge(self, context: HarvestContext, client: GraphClient, url: str, what: str,
             collect: list[dict[str, Any]] | None = None) -> Iterator[Page]:
        """One edge page by page; a broken edge is noted and makes the run incomplete (kept, reported)."""
        pages = EdgePaginator(url, context.capture.max_pages)
        while not pages.finished:
            assert pages.current is not None
            try:
                exchange, body = client.get_json(pages.current, needs=self.read)
            except HarvestError as exc:
                if exc.cause != "listing":
                    raise
                context.notes.append(f"{what} not complete: {exc}")
                self._complete = False
                return
            yield Page.parsed(exchange, self.parse)
            if collect is not None:
                collect += [c.raw for c in Fields(body).objects("data")]
            pages.advance(body)

    # Lookups ----------------------------------------------------------------------------------
    def lookup(self, context: HarvestContext, client: GraphClient, object_id: str, **params: Any) -> Exchange | None:
        """A direct lookup of one object (None if no answer came: asked again next harvest)."""
        try:
            return client.get(client.url(object_id, **params), lookup=object_id)
        except FetchFailed as exc:
            context.notes.append(f"could not look up {object_id}: {exc}")
            return None

    def confirm_one(self, context: HarvestContext, client: GraphClient, ref: ItemRef, fields: str,
                    gone: set[str], reason: str = "parent post deleted") -> Iterator[Page]:
        """Look one missing item up: only the platform's "does not exist" deletes it, and a deleted
        post takes its comments with it (a cascade record; those named are added to ``gone``)."""
        exchange = self.lookup(context, client, ref.platform_id, fields=fields)
        if exchange is None or not self.answered(exchange):
            context.unresolved.append(ref.platform_id)  # no definite answer: asked again next harvest
            if exchange is None:
                return
        page = Page.parsed(exchange, self.parse)
        yield page
        if ref.kind == "post" and any(o.state is VersionState.DELETED for o in page.observations):
            for page in self.cascade(context, ref.platform_id, reason, exchange):
                gone.update(o.platform_id for o in page.observations)
                yield page

    @staticmethod
    def answered(exchange: Exchange) -> bool:
        """Whether a lookup got a definite answer: the object, or the platform saying it is gone."""
        error = GraphError.of(exchange.response)
        return error.kind == "missing" if error is not None else exchange.response.status == 200

    def cascade(self, context: HarvestContext, parent: str, reason: str, evidence: Exchange) -> Iterator[Page]:
        """A deleted object takes its comments or replies with it (see connectors.cascade)."""
        return cascade(context, parent, reason, evidence, self.parse)

    @staticmethod
    def next_url(edge: Any) -> str | None:
        """The ``paging.next`` of an embedded edge (``{"data": [...], "paging": {...}}``), if any;
        ``Malformed`` if the edge is there but cannot be read (its thread cannot be followed)."""
        return None if edge is None else next_page(Fields({"edge": edge}).mapping("edge").raw)
