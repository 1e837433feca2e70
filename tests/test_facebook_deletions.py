"""Facebook deletions: only the platform's answer (error 100/33 on a direct lookup) deletes; a
deleted post takes its comments with it, said so in a record of its own; reindex gives it all back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from archiver.index.models import Item
from conftest import Workspace
from connectors.facebook.fakepage import FakePage
from graph_helpers import graph_account, items
from test_reindex import snapshot


def snapshot_with_metrics(workspace: Workspace) -> dict[str, Any]:
    result = snapshot(workspace)
    db = workspace.index()
    with db.session() as session:
        result["metrics"] = sorted((i.platform_id, str(i.metrics), i.metrics_observed_at, i.parent_platform_id)
                                   for i in session.scalars(select(Item)))
    db.dispose()
    return result


def test_deletions_are_confirmed_cascade_with_their_post_and_survive_reindex(workspace: Workspace,
                                                                            index_url: str) -> None:
    workspace.database_url = index_url
    page = FakePage.synthetic(posts=30, comments=400, seed=29)
    with graph_account(workspace, page, account_id=page.page_id, page_size=25) as server:
        assert workspace.cli("harvest").code == 0
        threaded = [p for p in page.posts if any(c.replies for c in p.comments)]
        parent = next(c for c in threaded[0].comments if c.replies and c.parent_id is None)
        gone_comments = page.delete_comment(parent.id)  # takes its replies with it
        doomed = threaded[1]
        doomed_comments = [c.id for c in doomed.comments]
        page.delete_post(doomed.id)
        survivor = page.posts[2].comments[0]
        page.delete_comment(survivor.id)
        server.object_faults[survivor.id] = 503  # its lookup cannot be answered: nothing may be concluded
        server.calls.clear()
        assert workspace.cli("harvest").code == 0
        looked_up = {c.path.rsplit("/", 1)[1] for c in server.api_calls() if c.path.count("/") == 2
                     and "_" in c.path.rsplit("/", 1)[1]}
        found = items(workspace)
        assert set(gone_comments) <= looked_up and doomed.id in looked_up
        assert not set(doomed_comments) & looked_up  # they went with their post: no lookup each
        assert all(found[c][1] == "deleted" for c in gone_comments)
        assert found[doomed.id][1] == "deleted" and all(found[c][1] == "deleted" for c in doomed_comments)
        assert found[survivor.id][1] != "deleted"
        deleted = sum(state == "deleted" for _, state, _, _ in found.values())
        assert deleted == len(gone_comments) + 1 + len(doomed_comments)
        child = workspace.cli("show", f"city-fb:{doomed_comments[0]}", "--json").json()
        assert child["versions"][-1]["content"] == {"deleted": "parent post deleted", "parent": doomed.id}
        assert child["versions"][-1]["first_evidence"]["target_uri"] == f"urn:archiver:cascade:{doomed.id}"
        post = workspace.cli("show", f"city-fb:{doomed.id}", "--json").json()
        assert post["versions"][-1]["first_evidence"]["status"] == 400  # the platform's own answer
        # The unanswered lookup is asked again next harvest, and then the platform answers.
        del server.object_faults[survivor.id]
        assert workspace.cli("harvest").code == 0
        assert items(workspace)[survivor.id][1] == "deleted"
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before
