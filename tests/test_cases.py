"""Cases built from searches: add, drop, review, with every action audited; bad input refused."""

from __future__ import annotations

from case_helpers import main_street_case
from conftest import Workspace


def test_a_case_is_built_from_searches_and_reviewed(workspace: Workspace, index_url: str) -> None:
    workspace.database_url = index_url
    with main_street_case(workspace) as case:
        shown = workspace.cli("request", "show", case.case, "--json").json()
        ids = {member["item_id"] for member in shown["members"]}
        assert shown["requester"] == "R. Reporter, Springfield Ledger" and shown["due"] == "2026-03-15"
        # The phrase finds the post and the comments that say it — the deleted one included.
        states = {m["state"] for m in shown["members"]}
        assert {"deleted", "hidden"} <= states and len(ids) == 5
        dropped = workspace.cli("request", "drop", case.case, "--state", "hidden")
        assert dropped.code == 0 and dropped.out.startswith("1 item(s) dropped")
        added = workspace.cli("request", "add", case.case, "--item", f"city-fb:{case.other_post_id}")
        assert added.out.startswith("1 item(s) added")
        again = workspace.cli("request", "add", case.case, '"Main Street"', "--state", "deleted")
        assert again.out.startswith("0 item(s) added")  # already in: nothing twice
        shown = workspace.cli("request", "show", case.case, "--json").json()
        assert shown["items"] == 5 and [s["action"] for s in shown["searches"]] == ["add", "drop", "add", "add"]
        assert shown["searches"][1]["query"] == {"states": ["hidden"]}
        listed = workspace.cli("request", "list", "--json").json()
        assert [(c["name"], c["items"]) for c in listed] == [(case.case, 5)]
        actions = [e["action"] for e in workspace.cli("audit", "--json").json()]
        assert {"case.opened", "case.items_added", "case.items_dropped", "case.viewed"} <= set(actions)


def test_bad_case_input_is_refused_with_one_line(workspace: Workspace) -> None:
    workspace.write()
    assert workspace.cli("request", "new", "A", "--received", "2026-03-10", "--due", "2026-03-01").code == 1
    first = workspace.cli("request", "new", "A")
    assert first.code == 0
    again = workspace.cli("request", "new", "A")
    assert again.code == 1 and "already exists" in again.err and again.err.count("\n") == 1
    missing = workspace.cli("request", "add", "B", "words")
    assert missing.code == 1 and "no case named 'B'" in missing.err
    nothing = workspace.cli("request", "add", "A")
    assert nothing.code == 1 and "say what to add" in nothing.err
    bad_date = workspace.cli("request", "new", "C", "--due", "15/03/2026")
    assert bad_date.code == 2 and "not a date" in bad_date.err
