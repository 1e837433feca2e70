"""The Threads connector: the profile, the account's threads newest first, every reply at any
depth (``/{media-id}/conversation``, flattened, chronological), each thread's insights as
metrics, direct lookups of what went missing, all on the shared Graph skeleton.

Calls: one listing page per ``page_size`` threads; one conversation page per ``page_size``
replies of each thread that ``has_replies``; one insights call per listed thread (``insights =
false`` saves those when counts do not matter). A thread that is gone takes its replies with it
(a cascade record); a reply that is gone is confirmed by its own lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pydantic import Field

from connectors.base import CapturedResponse, HarvestContext, ItemRef, Observation, Page
from connectors.graph.client import GraphClient, GraphOptions
from connectors.graph.connector import GraphConnector
from connectors.listed import ListedThreads
from connectors.threads import parser
from connectors.threads.parser import INSIGHT_METRICS, POST_FIELDS, PROFILE_FIELDS, REPLY_FIELDS

THREADS_HOST = "https://graph.threads.net"
READ = ("threads_basic", "threads_read_replies")
INSIGHTS = "threads_manage_insights"


class ThreadsOptions(GraphOptions):
    """Account keys for ``threads`` (see config.example.toml)."""

    api_version: str = Field("v1.0", pattern=r"^v\d+\.\d+$")
    insights: bool = True  # one call per listed thread for its views, likes, replies, reposts, quotes


class ThreadsConnector(GraphConnector):
    platform = "threads"
    options_model = ThreadsOptions
    host = THREADS_HOST
    read = READ
    time_field = "timestamp"
    api_name = "Threads API"
    id_hint = "give the Threads user id (GET /me?fields=id with the account's Threads token)"
    token_hint = "the Threads user access token"
    default_recheck_window = timedelta(days=30)
    default_full_sweep = timedelta(days=7)

    def __init__(self) -> None:
        super().__init__()
        self._listed = ListedThreads()

    @classmethod
    def parse(cls, response: CapturedResponse) -> list[Observation]:
        return parser.parse(response)

    def profile_url(self, client: GraphClient, account_id: str) -> str:
        return client.url(account_id, fields=PROFILE_FIELDS)

    def listing_url(self, client: GraphClient, account_id: str) -> str:
        return client.url(f"{account_id}/threads", fields=POST_FIELDS, limit=client.options.page_size)

    def expand(self, context: HarvestContext, client: GraphClient, node: dict[str, Any]) -> Iterator[Page]:
        """A thread's replies at any depth, and its counts."""
        thread_id = str(node["id"])
        self._listed.listed(thread_id)
        if node.get("media_type") == "REPOST_FACADE":
            return  # someone else's thread: its replies and counts are theirs
        if node.get("has_replies") is not False:
            url = client.url(f"{thread_id}/conversation", fields=REPLY_FIELDS, reverse="false",
                             limit=client.options.page_size)
            for page in self.edge(context, client, url, f"replies of {thread_id}"):
                self._listed.listed(thread_id, (o.platform_id for o in page.observations))
                yield page
        if isinstance(client.options, ThreadsOptions) and client.options.insights:
            exchange, _ = client.get_json(client.url(f"{thread_id}/insights", metric=INSIGHT_METRICS),
                                          needs=(INSIGHTS,))
            yield Page.parsed(exchange, parser.parse)

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Look up each thread or reply missing from the listing; only error 100/33 for that object
        records a deletion. A reply is a suspect only if its thread was re-listed in this harvest."""
        client, gone = self.client(context), set()
        for ref in suspects:
            if ref.platform_id in gone or ref.kind == "media" or not self._listed.covers(ref, suspects):
                continue
            yield from self.confirm_one(context, client, ref, POST_FIELDS if ref.kind == "post" else REPLY_FIELDS,
                                        gone, "parent thread deleted")
