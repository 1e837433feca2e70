"""Instagram business accounts: media with carousel children, comments and replies with their
hidden flag, paging in Instagram's style, deletions confirmed, reindex parity; the parser on the
recorded payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.instagram.fakeaccount import FakeInstagram
from connectors.instagram.parser import parse
from graph_helpers import graph_account, items
from test_facebook_deletions import snapshot_with_metrics


def _response(name: str, url: str) -> CapturedResponse:
    body = (FIXTURES / "instagram" / name).read_bytes()
    return CapturedResponse(url, 200, Headers([("Content-Type", "application/json")]), body, datetime.now(UTC))


def test_parser_on_recorded_payloads() -> None:
    media = parse(_response("pyfacebook_ig_user_media_p2_carousel.json",
                            "https://graph.facebook.com/v26.0/17841406338772941/media?fields=id"))
    carousel = [o for o in media if o.platform_id == "17896129349106152"]
    assert carousel[0].kind == "post" and len(carousel[0].content["children"]) == 3
    children = [o for o in media if o.kind == "media"]
    assert {o.parent_id for o in children} == {"17896129349106152"} and len(children) == 3
    assert "oe=" not in carousel[0].content["media_url"] and "oe=" in carousel[0].media_urls[0]
    comments = parse(_response("pyfacebook_ig_media_comments_p2_last.json",
                               "https://graph.facebook.com/v26.0/17846368219941692/comments"))
    assert [o.parent_id for o in comments] == ["17846368219941692"] * 2
    model = json.loads((FIXTURES / "instagram" / "pyfacebook_ig_comment_model_hidden_replies.json").read_text())
    found = parse(CapturedResponse("https://graph.facebook.com/v26.0/17892250648466172?fields=id,text,hidden",
                                   200, Headers([]), json.dumps(model).encode(), datetime.now(UTC),
                                   lookup="17892250648466172"))
    assert [(o.kind, o.state, o.parent_id) for o in found] == [("comment", VersionState.VISIBLE, None),
                                                              ("reply", VersionState.VISIBLE, "17892250648466172")]


def test_an_instagram_account_is_harvested_completely(workspace: Workspace) -> None:
    account = FakeInstagram.synthetic(media=40, comments=500, seed=3)
    with graph_account(workspace, account, platform="instagram", account_id=account.user_id, name="city-ig",
                       page_size=3) as server:
        assert workspace.cli("harvest").code == 0
        assert any("/replies" in c.path for c in server.api_calls())  # long reply threads paged too
        found = items(workspace, "city-ig")
        truth = account.truth()
        assert set(truth) <= set(found) and len(found) == len(truth) + 1  # + the profile
        hidden = {c.id for c in account.comment_by_id.values() if c.hidden}
        assert hidden and {pid for pid, (_, state, _, _) in found.items() if state == "hidden"} == hidden
        assert all(found[c.id][2] == (c.parent_id or c.media_id) for c in account.comment_by_id.values())
        carousels = [m for m in account.media if m.children]
        assert carousels and all(found[child][0] == "media" for m in carousels for child in m.children)
        # A comment deleted with its replies: looked up, confirmed, its replies go with it.
        parent = next(c for m in account.media for c in m.comments if c.replies)
        gone = account.delete_comment(parent.id)
        account.media[0].likes += 9
        result = workspace.cli("harvest", "--json")
        assert result.code == 0 and result.json()[0]["new_versions"] == len(gone)
        found = items(workspace, "city-ig")
        assert all(found[g][1] == "deleted" for g in gone)
        assert found[account.media[0].id][3]["like_count"] == account.media[0].likes
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before
