"""The Graph API client: version pinned, credentials added to every request, errors classified.

Every request goes through the harvest's recording session (so it is in a WARC before anything
reads it), with bounded retries of 5xx and timeouts (``archiver.capture.retry``) and throttling
handled by ``connectors.graph.throttle``. The Page token travels in the ``Authorization`` header
(masked in records); with an app secret, ``appsecret_proof`` is added (masked in URLs). URLs from
``paging.next`` are followed as given, minus any credential they carry.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, field_validator

from archiver.capture.session import Exchange, FetchFailed
from archiver.units import parse_duration
from connectors.base import HarvestContext, HarvestError, StrictOptions
from connectors.graph.errors import GraphError
from connectors.graph.objects import response_json
from connectors.graph.throttle import Throttle

GRAPH_HOST = "https://graph.facebook.com"
DEFAULT_VERSION = "v26.0"  # the newest Graph API version (released 2026-07-29)
_CREDENTIALS = frozenset({"access_token", "appsecret_proof"})


class GraphOptions(StrictOptions):
    """Account keys shared by ``facebook`` and ``instagram`` (see config.example.toml)."""

    api_version: str = Field(DEFAULT_VERSION, pattern=r"^v\d+\.\d+$")
    app_secret_env: str | None = None  # adds appsecret_proof; also checks webhook signatures
    page_size: int = Field(100, ge=1, le=100)  # items per request (the API allows at most 100)
    slowdown_at_percent: float = Field(75.0, ge=1, le=100)
    pace_seconds: float = Field(5.0, ge=0)
    throttle_backoff_seconds: float = Field(60.0, ge=0)
    max_throttle_wait: str = "30m"

    @field_validator("max_throttle_wait")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


def without_credentials(url: str) -> str:
    """
    >>> without_credentials("https://g/v26.0/1/feed?access_token=REDACTED&limit=100&after=QV")
    'https://g/v26.0/1/feed?limit=100&after=QV'
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _CREDENTIALS]
    return urlunsplit(parts._replace(query=urlencode(query, safe=",{}()")))


class GraphClient:
    def __init__(self, context: HarvestContext, options: GraphOptions, host: str = GRAPH_HOST):
        self.context = context
        self.options = options
        base = (context.account.base_url or host).rstrip("/")
        self.root = f"{base}/{options.api_version}"
        token = context.account.secret("token_env")
        assert token is not None
        self._auth = {"Authorization": f"OAuth {token}"}
        secret = context.account.secret("app_secret_env", required=False) if options.app_secret_env else None
        self._proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest() if secret else None
        self.throttle = Throttle(options.slowdown_at_percent, options.pace_seconds, options.throttle_backoff_seconds,
                                 parse_duration(options.max_throttle_wait).total_seconds(), context.wait,
                                 sleep=context.pause, windows=context.windows)
        self.calls = 0

    def url(self, path: str, **params: Any) -> str:
        """A Graph URL under the pinned version (no credentials: those are added when sent)."""
        query = urlencode({k: str(v) for k, v in params.items()}, safe=",{}()")
        return f"{self.root}/{path.lstrip('/')}" + (f"?{query}" if query else "")

    def _signed(self, url: str) -> str:
        url = without_credentials(url)
        if self._proof is None:
            return url
        return url + ("&" if urlsplit(url).query else "?") + urlencode({"appsecret_proof": self._proof})

    def get(self, url: str, *, lookup: str | None = None, needs: tuple[str, ...] = ()) -> Exchange:
        """GET ``url``; waits out throttling; raises HarvestError for what stops the harvest.

        A direct lookup (``lookup`` = the item's id) comes back whatever the platform answered
        about that object, except a token problem, which stops the harvest like anywhere else.
        """
        target = self._signed(url)
        where = self.context.session.redactor.url(without_credentials(url))[0]
        while True:
            self.throttle.pace()
            exchange = self.context.retry.call(
                lambda: self.context.session.get(target, headers=self._auth, lookup=lookup))
            self.calls += 1
            self.throttle.observe(exchange.response.headers)
            error = GraphError.of(exchange.response)
            if error is None and exchange.response.status >= 400:
                if lookup is not None:
                    return exchange
                cause = "outage" if exchange.response.status >= 500 else "platform"
                raise HarvestError(f"{where} answered HTTP {exchange.response.status} "
                                   f"(kept in {exchange.evidence.warc_name})", cause)
            if error is None:
                self.throttle.answered()
                return exchange
            if error.kind == "quota":
                self.throttle.wait_out(error, exchange.response.headers, where)
                continue
            if lookup is not None and error.kind != "token":
                return exchange
            raise HarvestError(error.describe(where, needs), "platform" if error.kind == "missing" else error.kind)

    def get_json(self, url: str, *, needs: tuple[str, ...] = ()) -> tuple[Exchange, Any]:
        """GET and decode; a body that is not JSON is kept in the WARC, asked once more, then reported."""
        for _ in range(2):
            exchange = self.get(url, needs=needs)
            body = response_json(exchange.response)
            if isinstance(body, dict):
                return exchange, body
        where = self.context.session.redactor.url(without_credentials(url))[0]
        raise HarvestError(f"{where} answered a payload that is not a Graph object (kept in "
                           f"{exchange.evidence.warc_name}, record {exchange.evidence.response.record_id}; "
                           "asked twice)", "listing")

__all__ = ["DEFAULT_VERSION", "GRAPH_HOST", "FetchFailed", "GraphClient", "GraphOptions", "without_credentials"]
