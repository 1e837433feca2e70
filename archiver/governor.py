"""One governor per credential: the budget and the rate-limit windows every account on it shares.

A credential is what a platform counts calls against — a Meta token, an X app's bearer token, a
YouTube project's API key — named by the platform and the environment variable that holds it
(``youtube:CITY_YT_KEY``; see ``Connector.credential``), never by its value, so the name can go
into logs, the index and ``archiver accounts`` safely. Within a process, every harvest on the
credential gets the same ``Governor``:

- its ``windows`` (connectors/windows.py) hold what the platform's headers last said about the
  rate-limit windows — Meta's usage percentages, X's ``x-rate-limit-*`` per route, Mastodon's
  and Bluesky's limits — so one account's harvest paces itself by what another's answers said;
- its budget (archiver/quota.py) is the daily or monthly allowance from the config (YouTube's
  ``daily_units``, X's ``monthly_reads``), kept in the index, so two daemons on one database
  draw on one count; a harvest reserves before each call and never goes past it.

What a harvest spent is written into its coverage (``budget``), where ``archiver.runplan``
finds it to project the use of the coming runs and space them out before the budget runs dry.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from archiver.quota import Budget, QuotaSpec
from connectors import registry
from connectors.windows import SharedWindows

if TYPE_CHECKING:
    from archiver.config import AccountConfig, Config
    from archiver.index.db import IndexDB
    from connectors.base import HarvestContext


def credential_of(account: AccountConfig) -> str | None:
    """The governor's key for an account ("platform:VARIABLE"), None if it has no credential."""
    connector = registry.get(account.platform)
    if connector is None:
        return None
    try:
        return connector.credential(account)
    except (ValueError, TypeError):  # options check-config reports; no governor meanwhile
        return None


def budget_spec(config: Config, account: AccountConfig) -> tuple[QuotaSpec | None, int]:
    """The credential's budget and how many configured accounts draw on it.

    Each account on a credential repeats its budget (``daily_units``, ``monthly_reads``); if they
    disagree the smallest holds, since the platform's allowance cannot be larger than the least
    any account's operator said (check-config names the disagreement).
    """
    connector = registry.get(account.platform)
    spec = connector.quota(account) if connector is not None else None
    if spec is None:
        return None, 0
    limits = [other.limit for other in _specs(config) if other.credential == spec.credential]
    return replace(spec, limit=min(limits, default=spec.limit)), max(len(limits), 1)


def _specs(config: Config) -> list[QuotaSpec]:
    specs = []
    for account in config.accounts:
        connector = registry.get(account.platform)
        try:
            spec = connector.quota(account) if connector is not None else None
        except (ValueError, TypeError):
            spec = None
        if spec is not None:
            specs.append(spec)
    return specs


def disagreements(config: Config) -> list[str]:
    """check-config lines for accounts that give one credential different budgets."""
    seen: dict[str, set[int]] = {}
    for spec in _specs(config):
        seen.setdefault(spec.credential, set()).add(spec.limit)
    return [f"{credential}: the accounts on this credential give different budgets "
            f"({', '.join(map(str, sorted(v)))}); the smallest ({min(v):,}) is kept — give them all the same"
            for credential, v in seen.items() if len(v) > 1]


class Governor:
    """What every harvest on one credential shares within the process (and, for the budget, with
    every process on the same index)."""

    def __init__(self, credential: str, db: IndexDB, spec: QuotaSpec | None):
        self.credential = credential
        self.db = db
        self.spec = spec
        self.windows = SharedWindows()

    def budget(self, sharing: int = 1) -> Budget | None:
        """A harvest's handle on the budget (its own reservations; the count is the index's)."""
        return Budget(self.db, self.spec, sharing) if self.spec is not None else None


class Governors:
    """The governors of one process, by credential; the harvest runner holds them (and a daemon's
    reload hands them to the next runner, so the windows outlive a config change)."""

    def __init__(self, db: IndexDB):
        self.db = db
        self._lock = threading.Lock()
        self._by_credential: dict[str, Governor] = {}

    def of(self, config: Config, account: AccountConfig) -> tuple[Governor, int] | None:
        """The account's governor and how many accounts share its budget (None: no credential)."""
        credential = credential_of(account)
        if credential is None:
            return None
        spec, sharing = budget_spec(config, account)
        with self._lock:
            governor = self._by_credential.get(credential)
            if governor is None:
                governor = self._by_credential[credential] = Governor(credential, self.db, spec)
            elif governor.spec != spec:  # a reloaded config changed the budget: the windows stay
                governor.spec = spec
        return governor, sharing

    def attach(self, config: Config, account: AccountConfig, context: HarvestContext) -> Governor | None:
        """Give a harvest its credential's windows and budget."""
        found = self.of(config, account)
        if found is None:
            return None
        governor, sharing = found
        context.windows = governor.windows
        context.budget = governor.budget(sharing)
        return governor


def spent(governor: Governor | None, budget: Budget | None) -> dict[str, Any] | None:
    """What one harvest spent of its credential's budget, for its coverage (and the run plan)."""
    if governor is None or budget is None or governor.spec is None:
        return None
    return {"credential": governor.credential, "unit": governor.spec.unit, "used": budget.charged,
            "calls": budget.calls}


__all__ = ["Governor", "Governors", "budget_spec", "credential_of", "disagreements", "spent"]
