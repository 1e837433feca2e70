"""X on its bad days: rate limits (both 429 bodies), the monthly usage cap, a budget below one
harvest's need, expired and forbidden credentials, truncated and mistyped payloads. Nothing
captured is lost, no cursor moves past what is stored, the account shows why it stopped."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from archiver.index.models import Account, Harvest
from conftest import Workspace
from connectors.x.fakeaccount import FakeXAccount
from xyt_helpers import BEARER, indexed, x_account


def _runs(workspace: Workspace) -> list[Any]:
    db = workspace.index()
    with db.session() as session:
        rows = [(h.status, h.cause, h.complete, h.error, h.cursor_after) for h in
                session.scalars(select(Harvest).order_by(Harvest.id))]
        cursor = session.scalar(select(Account.cursor))
    db.dispose()
    return [rows, cursor]


@pytest.mark.parametrize("old_body", [False, True])
def test_rate_limits_are_paced_and_waited_out(workspace: Workspace, old_body: bool) -> None:
    """A spent window (x-rate-limit-remaining 0) is waited out before the next call; a 429 with
    either body is waited out until x-rate-limit-reset and the call made again."""
    account = FakeXAccount.synthetic(posts=15, replies=20, seed=1, days=5)
    with x_account(workspace, account, page_size=10) as server:
        server.rate_limit, server.window_seconds, server.old_429 = 2, 1.0, old_body
        server.throttle_next = 1
        result = workspace.cli("harvest", "--json")
        assert result.json()[0]["status"] == "succeeded", result.err
        assert "waiting until" in result.err and "throttled (HTTP 429" in result.err
        assert any(c.status == 429 for c in server.api_calls("/2/"))
    assert {t.id for t in account.live()} <= set(indexed(workspace, "city-x"))


def test_the_usage_cap_stops_cleanly_and_nothing_is_read_until_the_reset(workspace: Workspace) -> None:
    account = FakeXAccount.synthetic(posts=60, replies=200, seed=2, days=5)
    with x_account(workspace, account, page_size=20) as server:
        server.usage_cap = 50
        result = workspace.cli("harvest", "--json")
        outcome = result.json()[0]
        assert outcome["status"] == "failed" and "usage cap" in outcome["error"]
        row = workspace.cli("accounts", "--json").json()[0]
        assert row["status"] == "waiting" and row["budget"]["exhausted_until"]
        calls = len(server.api_calls("/2/"))
        assert workspace.cli("harvest").code != 0
        assert len(server.api_calls("/2/")) == calls  # no call until the reset
    runs, cursor = _runs(workspace)
    assert all(not complete and cause == "quota" for _, cause, complete, _, _ in runs) and not cursor
    assert len(indexed(workspace, "city-x")) >= 50  # what was read is kept


def test_a_budget_below_one_harvest_is_never_exceeded(workspace: Workspace) -> None:
    account = FakeXAccount.synthetic(posts=60, replies=200, seed=3, days=5)
    with x_account(workspace, account, monthly_reads=75, page_size=20) as server:
        outcome = workspace.cli("harvest", "--json").json()[0]
        assert outcome["status"] == "failed" and "budget" in outcome["error"]
        assert server.reads <= 75
        budget = workspace.cli("accounts", "--json").json()[0]["budget"]
        assert budget["used"] <= 75 and budget["used"] == server.reads + 1  # + the profile
    runs, cursor = _runs(workspace)
    assert runs[0][1] == "quota" and not cursor


@pytest.mark.parametrize("fault,cause,status", [("expired", "token", "disconnected"),
                                                ("forbidden", "permission", "active")])
def test_credential_problems_end_cleanly_with_the_cause(workspace: Workspace, fault: str, cause: str,
                                                        status: str) -> None:
    account = FakeXAccount.synthetic(posts=10, replies=20, seed=4, days=5)
    with x_account(workspace, account) as server:
        if fault == "expired":
            server.expired.add(BEARER)
        else:
            server.forbidden = True
        outcome = workspace.cli("harvest", "--json").json()[0]
        assert outcome["status"] == "failed"
        assert BEARER not in outcome["error"]
    runs, cursor = _runs(workspace)
    assert runs[0][1] == cause and not cursor
    row = workspace.cli("accounts", "--json").json()[0]
    assert row["status"] == status


def test_truncated_and_mistyped_payloads_lose_nothing(workspace: Workspace) -> None:
    account = FakeXAccount.synthetic(posts=30, replies=60, seed=5, days=5)
    with x_account(workspace, account, page_size=10) as server:
        server.wrong_types = True
        assert workspace.cli("harvest", "--json").json()[0]["status"] == "succeeded"
        found = indexed(workspace, "city-x")
        assert len(found) >= 0.75 * len(account.live())  # every fifth post mistyped: the rest count
        server.wrong_types, server.truncate = False, True
        outcome = workspace.cli("harvest", "--json").json()[0]
        assert outcome["status"] == "failed" and "not JSON" in outcome["error"]
    runs, _ = _runs(workspace)
    assert runs[-1][1] == "listing" and runs[-1][4] is None
    assert set(found) <= set(indexed(workspace, "city-x"))
