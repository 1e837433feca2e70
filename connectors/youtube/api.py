"""The YouTube Data API v3 client: key or owner token added to each request, every call's units
reserved from the credential's daily budget first, errors classified by ``errors[].reason``.

All requests go through the harvest's recording session. The API key travels as ``key=`` (masked
in records like every credential parameter); with the channel owner's OAuth token
(``access_token_env``) requests carry ``Authorization: Bearer`` instead, which also shows
comments held for review. ``quotaExceeded``/``dailyLimitExceeded`` mark the budget exhausted
until midnight Pacific and stop the harvest (cause "quota"); ``rateLimitExceeded`` is waited out
a few times; ``keyInvalid`` and 401 are token problems; 403 ``forbidden``/``insufficientPermissions``
a permission problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from pydantic import Field

from archiver.capture.session import Exchange
from connectors.base import HarvestContext, HarvestError, StrictOptions

GOOGLE_HOST = "https://www.googleapis.com"
TOKEN_HOST = "https://oauth2.googleapis.com"  # where a refresh token is exchanged (base_url replaces it too)
QUOTA_REASONS = ("quotaExceeded", "dailyLimitExceeded")
RATE_REASONS = ("rateLimitExceeded", "userRateLimitExceeded")
UNIT_COST = 1  # every *.list method this connector calls costs one unit per page


class YouTubeOptions(StrictOptions):
    """Account keys of ``platform = "youtube"`` (see config.example.toml)."""

    api_key_env: str | None = None
    access_token_env: str | None = None  # the channel owner's OAuth token: comments held for review
    refresh_token_env: str | None = None  # with client_id_env and client_secret_env: renews the owner's token
    client_id_env: str | None = None
    client_secret_env: str | None = None
    daily_units: int = Field(10_000, ge=1)  # the project's daily quota, shared by every account on the key
    page_size: int = Field(50, ge=1, le=50)  # videos per playlistItems/videos call (the API allows 50)
    comment_page_size: int = Field(100, ge=1, le=100)
    rate_limit_backoff_seconds: float = Field(5.0, ge=0)
    websub: bool = True  # push: subscribed at the hub by `archiver serve` when [serve] public_url is set
    websub_secret_env: str | None = None  # hub.secret of the subscription: pushes must carry its X-Hub-Signature


def reasons(exchange: Exchange) -> list[str]:
    try:
        body = json.loads(exchange.response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    error = body.get("error") if isinstance(body, dict) else None
    errors = error.get("errors") if isinstance(error, dict) else None
    found = [str(e.get("reason")) for e in errors or [] if isinstance(e, dict) and e.get("reason")]
    if isinstance(error, dict) and isinstance(error.get("status"), str):
        found.append(error["status"])
    return found


class YouTubeApi:
    def __init__(self, context: HarvestContext, options: YouTubeOptions,
                 sleep: Callable[[float], None] | None = None):
        self.context = context
        self.options = options
        self.root = f"{(context.account.base_url or GOOGLE_HOST).rstrip('/')}/youtube/v3"
        self._key = context.account.secret("api_key_env")
        owner = context.account.secret("access_token_env", required=False) if options.access_token_env else None
        self.refreshable = bool(options.refresh_token_env)
        self.owner = owner is not None or self.refreshable
        self._auth = {"Authorization": f"Bearer {owner}"} if owner else {}
        self.token_url = f"{(context.account.base_url or TOKEN_HOST).rstrip('/')}/token"
        self.sleep = sleep if sleep is not None else context.pause  # a stop ends the wait at once
        self.calls = 0
        self.units = 0

    def url(self, resource: str, **params: Any) -> str:
        """A request URL without credentials (the key is added when sent)."""
        return f"{self.root}/{resource}?" + urlencode({k: str(v) for k, v in params.items() if v is not None})

    def get(self, resource: str, *, lookup: str | None = None, soft: tuple[str, ...] = (),
            **params: Any) -> Exchange:
        """One list call; raises HarvestError for what stops the harvest. Errors whose reason is in
        ``soft`` (and every answer to a lookup but token and quota ones) come back to the caller."""
        url = self.url(resource, **params)
        target = url if self.owner else f"{url}&key={self._key}"
        where = url.split("?")[0]
        if self.refreshable and not self._auth:
            self.refresh()
        refreshed = False
        for attempt in range(4):
            budget = self.context.budget
            if budget is not None and not budget.charge(UNIT_COST):
                reason = budget.refusal(UNIT_COST)
                self.context.on_wait(reason, budget.status().resets_at)
                raise HarvestError(reason, "quota")
            exchange = self.context.retry.call(
                lambda: self.context.session.get(target, headers=self._auth or None, lookup=lookup))
            self.calls += 1
            self.units += UNIT_COST
            status, found = exchange.response.status, reasons(exchange)
            if 200 <= status < 300:
                return exchange
            if any(r in QUOTA_REASONS for r in found):
                until = budget.exhausted(f"YouTube: {found[0]}") if budget is not None else None
                raise HarvestError(f"{where}: YouTube says the project's daily quota is used up ({found[0]}); "
                                   "nothing more is spent until midnight Pacific time"
                                   + (f" ({until.isoformat(timespec='minutes')})" if until else ""), "quota")
            if any(r in RATE_REASONS for r in found) and attempt < 3:
                self.sleep(self.options.rate_limit_backoff_seconds * 2 ** attempt)
                continue
            if status == 401 and self.refreshable and not refreshed:
                self.refresh()  # an expired owner token: renewed once, the call made again
                refreshed = True
                continue
            if status == 401 or "keyInvalid" in found or "UNAUTHENTICATED" in found:
                credential = "access_token_env" if self.owner else "api_key_env"
                raise HarvestError(f"{where}: YouTube rejected the credential ({', '.join(found) or status}); the "
                                   f"account is disconnected — set a valid one in {credential} and harvest again",
                                   "token")
            if lookup is not None or any(r in soft for r in found):
                return exchange
            if status == 403:
                raise HarvestError(f"{where}: YouTube refused ({', '.join(found) or 'forbidden'}); check the key's "
                                   "project has the YouTube Data API enabled and the token's scopes", "permission")
            cause = "outage" if status >= 500 else "platform"
            raise HarvestError(f"{where} answered HTTP {status} ({', '.join(found) or 'no reason given'}; kept in "
                               f"{exchange.evidence.warc_name})", cause)
        raise HarvestError(f"{where}: still rate limited after 4 tries; the next harvest goes on from here", "quota")

    def refresh(self) -> None:
        """Exchange the refresh token for a new access token (the answer is archived, credentials masked)."""
        account = self.context.account
        form = {"grant_type": "refresh_token", "refresh_token": account.secret("refresh_token_env") or "",
                "client_id": account.secret("client_id_env") or "",
                "client_secret": account.secret("client_secret_env") or ""}
        exchange, answer = self.context.session.post_form(self.token_url, form)
        try:
            token = json.loads(answer).get("access_token")
        except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
            token = None
        if exchange.response.status != 200 or not isinstance(token, str) or not token:
            raise HarvestError(f"{self.token_url}: the owner's refresh token was refused (HTTP "
                               f"{exchange.response.status}); the account is disconnected — authorize the archiver "
                               "again and set the new refresh token in refresh_token_env", "token")
        self.context.session.redactor.add_secret(token)
        self._auth = {"Authorization": f"Bearer {token}"}

    def get_json(self, resource: str, **params: Any) -> tuple[Exchange, dict[str, Any]]:
        exchange = self.get(resource, **params)
        try:
            body = json.loads(exchange.response.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if not isinstance(body, dict):
            if 200 <= exchange.response.status < 300:
                raise HarvestError(f"{self.root}/{resource} answered a body that is not a JSON object (kept in "
                                   f"{exchange.evidence.warc_name}, record {exchange.evidence.response.record_id})",
                                   "listing")
            body = {}
        return exchange, body


__all__ = ["GOOGLE_HOST", "YouTubeApi", "YouTubeOptions"]
