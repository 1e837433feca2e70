"""Record series from the config: periods, triggers, tag overrides, and the errors a records manager sees."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from archiver.config import ConfigError, parse_config
from archiver.retention.schedule import eligible_on, governing_series
from archiver.retention.settings import Keep
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeedServer
from test_disposition import AS_OF, archive, entry_id

CONFIG = """
[[retention.series]]
code = "GRS-6.4-020"
title = "Public comments"
authority = "NARA GRS 6.4 item 020"
keep = "90d"
trigger = "posted"

[[retention.series]]
code = "PERM"
title = "Council records"
keep = "permanent"
trigger = "captured"
action = "transfer"
tags = ["council"]

[[retention.series]]
code = "CLOSED-3Y"
title = "Closed accounts"
keep = "3y"
trigger = "account_closed"

[[accounts]]
name = "comments"
platform = "rss"
id = "https://example.gov/feed"
retention = "GRS-6.4-020"

[[accounts]]
name = "old-page"
platform = "rss"
id = "https://example.gov/old"
retention = "CLOSED-3Y"
closed = 2024-02-29
"""


def test_series_triggers_and_tag_overrides(tmp_path: Path) -> None:
    config = parse_config(CONFIG, base_dir=tmp_path)
    comments = governing_series(config, "comments", ())
    assert comments is not None and comments.code == "GRS-6.4-020"
    council = governing_series(config, "comments", {"council", "other"})
    assert council is not None and council.code == "PERM"
    posted, seen = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    assert eligible_on(comments, posted, seen, None) == posted + timedelta(days=90)
    assert eligible_on(comments, None, seen, None) == seen + timedelta(days=90)  # no posted time: capture
    assert eligible_on(council, posted, seen, None) is None  # permanent
    closed = governing_series(config, "old-page", ())
    assert closed is not None and eligible_on(closed, posted, seen, None) is None  # not closed yet: never due
    assert eligible_on(closed, posted, seen, datetime(2024, 2, 29, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)
    assert config.account("old-page").closed == date(2024, 2, 29)
    assert str(Keep.parse("18mo")) == "18mo" and Keep.parse("2w").after(posted) == posted + timedelta(days=14)


@pytest.mark.parametrize(("change", "message"), [
    (('retention = "GRS-6.4-020"', 'retention = "NOPE"'), "accounts[0].retention: no record series 'NOPE'"),
    (('keep = "90d"', 'keep = "90 days"'), "retention.series[0].keep: '90 days' is not a retention period"),
    (('trigger = "posted"', 'trigger = "published"'), "retention.series[0].trigger"),
    (('tags = ["council"]', 'tags = ["council"]\n[[retention.series]]\ncode = "X"\ntitle = "x"\nkeep = "1y"\n'
      'trigger = "posted"\ntags = ["council"]'), "tag 'council' already selects series 'PERM'"),
])
def test_schedule_mistakes_are_named(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as failure:
        parse_config(CONFIG.replace(*change, 1), base_dir=tmp_path)
    assert any(message in problem for problem in failure.value.problems), failure.value.problems


def test_a_tag_moves_an_item_to_a_longer_series(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    archive(workspace, feed_server, extra=CONFIG.split("[[accounts]]")[0])
    due = workspace.cli("retention", "plan", "--as-of", AS_OF, "--json").json()
    assert due["items"] == 10
    tagged = workspace.cli("retention", "tag", f"news:{entry_id(4)}", "council")
    assert tagged.code == 0 and "record series PERM" in tagged.out
    again = workspace.cli("retention", "plan", "--as-of", AS_OF, "--json").json()
    assert again["items"] == 0  # the permanent item shares its page record with the rest
    assert {d["reason"] for d in again["deferred"]} == {"shares a record with an item that is kept"}
    assert workspace.cli("retention", "untag", f"news:{entry_id(4)}", "council").code == 0
    assert workspace.cli("retention", "plan", "--as-of", AS_OF, "--json").json()["items"] == 10
    future = workspace.cli("retention", "plan", "--as-of", (datetime.now(UTC) + timedelta(days=2)).isoformat())
    assert future.code == 1 and "cannot be in the future" in future.err
    listed = workspace.cli("retention", "list", "--json").json()
    assert [p["state"] for p in listed] == ["proposed"] * 3
