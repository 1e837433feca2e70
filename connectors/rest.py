"""A JSON-over-HTTPS client for the REST platforms (Mastodon, Bluesky, LinkedIn).

Every request goes through the harvest's recording session (so it is in a WARC before anything
reads it) with the account's credentials added as headers (masked in records), bounded retries
of 5xx and timeouts (``archiver.capture.retry``; 429 is left to the rate limiter), and rate
limits waited out by ``connectors.ratelimit`` apart from endpoint code. Each platform gives a
``classify`` that turns an error answer into a coverage cause and a one-line reason.

A direct lookup (``lookup`` = the item's id) comes back whatever the platform answered about
that object — its "not found" is the evidence of a deletion — except a credential problem,
which stops the harvest like anywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from archiver.capture.retry import RETRY_STATUSES
from archiver.capture.session import Exchange, FetchFailed
from connectors.base import CapturedResponse, Connector, HarvestContext, HarvestError
from connectors.listed import ListedThreads
from connectors.ratelimit import RateLimiter


@dataclass(frozen=True)
class RestError:
    cause: str  # token | permission | missing | quota | outage | platform
    message: str


Classifier = Callable[[CapturedResponse], RestError]


def body_json(response: CapturedResponse) -> Any | None:
    """The body as JSON, or None if it does not parse (the bytes stay in the WARC either way)."""
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past Python's stack
        return None


class RestClient:
    def __init__(self, context: HarvestContext, root: str, headers: dict[str, str], limiter: RateLimiter,
                 classify: Classifier, api_name: str):
        self.context = context
        self.root = root.rstrip("/")
        self.headers = headers
        self.limiter = limiter
        self.classify = classify
        self.api_name = api_name
        self.retry = replace(context.retry, statuses=RETRY_STATUSES - {429})
        self.calls = 0

    def url(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> str:
        pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
        query = urlencode([(k, str(v)) for k, v in pairs if v is not None])
        return f"{self.root}/{path.lstrip('/')}" + (f"?{query}" if query else "")

    def where(self, url: str) -> str:
        return self.context.session.redactor.url(url)[0]

    def get(self, url: str, *, lookup: str | None = None) -> Exchange:
        where = self.where(url)
        while True:
            self.limiter.pace(where)
            exchange = self.retry.call(
                lambda: self.context.session.get(url, headers=self.headers, lookup=lookup))
            self.calls += 1
            response = exchange.response
            self.limiter.observe(response.headers)
            if response.status == 429:
                self.limiter.wait_out(response.headers, where)
                continue
            if response.status < 400:
                self.limiter.answered()
                return exchange
            error = self.classify(response)
            if lookup is not None and error.cause != "token":
                return exchange
            raise HarvestError(f"{where}: {error.message} (HTTP {response.status}; kept in "
                               f"{exchange.evidence.warc_name})", "platform" if error.cause == "missing"
                               else error.cause)

    def lookup(self, url: str, platform_id: str) -> Exchange | None:
        """A direct lookup of one item; None when no answer came (noted, and asked again next harvest)."""
        try:
            return self.get(url, lookup=platform_id)
        except FetchFailed as exc:
            self.context.notes.append(f"could not look up {platform_id}: {exc}")
            self.context.unresolved.append(platform_id)
            return None

    def get_json(self, url: str, shape: type = dict) -> tuple[Exchange, Any]:
        """GET and decode; a body that is not the expected JSON is kept, asked once more, then reported."""
        for _ in range(2):
            exchange = self.get(url)
            body = body_json(exchange.response)
            if isinstance(body, shape):
                return exchange, body
        raise HarvestError(f"{self.where(url)} answered a payload that is not a {self.api_name} {shape.__name__} "
                           f"(kept in {exchange.evidence.warc_name}, record {exchange.evidence.response.record_id}; "
                           "asked twice)", "listing")

    def summary(self) -> str:
        return (f"{self.calls} {self.api_name} calls; {self.limiter.throttled} throttled, "
                f"{self.limiter.waited:.1f} s waited")


class RestConnector(Connector):
    """What the Mastodon, Bluesky and LinkedIn connectors share: the kinds worth a lookup, the
    re-listing defaults, one client per harvest, and which threads this harvest re-listed."""

    lookup_kinds = ("post", "comment", "reply")
    default_recheck_window = timedelta(days=30)
    default_full_sweep = timedelta(days=7)

    def __init__(self) -> None:
        self._client: RestClient | None = None
        self._listed = ListedThreads()
