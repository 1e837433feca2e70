"""Retrying failed fetches, kept apart from endpoint code (each attempt is still archived).

Transport failures and 5xx answers are retried with exponential backoff; a ``Retry-After``
header is honoured. The last answer is returned (or the last failure raised) when the
attempts run out, so the connector reports the real reason.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from archiver.capture.session import Exchange, FetchFailed, ResponseTooLarge

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({500, 502, 503, 504, 429})
MAX_WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise FetchFailed("timed out")
    ...     return "ok"
    >>> RetryPolicy(retries=3, backoff_seconds=0).call(flaky)
    'ok'
    """

    retries: int = 3
    backoff_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    # Answers worth asking again; a connector with its own rate-limit handling leaves 429 out.
    statuses: frozenset[int] = RETRY_STATUSES

    def wait_for(self, attempt: int, exchange: Exchange | None) -> float:
        if exchange is not None:
            after = exchange.response.headers.get("retry-after", "")
            if after.isdigit():
                return min(float(after), MAX_WAIT_SECONDS)
        base = self.backoff_seconds * (2 ** attempt)
        return min(base + random.uniform(0, base / 4), MAX_WAIT_SECONDS)

    def call(self, fetch: Callable[[], Exchange]) -> Exchange:
        for attempt in range(self.retries + 1):
            last_try = attempt == self.retries
            try:
                exchange = fetch()
            except ResponseTooLarge:
                raise  # the same answer again would be as large
            except FetchFailed as exc:
                if last_try:
                    raise
                log.info("retrying after: %s", exc)
                self.sleep(self.wait_for(attempt, None))
                continue
            if exchange.response.status not in self.statuses or last_try:
                return exchange
            log.info("retrying %s after HTTP %d", exchange.response.url, exchange.response.status)
            self.sleep(self.wait_for(attempt, exchange))
        raise AssertionError("unreachable")
