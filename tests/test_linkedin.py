"""LinkedIn organization pages through the Community Management API (a fake following the
documented shapes): posts, comments and replies, images, counts, edits as versions, deletions
only on a lookup's 404; the versioned headers on every call; without LinkedIn's approval the
account shows the cause and coverage the gap; check-config says what to request."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.linkedin.fakeapi import FakeLinkedIn
from connectors.linkedin.parser import parse
from graph_helpers import items
from secret_helpers import assert_never_recorded
from social_helpers import TOKEN, account_row, social_account, versions
from test_facebook_deletions import snapshot_with_metrics

URLS = json.loads((FIXTURES / "linkedin" / "urls.json").read_text())


def _fixture(name: str, status: int = 200, lookup: str | None = None, url: str | None = None) -> list[Any]:
    body = (FIXTURES / "linkedin" / name).read_bytes()
    return parse(CapturedResponse(url or URLS[name], status, Headers([("Content-Type", "application/json")]), body,
                                  datetime.now(UTC), lookup=lookup))


def test_parser_on_documented_payloads() -> None:
    posts = {o.platform_id: o for o in _fixture("docs_posts_by_author.json")}
    share = posts["urn:li:share:6967877436045201408"]
    assert share.kind == "post" and share.text == "Sample text Post" and share.author == "urn:li:organization:5515715"
    assert share.posted_at == datetime.fromtimestamp(1661456449.331, UTC)
    assert posts["urn:li:ugcPost:6967544664588419072"].content["edited_by_author"] is True
    comments = {o.platform_id: o for o in _fixture("docs_social_actions_comments.json")}
    assert {o.parent_id for o in comments.values()} == {"urn:li:share:6967877436045201408"}
    assert all(o.kind == "comment" for o in comments.values())
    assert any(o.media_urls for o in comments.values())
    [reply] = _fixture("docs_comment_replies.json")
    assert reply.kind == "reply" and reply.parent_id.endswith("6968063213612462080)")
    [counts] = _fixture("docs_social_metadata_batch.json")
    assert counts.metrics_only and counts.metrics == {"reactions": 15, "comments": 3}
    [image] = _fixture("docs_images_batch.json")
    assert image.kind == "media" and image.parent_id == "urn:li:share:6967877436045201408"
    assert "t=" not in json.dumps(image.content) and image.media_urls[0].startswith("https://media.licdn.com/")
    [gone] = _fixture("docs_error_404_not_found.json", 404, lookup="urn:li:share:6967877436045201408")
    assert gone.state is VersionState.DELETED
    assert _fixture("docs_error_403_access_denied.json", 403, lookup="urn:li:share:1") == []


def test_a_linkedin_page_is_harvested_completely(workspace: Workspace) -> None:
    server = FakeLinkedIn.synthetic(posts=30, comments=220, seed=3)
    server.tokens = {TOKEN}
    with server, social_account(workspace, "linkedin", "5515715", server.base_url, "city-li", page_size=8):
        result = workspace.cli("harvest")
        assert result.code == 0, result.err
        calls = server.api_calls()
        assert all(c.header("LinkedIn-Version") == "202610" and c.header("X-Restli-Protocol-Version") == "2.0.0"
                   for c in calls)
        found = items(workspace, "city-li")
        truth = server.truth()
        assert set(truth) == set(found)
        assert all(found[c.urn][2] == c.target for c in server.comment_by_urn.values())
        assert any(kind == "reply" for kind, *_ in found.values())
        busy = max(server.posts, key=lambda p: len(p.comments))
        assert found[busy.urn][3]["comments"] == sum(1 + len(c.replies) for c in busy.comments)
        # An edit, a deleted comment (with its replies) and a deleted post.
        edited = server.posts[1]
        edited.text, edited.edited = "corrected announcement", datetime.now(UTC)
        parent = next(c for p in server.posts[2:] for c in p.comments if c.replies)
        gone = server.delete_comment(parent.urn)
        doomed = next(p for p in server.posts[2:] if parent.post != p.urn)
        doomed_comments = [r.urn for c in doomed.comments for r in [c, *c.replies]] + doomed.images
        server.delete_post(doomed.urn)
        again = workspace.cli("harvest", "--json")
        assert again.code == 0, again.err
        found = items(workspace, "city-li")
        assert all(found[g][1] == "deleted" for g in [*gone, doomed.urn, *doomed_comments])  # with their post
        assert [s for s, _ in versions(workspace, edited.urn)] == ["visible", "edited"]
        assert again.json()[0]["new_versions"] == 2 + len(gone) + len(doomed_comments)
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before


def test_without_approval_the_cause_is_shown_and_check_config_says_what_to_request(workspace: Workspace,
                                                                                   caplog: Any) -> None:
    server = FakeLinkedIn.synthetic(posts=12, comments=40, seed=4)
    server.tokens = {TOKEN}
    logging.getLogger().setLevel(logging.DEBUG)
    with server, social_account(workspace, "linkedin", "5515715", server.base_url, "city-li", page_size=5,
                                throttle_backoff_seconds=0.05):
        checked = workspace.cli("check-config")
        assert checked.code == 0 and "Community Management API" in checked.out
        assert "r_organization_social" in checked.out
        assert workspace.cli("harvest").code == 0
        server.approved = False  # the app's access was withdrawn (or never granted)
        refused = workspace.cli("-vv", "harvest")
        assert refused.code == 1 and "Community Management API" in refused.err and "ACCESS_DENIED" in refused.err
        assert workspace.cli("coverage", "city-li", "--json").json()["spans"][-1]["causes"][0]["cause"] == \
            "permission"
        server.approved = True
        server.budget, server.window_seconds = 6, 0.3
        throttled = workspace.cli("-vv", "harvest")
        assert throttled.code == 0, throttled.err
        assert any(c.status == 429 for c in server.api_calls())  # LinkedIn gives no budget: refused, waited
        assert set(server.truth()) == set(items(workspace, "city-li"))
        server.budget = None
        server.active_versions = {"202701"}
        sunset = workspace.cli("harvest")
        assert sunset.code == 1 and "set api_version" in sunset.err
        server.active_versions, server.expired = {"202610"}, {TOKEN}
        expired = workspace.cli("harvest")
        assert expired.code == 1 and "authorize the app again" in expired.err
        assert account_row(workspace, "city-li").status == "disconnected"
    spans = workspace.cli("coverage", "city-li", "--since", (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
                          "--json").json()["spans"]
    assert spans
    assert_never_recorded(workspace, [TOKEN], checked.out + refused.err + throttled.err + sunset.err + expired.err
                          + caplog.text)
