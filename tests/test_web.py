"""The web app through Flask's client: sign-in, roles, CSRF, sessions, and the records work itself.

Everything is real: the Main Street case harvested from the fake Graph server, SQLite, the
local store, the export job runner's thread. The browser tests (test_web_browser.py) drive
the same app in Chromium.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from archiver import audit
from archiver.alerts.monitor import AlertMonitor
from archiver.governor import budget_spec
from archiver.quota import Budget
from archiver.retention.models import RetentionPlan
from archiver.web.app import Archive, create_app
from archiver.web.models import WebSession
from conftest import Workspace
from web_helpers import PASSWORD, WebCase, csrf, signed_in, web_case

PAGES = ["/", "/search?q=Main", "/cases", "/cases/PRR-2026-114", "/cases/PRR-2026-114/review", "/holds",
         "/retention", "/audit", "/admin/users", "/items/city-fb:{post}"]
FORMS = ["/cases", "/cases/add", "/cases/PRR-2026-114/items", "/cases/PRR-2026-114/exports",
         "/cases/PRR-2026-114/review", "/holds", "/holds/1/release", "/retention", "/retention/P1/approve",
         "/admin/users", "/logout"]


@pytest.fixture
def web(workspace: Workspace) -> Any:
    with web_case(workspace) as case:
        yield case


def entries(web: WebCase, action: str) -> list[audit.AuditEntry]:
    with web.db.session() as session:
        return list(session.scalars(select(audit.AuditEntry).where(audit.AuditEntry.action == action)))


def test_every_page_refuses_anonymous_requests_and_forged_forms(web: WebCase) -> None:
    client = web.client()
    for path in PAGES:
        answer = client.get(path.format(post=web.case.post_id))
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path
    for path in FORMS:
        assert client.post(path, data={"name": "X"}).status_code in (400, 401), path
    signed_in(client, "cleo")
    before = client.get("/cases").get_data(as_text=True)
    for path in FORMS:  # signed in, but no CSRF token: refused, nothing done
        answer = client.post(path, data={"name": "FORGED-1", "kind": "request", "action": "add"})
        assert answer.status_code == 400 and "security token" in answer.get_data(as_text=True), path
    assert "FORGED-1" not in client.get("/cases").get_data(as_text=True) and "PRR-2026-114" in before


def test_roles_clerk_cannot_approve_or_add_users_and_read_only_cannot_export(web: WebCase) -> None:
    drafter = signed_in(web.client(), "rita")
    page = drafter.get("/retention").get_data(as_text=True)
    drafted = drafter.post("/retention", data={"csrf_token": csrf(page)})
    uid = drafted.headers["Location"].rsplit("/", 1)[-1]
    assert "Approve this plan" not in drafter.get(f"/retention/{uid}").get_data(as_text=True)
    drafter.post(f"/retention/{uid}/approve", data={"csrf_token": csrf(page)})  # the drafter cannot approve
    clerk = signed_in(web.client(), "cleo")
    token = csrf(clerk.get("/cases").get_data(as_text=True))
    assert clerk.post(f"/retention/{uid}/approve", data={"csrf_token": token}).status_code == 403
    assert clerk.post("/admin/users", data={"csrf_token": token, "action": "add", "username": "mallory",
                                            "role": "admin", "password": "x" * 20}).status_code == 403
    assert clerk.get("/admin/users").status_code == 403
    with web.db.session() as session:
        assert session.scalar(select(RetentionPlan.state).where(RetentionPlan.uid == uid)) == "proposed"
    approver = signed_in(web.client(), "remy")
    approver.post(f"/retention/{uid}/approve", data={"csrf_token": csrf(approver.get(f"/retention/{uid}")
                                                                        .get_data(as_text=True))})
    with web.db.session() as session:
        plan = session.scalar(select(RetentionPlan).where(RetentionPlan.uid == uid))
        assert plan.state == "approved" and plan.approved_by == "remy" and plan.created_by == "rita"
    reader = signed_in(web.client(), "otto")
    token = csrf(reader.get("/search").get_data(as_text=True))
    assert reader.post("/cases/PRR-2026-114/exports", data={"csrf_token": token}).status_code == 403
    assert reader.get("/cases/PRR-2026-114").status_code == 403
    refused = [(e.actor, e.details["needs"]) for e in entries(web, "web.refused")]
    assert ("cleo", "retention") in refused and ("cleo", "users") in refused and ("otto", "cases") in refused


def test_passwords_never_logged_lockout_and_session_expiry(web: WebCase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = web.client()
    for _ in range(5):
        token = csrf(client.get("/login").get_data(as_text=True))
        assert client.post("/login", data={"username": "cleo", "password": "wrong-" + PASSWORD,
                                           "csrf_token": token}).status_code == 401
    token = csrf(client.get("/login").get_data(as_text=True))
    locked = client.post("/login", data={"username": "cleo", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 401  # locked for 15 minutes, even with the right password
    signed_in(client, "otto")
    with web.db.session() as session:
        rows = [json.dumps(audit.as_dict(e)) for e in session.scalars(select(audit.AuditEntry))]
    index = Path(web.archive.config.database_url.removeprefix("sqlite:///"))
    for haystack in (caplog.text, "\n".join(rows)):
        assert PASSWORD not in haystack
    assert PASSWORD.encode() not in index.read_bytes()
    reasons = [e.details["reason"] for e in entries(web, "login.refused")]
    assert reasons.count("wrong password") == 4 and "locked after repeated failures" in reasons
    assert client.get("/").status_code == 200
    with web.db.session() as session:  # idle for longer than [web] session_idle
        session.execute(update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=1)))
    assert client.get("/").status_code == 302
    signed_in(client, "otto")
    with web.db.session() as session:  # signed in longer ago than [web] session_absolute
        session.execute(update(WebSession).where(WebSession.ended_at.is_(None))
                        .values(created_at=datetime.now(UTC) - timedelta(days=1)))
    assert client.get("/").status_code == 302


def test_search_item_and_native_record_audited_under_the_person(web: WebCase) -> None:
    client = signed_in(web.client(), "otto")
    page = client.get("/search?q=Main+Street").get_data(as_text=True)
    assert "<mark>Main</mark> <mark>Street</mark>" in page and "found" in page
    assert 'deleted <span class="count">1</span>' in page and 'hidden <span class="count">1</span>' in page
    post = f"city-fb:{web.case.post_id}"
    item = client.get(f"/items/{post}").get_data(as_text=True)
    assert "This Main Street plan is a waste of money" in item and "Main Street contractor is a crook" in item
    assert 'badge state-deleted">deleted' in item and 'badge state-hidden">hidden' in item
    record = re.search(r'/records/([^"]+)/native', item).group(1)  # type: ignore[union-attr]
    native = client.get(f"/records/{record}/native")
    assert native.status_code == 200 and "attachment" in native.headers["Content-Disposition"]
    assert native.data.startswith(b"{") and len(native.headers["X-Record-SHA256"]) == 64
    image = item.split('<img src="')[1].split('"')[0]
    media = client.get(image)
    assert media.status_code == 200 and media.mimetype.startswith("image/")
    viewed = [(e.actor, e.target) for e in entries(web, "item.viewed")]
    searched = [(e.actor, e.details["query"]) for e in entries(web, "search")]
    assert ("otto", post) in viewed and ("otto", {"text": "Main Street", "limit": 50, "offset": 0}) in searched
    assert [e.actor for e in entries(web, "record.downloaded")] == ["otto"]


def _wait_done(client: Any, uid: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        page = client.get(f"/exports/{uid}").get_data(as_text=True)
        if "Download the bag" in page or "could not be built" in page:
            return page
        assert time.monotonic() < deadline, page
        time.sleep(0.2)


def test_case_built_reviewed_released_and_downloaded(web: WebCase) -> None:
    clerk = signed_in(web.client(), "cleo")
    token = csrf(clerk.get("/cases").get_data(as_text=True))
    opened = clerk.post("/cases", data={"csrf_token": token, "name": "PRR-2026-200", "kind": "request",
                                        "requester": "A. Resident", "received": "2026-03-02", "due": "2026-03-20"})
    assert opened.status_code == 302
    clerk.post("/cases/add", data={"csrf_token": token, "case": "PRR-2026-200", "q": '"Main Street"'})
    pii, deleted = f"city-fb:{web.case.pii_id}", f"city-fb:{web.case.deleted_id}"
    review = clerk.get("/cases/PRR-2026-200/review").get_data(as_text=True)
    assert "(555) 867-5309" in review and "jane.resident@example.org" in review
    decide = {"csrf_token": token}
    clerk.post("/cases/PRR-2026-200/review", data=decide | {"action": "undo", "item": pii, "rule": "phone",
                                                            "words": "(555) 867-5309", "reason": "public line"})
    clerk.post("/cases/PRR-2026-200/review", data=decide | {"action": "add", "item": pii, "words": "driveway",
                                                            "reason": "identifies the home"})
    clerk.post("/cases/PRR-2026-200/review", data=decide | {"action": "withhold", "item": deleted,
                                                            "citation": "RCW 42.56.250(1)", "reason": "test"})
    job = clerk.post("/cases/PRR-2026-200/exports", data=decide | {"redact": "yes", "part": ["csv", "jsonl"]})
    uid = job.headers["Location"].rsplit("/", 1)[-1]
    assert "Download the bag" in _wait_done(clerk, uid)
    bag = clerk.get(f"/exports/{uid}/download")
    assert bag.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bag.data)) as archive:
        names = archive.namelist()
        read = {Path(n).name: archive.read(n).decode() for n in names if n.endswith((".csv", ".txt"))}
    assert "bagit.txt" in read and "RCW 42.56.250(1)" in read["withholding-log.csv"]
    assert web.case.deleted_id not in read["items.csv"] and web.case.pii_id in read["items.csv"]
    assert "(555) 867-5309" in read["items.csv"] and "jane.resident@example.org" not in read["items.csv"]
    assert "[REDACTED: clerk]" in read["items.csv"] and "driveway" not in read["items.csv"].split("Dee Evans")[-1]
    assert "undo" in read["redaction-decisions.csv"]
    actions = {e.action: e.actor for e in entries(web, "case.exported") + entries(web, "case.downloaded")
               + entries(web, "release.withheld") + entries(web, "release.redaction_undone")}
    assert actions == {"case.exported": "cleo", "case.downloaded": "cleo", "release.withheld": "cleo",
                       "release.redaction_undone": "cleo"}


def test_dashboard_shows_open_alerts_and_metered_budgets(web: WebCase, workspace: Workspace) -> None:
    # A YouTube channel on a metered key beside the Page, 1,234 of the key's 10,000 units spent today,
    # and the daemon's alert check finding the store unreachable.
    workspace.config_path.write_text(workspace.config_path.read_text() + '\n[[accounts]]\nname = "city-yt"\n'
                                     'platform = "youtube"\nid = "UCaaaaaaaaaaaaaaaaaaaaaa"\n'
                                     'api_key_env = "CITY_YT_KEY"\nschedule = "6h"\n')
    config = workspace.config
    spec, _ = budget_spec(config, config.accounts[-1])
    assert spec is not None
    budget = Budget(web.db, spec)
    assert budget.charge(1234)
    budget.release()
    AlertMonitor(config, web.db, lambda: "cannot reach the S3 endpoint http://127.0.0.1:9 (connection refused)").check()
    app = create_app(Archive(config, web.db, web.archive.storage, web.archive.jobs))
    app.testing = True
    page = signed_in(app.test_client(), "otto").get("/").get_data(as_text=True)
    alerts = page.split('id="alerts"')[1].split("</section>")[0]
    assert "storage unreachable" in alerts and "connection refused" in alerts and "archiver verify --sample 1" in alerts
    quota = page.split('id="quota"')[1].split("</section>")[0]
    assert "youtube:CITY_YT_KEY" in quota and "1,234 of 10,000 units" in quota and "city-yt" in quota
    # Once the store answers again, the next check clears it and the dashboard says so.
    AlertMonitor(config, web.db, lambda: None).check()
    page = signed_in(app.test_client(), "otto").get("/").get_data(as_text=True)
    assert "None open." in page.split('id="alerts"')[1].split("</section>")[0]
