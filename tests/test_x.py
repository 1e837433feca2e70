"""X end to end against the fake X API: a large account harvested completely (posts, replies,
edit chains, hidden replies), deletions only on X's own word, the same index after reindex."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import and_, select

from archiver.index.models import Account, Item, Version
from conftest import Workspace
from connectors.x.fakeaccount import FakeXAccount
from test_reindex import snapshot
from xyt_helpers import (
    BEARER,
    USER_TOKEN,
    all_bytes,
    index_in_memory,  # noqa: F401 - a fixture
    indexed,
    x_account,
)


def latest(workspace: Workspace, account: str) -> dict[str, tuple[str, int, dict[str, Any]]]:
    """platform id → (state, version count, latest content)."""
    db = workspace.index()
    with db.session() as session:
        rows = session.execute(
            select(Item.platform_id, Item.state, Item.version_count, Version.content)
            .join(Version, and_(Version.item_id == Item.id, Version.seq == Item.version_count))
            .join(Account, Account.id == Item.account_id).where(Account.name == account)).all()
    db.dispose()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


@pytest.mark.usefixtures("index_in_memory")
def test_a_large_account_is_harvested_completely_with_edits_deletions_and_reindex(workspace: Workspace) -> None:
    account = FakeXAccount.synthetic(posts=3000, replies=10000, seed=11, edits=0.02, hidden=0.03)
    workspace.capture["media"] = False  # photos are tested on a small account; here: the text records
    with x_account(workspace, account, full_archive=True, user_token=True, monthly_reads=100_000) as server:
        result = workspace.cli("harvest", "--json")
        assert result.code == 0, result.err
        assert result.json()[0]["status"] == "succeeded"
        first_reads = server.reads
        found = latest(workspace, "city-x")
        truth = {t.id: t for t in account.live()}
        assert len(truth) == 13000 and set(truth) <= set(found)
        kinds = indexed(workspace, "city-x")
        assert sum(1 for k, *_ in kinds.values() if k == "post") == 3000
        assert sum(1 for k, *_ in kinds.values() if k in ("comment", "reply")) == 10000
        # Every version of every edit chain, in order, each with its own created_at; threads rebuilt.
        edited = [t for t in truth.values() if len(t.versions) > 1]
        assert edited
        for tweet in edited:
            state, count, content = found[tweet.id]
            expected = "hidden" if tweet.hidden else "edited"
            assert (state, count, content["text"]) == (expected, len(tweet.versions), tweet.current.text)
            assert content["created_at"].startswith(tweet.current.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
        assert all(found[t.id][2]["text"] == t.current.text for t in truth.values())
        parents = {t.id: account.by_version[t.replied_to].id for t in truth.values() if t.replied_to}
        assert {pid: kinds[pid][2] for pid in parents} == parents
        hidden = {t.id for t in truth.values() if t.hidden}
        assert hidden and {pid for pid, (state, *_) in found.items() if state == "hidden"} == hidden
        # Budget: what the archiver counted is what X billed, and every post was read once (plus
        # the older versions of edited posts).
        status = workspace.cli("accounts", "--json").json()[0]["budget"]
        assert status["used"] == first_reads + 1 and status["unit"] == "reads"  # + the profile (a user read)
        # (the city's own replies are in its timeline and in their conversations: read twice)
        own_replies = sum(1 for t in truth.values() if t.replied_to and t.author_id == account.owner.id)
        assert 13000 <= first_reads <= 13000 + sum(len(t.versions) for t in edited) + own_replies

        # Along the way: posts and replies deleted, a post edited, a resident suspended.
        now = datetime.now(UTC)
        recent = [t for t in account.tweets if t.author_id == account.owner.id and not t.replied_to
                  and t.created > now - timedelta(days=5)]
        gone_posts = recent[:2]
        replies = [t for t in account.tweets if t.conversation_id in {p.id for p in recent[2:]} and t.replied_to
                   and t.author_id != account.owner.id]
        gone_replies = replies[:10]
        for tweet in gone_posts + gone_replies:
            tweet.deleted = True
        corrected = recent[3]
        account.edit(corrected, corrected.current.text + " (updated hours)")
        suspended = replies[12]
        account.users[suspended.author_id].suspended = True
        result = workspace.cli("harvest", "--json")
        assert result.json()[0]["status"] == "succeeded", result.err
    after = latest(workspace, "city-x")
    deleted = {pid for pid, (state, *_) in after.items() if state == "deleted"}
    assert deleted == {t.id for t in gone_posts + gone_replies}  # and no false deletion
    assert after[suspended.id][0] == "unavailable"
    assert after[corrected.id][1:] == (len(corrected.versions), after[corrected.id][2])
    assert after[corrected.id][2]["text"].endswith("(updated hours)")
    before = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    again = snapshot(workspace)
    assert again["items"] == before["items"] and again["versions"] == before["versions"]


def test_replies_beyond_seven_days_are_a_stated_gap_without_full_archive(workspace: Workspace) -> None:
    account = FakeXAccount.synthetic(posts=30, replies=120, seed=3, days=20)
    with x_account(workspace, account) as server:
        result = workspace.cli("harvest", "--json")
        assert result.json()[0]["status"] == "succeeded", result.err
        assert not server.api_calls("/search/all")
    week_ago = datetime.now(UTC) - timedelta(days=7)
    found = indexed(workspace, "city-x")
    reachable = {t.id for t in account.live() if t.replied_to and t.created >= week_ago + timedelta(minutes=1)}
    unreachable = {t.id for t in account.live() if t.replied_to and t.created < week_ago - timedelta(minutes=1)}
    assert reachable <= set(found) and not unreachable & set(found)
    coverage = workspace.cli("coverage", "city-x", "--json")
    assert coverage.code == 0
    db = workspace.index()
    from archiver.index.models import Harvest

    with db.session() as session:
        harvest = session.scalars(select(Harvest)).one()
        assert harvest.coverage["window_exceeded"]
        assert any("full_archive = true" in note for note in harvest.coverage["notes"])
    db.dispose()


def test_the_timeline_reach_is_a_stated_gap_and_a_handle_is_resolved_once(workspace: Workspace) -> None:
    account = FakeXAccount.synthetic(posts=60, replies=0, seed=4, days=30)
    with x_account(workspace, account, account_id="@CityOfSpringfield") as server:
        server.timeline_limit = 25
        from connectors.x import client

        reach, client.TIMELINE_REACH = client.TIMELINE_REACH, 25
        try:
            assert workspace.cli("harvest").code == 0
            assert workspace.cli("harvest").code == 0
        finally:
            client.TIMELINE_REACH = reach
        assert len(server.api_calls("/2/users/by/username/")) == 1  # resolved once, then by id
    db = workspace.index()
    from archiver.index.models import Harvest

    with db.session() as session:
        first = session.scalars(select(Harvest).order_by(Harvest.id)).first()
        assert any("newest 25 posts" in note for note in first.coverage["notes"])
        assert session.scalar(select(Account.cursor))["user_id"] == account.owner.id
    db.dispose()
    assert sum(1 for kind, *_ in indexed(workspace, "city-x").values() if kind == "post") == 25


def test_no_credential_in_any_warc_index_log_or_export(workspace: Workspace, tmp_path: Any) -> None:
    account = FakeXAccount.synthetic(posts=20, replies=60, seed=5, days=5)
    with x_account(workspace, account, user_token=True) as server:
        result = workspace.cli("harvest")
        assert result.code == 0, result.err
        assert all(c.headers.get("Authorization") == f"Bearer {USER_TOKEN}" for c in server.api_calls("/2/"))
    exported = tmp_path / "export"
    assert workspace.cli("export", "--format", "jsonl", "--out", str(exported)).code == 0
    assert workspace.cli("request", "new", "PRR-9").code == 0
    some = [t.id for t in account.tweets if t.replied_to][:3]
    assert workspace.cli("request", "add", "PRR-9", *(f"--item=city-x:{i}" for i in some)).code == 0
    assert workspace.cli("export", "PRR-9", "--out", str(tmp_path / "package")).code == 0
    everything = all_bytes(workspace) + result.out.encode() + result.err.encode()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pdf" for p in files) and any(p.suffix == ".jsonl" for p in files)
    everything += b"".join(p.read_bytes() for p in files)
    for secret in (BEARER, USER_TOKEN):
        assert secret.encode() not in everything
    assert b"Bearer REDACTED" in all_bytes(workspace)
