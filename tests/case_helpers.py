"""A records-request case over a harvested Facebook Page, for the package tests.

The Page has a post about the Main Street project with a thread: a comment later deleted by
its author (so the archive holds it with both times), a hidden comment, nested replies, a
comment with planted personal data for redaction, a photo, and an unrelated post.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from conftest import Workspace
from connectors.facebook.fakepage import FakePage
from connectors.graph.fakeserver import FakeGraphServer
from graph_helpers import graph_account

PLANTED = {
    "ssn": "123-45-6789",
    "phone": "(555) 867-5309",
    "email": "jane.resident@example.org",
    "address": "1428 Elm Street",
    "dob": "DOB 04/12/1961",
}


@dataclass
class MainStreetCase:
    workspace: Workspace
    server: FakeGraphServer
    page: FakePage
    post_id: str
    deleted_id: str
    hidden_id: str
    reply_id: str
    pii_id: str
    other_post_id: str
    case: str = "PRR-2026-114"


@contextmanager
def main_street_case(workspace: Workspace) -> Iterator[MainStreetCase]:
    """Harvest the Page, delete a comment, harvest again, open the case and add the Main Street thread."""
    now = datetime.now(UTC).replace(microsecond=0)
    page = FakePage()
    post = page.add_post(now - timedelta(days=3), "Main Street project: construction starts Monday. Comments welcome.",
                         photo=True)
    first = page.add_comment(post, now - timedelta(days=2, hours=20), "Will Main Street stay open to bikes?",
                             ("5001", "Ana Ortiz"))
    reply = page.add_comment(post, now - timedelta(days=2, hours=19), "Yes, a lane stays open for bikes.",
                             ("1740000000001", "City of Springfield"), parent=first)
    deleted = page.add_comment(post, now - timedelta(days=2, hours=18), "This Main Street plan is a waste of money",
                               ("5002", "Ben Carter"))
    hidden = page.add_comment(post, now - timedelta(days=2, hours=17), "Main Street contractor is a crook",
                              ("5003", "Cy Dunn"), hidden=True)
    pii = page.add_comment(
        post, now - timedelta(days=2, hours=16),
        f"Call me at {PLANTED['phone']} or {PLANTED['email']}; I live at {PLANTED['address']}, "
        f"{PLANTED['dob']}, SSN {PLANTED['ssn']} — my Main Street driveway is blocked.",
        ("5004", "Dee Evans"), parent=first)
    other = page.add_post(now - timedelta(days=1), "Library hours change for the holidays.")
    page.add_comment(other, now - timedelta(hours=20), "Thanks for the notice!", ("5005", "Eve Fox"))
    with graph_account(workspace, page, account_id=page.page_id, page_size=25) as server:
        assert workspace.cli("harvest").code == 0
        page.delete_comment(deleted.id)
        assert workspace.cli("harvest").code == 0
        case = MainStreetCase(workspace, server, page, post.id, deleted.id, hidden.id, reply.id, pii.id, other.id)
        opened = workspace.cli("request", "new", case.case, "--requester", "R. Reporter, Springfield Ledger",
                               "--received", "2026-03-01", "--due", "2026-03-15")
        assert opened.code == 0, opened.err
        added = workspace.cli("request", "add", case.case, '"Main Street"')
        assert added.code == 0, added.err
        yield case
