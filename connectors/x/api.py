"""tweepy's v2 ``Client`` over the recording session, with paid reads, rate limits and errors
handled apart from endpoint code.

tweepy builds every URL from a fixed host (``https://api.twitter.com``) and sends through its
own ``requests.Session``. Nothing is patched: each ``XApi`` gives its own ``tweepy.Client`` a
``RecordingTransport`` as that client's ``session`` — an object with the one method tweepy calls,
``request(method, url, params=…, json=…, headers=…, auth=…)`` — which swaps the host for the
account's ``base_url`` (default ``https://api.x.com``), sends through the harvest's recording
session (so the exchange is in a WARC before tweepy reads it) and hands tweepy a response built
from the archived bytes. tweepy never holds the credential: it is constructed with a placeholder
and the transport adds the real bearer token, so tweepy's debug log cannot print it.

Per call: reserve the paid reads it may cost from the credential's monthly budget (refunding what
the page did not use), wait when ``x-rate-limit-remaining`` is 0 until ``x-rate-limit-reset``,
retry 5xx and timeouts, and classify problem+json errors: 429 with either body waits for the
reset (up to ``max_throttle_wait``), ``UsageCapExceeded`` marks the budget exhausted, 401 is a
token problem, 403 a missing access level — each a ``HarvestError`` with its cause.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import tweepy
from pydantic import Field, field_validator
from requests.structures import CaseInsensitiveDict

from archiver.capture.session import Exchange
from archiver.units import parse_duration
from connectors.base import HarvestContext, HarvestError, StrictOptions

X_HOST = "https://api.x.com"
TWEEPY_HOST = "https://api.twitter.com"  # what tweepy puts before every route
PLACEHOLDER = "added-by-the-recording-transport"


class XOptions(StrictOptions):
    """Account keys of ``platform = "x"`` (see config.example.toml)."""

    bearer_token_env: str | None = None  # app-only bearer token
    access_token_env: str | None = None  # the account owner's OAuth 2.0 user token (owned reads, hidden marks)
    full_archive: bool = False  # the credential may use /2/tweets/search/all (replies older than 7 days)
    monthly_reads: int = Field(10_000, ge=1)  # posts read per month on this credential, never exceeded
    budget_reset_day: int = Field(1, ge=1, le=28)  # the project's cap_reset_day
    page_size: int = Field(100, ge=10, le=100)
    max_throttle_wait: str = "30m"

    @field_validator("max_throttle_wait")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


def problem(exchange: Exchange) -> dict[str, Any]:
    try:
        body = json.loads(exchange.response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


class _Throttled(Exception):
    def __init__(self, exchange: Exchange):
        super().__init__("429")
        self.exchange = exchange


class TransportResponse:
    """What tweepy reads of a ``requests.Response``, from the archived exchange."""

    def __init__(self, exchange: Exchange):
        response = exchange.response
        self.status_code = response.status
        self.reason = ""
        self.headers = CaseInsensitiveDict(dict(response.headers.items_list))
        self.content = response.body
        self.url = response.url

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def __enter__(self) -> TransportResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class RecordingTransport:
    """A ``tweepy.Client``'s session: requests' ``request`` over the harvest's recording session."""

    def __init__(self, send: Callable[[str, dict[str, Any]], Exchange]):
        self.send = send
        self.last: Exchange | None = None

    def request(self, method: str, url: str, params: dict[str, Any] | None = None, json: Any = None,
                headers: Any = None, auth: Any = None, **_: Any) -> TransportResponse:
        if method != "GET":
            raise HarvestError(f"the archiver only reads; tweepy asked for {method} {urlsplit(url).path}", "platform")
        route = url[len(TWEEPY_HOST):] if url.startswith(TWEEPY_HOST) else urlsplit(url).path
        self.last = self.send(route, dict(params or {}))
        return TransportResponse(self.last)

    def close(self) -> None:
        pass


