"""Throttling, kept apart from endpoint code: slow down before Meta's limit, wait when it is hit.

Every Graph response says how much of the budget is used, as percentages in JSON headers:
``X-App-Usage: {"call_count":68,"total_cputime":0,"total_time":208}`` and
``X-Business-Use-Case-Usage: {"<id>":[{"type":"pages","call_count":28,…,
"estimated_time_to_regain_access":0}]}`` (minutes). Above ``slowdown_at`` percent, calls are
spaced out more and more, up to ``pace_seconds`` apart at 100%. When the platform throttles
anyway (codes 4, 17, 32, 613, 8000x), the harvest waits as long as the headers say (or backs off
exponentially when they say nothing), tells the operator why and until when, and gives up with
cause "quota" once the waits would exceed ``max_wait_seconds``: its data is kept, its cursor stays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.base import HarvestError
from connectors.graph.errors import GraphError
from connectors.windows import SharedWindows

USAGE_KEYS = ("call_count", "total_cputime", "total_time")


@dataclass(frozen=True)
class Usage:
    percent: float = 0.0  # the highest share of any budget in use
    regain_minutes: float = 0.0  # the platform's estimate of when access returns

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Usage:
        """
        >>> Usage.of({"X-App-Usage": '{"call_count":68,"total_cputime":0,"total_time":20}'}).percent
        68.0
        >>> bucs = '{"42":[{"type":"pages","call_count":101,"estimated_time_to_regain_access":7}]}'
        >>> Usage.of({"X-Business-Use-Case-Usage": bucs})
        Usage(percent=101.0, regain_minutes=7.0)
        """
        entries: list[dict[str, object]] = []
        for name in ("x-app-usage", "x-page-usage", "x-ad-account-usage", "x-business-use-case-usage"):
            raw = next((v for k, v in headers.items() if k.lower() == name), None)
            if not raw:
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, dict) and any(k in value for k in USAGE_KEYS):
                entries.append(value)
            elif isinstance(value, dict):  # business use case: {object id: [usage, ...]}
                entries += [e for group in value.values() if isinstance(group, list) for e in group
                            if isinstance(e, dict)]
        percent = max((float(e[k]) for e in entries for k in USAGE_KEYS if isinstance(e.get(k), int | float)),
                      default=0.0)
        regain = max((float(e["estimated_time_to_regain_access"]) for e in entries
                      if isinstance(e.get("estimated_time_to_regain_access"), int | float)), default=0.0)
        return cls(percent, regain)


def usage_percent(headers: Mapping[str, str]) -> float | None:
    """The highest budget share in use that a Graph response reports (None: it reports none).

    >>> usage_percent({"X-App-Usage": '{"call_count":12,"total_cputime":3,"total_time":40}'}), usage_percent({})
    (40.0, None)
    """
    if not any(k.lower().endswith("usage") for k in headers):
        return None
    return Usage.of(headers).percent


@dataclass
class Throttle:
    slowdown_at: float = 75.0
    pace_seconds: float = 5.0
    backoff_seconds: float = 60.0
    max_wait_seconds: float = 1800.0
    on_wait: Callable[[str, datetime], None] = lambda reason, until: None
    sleep: Callable[[float], None] = time.sleep
    # The credential's windows: the usage any harvest on the same token last saw paces them all.
    windows: SharedWindows = field(default_factory=SharedWindows)
    waited: float = 0.0  # seconds spent waiting on throttling errors in this harvest
    paced: float = 0.0  # seconds spent spacing calls out
    throttled: int = 0  # throttling errors received
    streak: int = 0  # throttling errors since the last answered call (the backoff doubles along it)

    @property
    def usage(self) -> Usage:
        return self.windows.get("graph usage", Usage())

    def observe(self, headers: Mapping[str, str]) -> None:
        seen = Usage.of(headers)
        if seen.percent or seen.regain_minutes or any(k.lower().endswith("usage") for k in headers):
            self.windows.put("graph usage", seen)

    def answered(self) -> None:
        """A call went through: the next throttling starts its backoff afresh."""
        self.streak = 0

    def pace(self) -> None:
        """Before a call: wait a little when the budget is nearly used, more the closer it is."""
        over = self.usage.percent - self.slowdown_at
        if over <= 0 or self.slowdown_at >= 100:
            return
        delay = self.pace_seconds * min(1.0, over / (100.0 - self.slowdown_at))
        self.paced += delay
        self.sleep(delay)

    def wait_out(self, error: GraphError, headers: Mapping[str, str], where: str) -> None:
        """After a throttling error: wait as the platform says, or raise HarvestError("quota")."""
        self.throttled += 1
        self.streak += 1
        usage = Usage.of(headers)
        seconds = usage.regain_minutes * 60 if usage.regain_minutes > 0 else \
            self.backoff_seconds * 2 ** min(self.streak - 1, 6)
        reason = error.describe(where)
        if self.waited + seconds > self.max_wait_seconds:
            raise HarvestError(f"{reason}; the platform asks for {seconds:.0f} s more than the harvest may wait "
                               f"(max_throttle_wait); the next harvest goes on from here", "quota")
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        self.on_wait(reason, until)
        self.waited += seconds
        self.sleep(seconds)