class XApi:
    """The account's X API: tweepy for routes and parameters, the archiver for everything else."""

    def __init__(self, context: HarvestContext, options: XOptions, sleep: Callable[[float], None] | None = None):
        self.context = context
        self.options = options
        self.base = (context.account.base_url or X_HOST).rstrip("/")
        user = context.account.secret("access_token_env", required=False) if options.access_token_env else None
        self._token = user or context.account.secret("bearer_token_env") or ""
        self.client = tweepy.Client(bearer_token=PLACEHOLDER, return_type=dict)
        self.transport = RecordingTransport(self._send)
        self.client.session = self.transport  # this client's own session; nothing process-wide changes
        self.lookup: str | None = None  # set around a direct lookup: the ids it checks
        self.sleep = sleep if sleep is not None else context.pause  # a stop ends the wait at once
        self.max_wait = parse_duration(options.max_throttle_wait).total_seconds()
        self.waited = 0.0
        self.calls = 0
        self.reads = 0
        self._limits = context.windows  # route family → (remaining, reset epoch), shared on the credential

    def call(self, method: Callable[..., Any], *args: Any, lookup: str | None = None,
             **kwargs: Any) -> tuple[Exchange, dict[str, Any]]:
        """Call a tweepy method; the archived exchange and its JSON body."""
        self.lookup = lookup
        try:
            body = method(*args, **kwargs)
        except (ValueError, RecursionError):  # tweepy could not decode the body (it is in the WARC)
            assert self.transport.last is not None
            evidence = self.transport.last.evidence
            raise HarvestError(f"{self.transport.last.response.url} answered a body that is not JSON (kept in "
                               f"{evidence.warc_name}, record {evidence.response.record_id})", "listing") from None
        finally:
            self.lookup = None
        assert self.transport.last is not None
        return self.transport.last, body if isinstance(body, dict) else {}

    # The exchange -------------------------------------------------------------------------------
    @staticmethod
    def _family(route: str) -> str:
        return "/".join(p if not p.isdigit() else ":id" for p in route.split("/"))

    def _cost(self, route: str, params: dict[str, Any]) -> int:
        if "/tweets" not in route:
            return 1  # a user read
        if "ids" in params:
            return len(str(params["ids"]).split(","))
        return int(params.get("max_results") or 10) if "max_results" in params else 1

    def _send(self, route: str, params: dict[str, Any]) -> Exchange:
        where = f"{self.base}{route}"
        cost = self._cost(route, params)
        budget = self.context.budget
        if budget is not None and not budget.charge(cost):
            reason = budget.refusal(cost)
            self.context.on_wait(reason, budget.status().resets_at)
            raise HarvestError(reason, "quota")
        used = 0
        try:
            while True:
                self._pace(route, where)
                exchange = self._fetch(route, params)
                self.calls += 1
                self._observe(route, exchange)
                status = exchange.response.status
                if status == 429 and not self._usage_capped(exchange, where):
                    self._wait_out(route, where, exchange)
                    continue
                if 200 <= status < 300:
                    data = problem(exchange).get("data")
                    used = len(data) if isinstance(data, list) else 1 if data else 0
                    self.reads += used if "/tweets" in route else 0
                    return exchange
                raise self._error(exchange, where)
        finally:
            if budget is not None:
                budget.refund(cost - used)

    def _fetch(self, route: str, params: dict[str, Any]) -> Exchange:
        """One call, 5xx and timeouts retried; a 429 comes straight back (it is waited out by its reset,
        not by the generic backoff, which would spend the window again)."""

        def attempt() -> Exchange:
            exchange = self.context.session.get(self.base + route, params={k: str(v) for k, v in params.items()},
                                                headers={"Authorization": f"Bearer {self._token}"},
                                                lookup=self.lookup)
            if exchange.response.status == 429:
                raise _Throttled(exchange)
            return exchange

        try:
            return self.context.retry.call(attempt)
        except _Throttled as throttled:
            return throttled.exchange

    def _observe(self, route: str, exchange: Exchange) -> None:
        headers = exchange.response.headers
        remaining, reset = headers.get("x-rate-limit-remaining", ""), headers.get("x-rate-limit-reset", "")
        if remaining.isdigit() and reset.isdigit():
            self._limits.put(self._family(route), (int(remaining), int(reset)))

    def _pace(self, route: str, where: str) -> None:
        """Before a call: if the window is spent, wait for its reset (the call would be refused)."""
        remaining, reset = self._limits.get(self._family(route), (1, 0))
        if remaining <= 0 and reset > time.time():
            self._sleep_until(reset, f"{where}: x-rate-limit-remaining is 0")
            self._limits.pop(self._family(route))

    def _wait_out(self, route: str, where: str, exchange: Exchange) -> None:
        reset = exchange.response.headers.get("x-rate-limit-reset", "")
        until = int(reset) if reset.isdigit() else int(time.time() + 60 * 2 ** min(self.context.retry.retries, 4))
        self._sleep_until(until, f"{where}: throttled (HTTP 429 {problem(exchange).get('title') or 'code 88'})")

    def _sleep_until(self, epoch: float, reason: str) -> None:
        seconds = max(epoch - time.time(), 0.0) + 0.05
        if self.waited + seconds > self.max_wait:
            raise HarvestError(f"{reason}; the reset is {seconds:.0f} s away, more than the harvest may wait "
                               "(max_throttle_wait); the next harvest goes on from here", "quota")
        self.context.wait(reason, datetime.fromtimestamp(epoch, UTC))
        self.waited += seconds
        self.sleep(seconds)

    def _usage_capped(self, exchange: Exchange, where: str) -> bool:
        body = problem(exchange)
        if body.get("title") != "UsageCapExceeded" and not str(body.get("type", "")).endswith("/usage-capped"):
            return False
        if self.context.budget is not None:
            self.context.budget.exhausted(f"X: {body.get('detail') or 'usage cap exceeded'}")
        return True

    def _error(self, exchange: Exchange, where: str) -> HarvestError:
        status, body = exchange.response.status, problem(exchange)
        detail = str(body.get("detail") or body.get("title") or "")[:200]
        kept = f"kept in {exchange.evidence.warc_name}"
        if status == 429:
            until = self.context.budget.status().resets_at.isoformat(timespec="minutes") if self.context.budget \
                else "the next period"
            return HarvestError(f"{where}: X's usage cap is reached ({detail}); nothing more is read until {until}",
                                "quota")
        if status == 401:
            return HarvestError(f"{where}: X rejected the token (401 {detail or 'Unauthorized'}); the account is "
                                "disconnected — set a valid token in bearer_token_env (or access_token_env) and "
                                "harvest again: the next harvest fills the gap", "token")
        if status == 403:
            hint = ("the credential's access level does not include full-archive search; set full_archive = "
                    "false or upgrade the project" if "client-forbidden" in str(body.get("type", ""))
                    else "check the app's access level and the account's visibility")
            return HarvestError(f"{where}: X refused (403 {detail or 'Forbidden'}); {hint}", "permission")
        cause = "outage" if status >= 500 else "platform"
        return HarvestError(f"{where} answered HTTP {status} {detail} ({kept})".replace("  ", " "), cause)


__all__ = ["PLACEHOLDER", "X_HOST", "RecordingTransport", "XApi", "XOptions"]
