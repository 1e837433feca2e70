"""Single sign-on end to end: the app on a real socket, a local OpenID Connect provider on another
(tests/fake_oidc.py), and a ``requests`` session as the browser, following every redirect from the
app to the provider and back, while the app fetches discovery, keys and tokens from the provider.

Shown: sign-in through the provider, the role claim mapped (and re-mapped at the next sign-in),
a person with no mapped role refused, a wrong issuer, audience, nonce, an expired ID token, one
signed by a key the provider does not publish, a discovery document naming another issuer and a
wrong client secret all refused, sign-out (the old cookie is dead), and no secret in any log line
or audit entry.
"""

from __future__ import annotations

import doctest
import json
import logging
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import select

import fake_oidc
import wsgi_server
from archiver.audit import AuditEntry
from archiver.index.db import IndexDB
from archiver.web import users
from archiver.web.app import Archive, create_app
from conftest import Workspace
from fake_oidc import FAULTS, FakeProvider
from storage import open_storage
from wsgi_server import serving

SECRET_ENV = "ARCHIVER_TEST_OIDC_SECRET"
ROLES = """
[auth.oidc.roles]
"records-team" = "records_manager"
"legal-team" = "legal"
"staff" = "read_only"
"""


@dataclass
class Site:
    base: str
    provider: FakeProvider
    db: IndexDB
    secret: str

    def browser(self) -> requests.Session:
        return requests.Session()

    def sign_in(self, browser: requests.Session, person: dict[str, Any] | None, next_page: str = "/search") -> Any:
        """Press "Sign in with your agency account" and follow the redirects through the provider."""
        self.provider.person = person
        return browser.get(f"{self.base}/login/sso", params={"next": next_page}, timeout=20)

    def user(self, username: str) -> users.WebUser | None:
        with self.db.session() as session:
            found = users.find_user(session, username)
            if found is not None:
                session.expunge(found)
            return found

    def audit(self) -> list[AuditEntry]:
        with self.db.session() as session:
            entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
            session.expunge_all()
            return entries


@contextmanager
def site(workspace: Workspace, monkeypatch: pytest.MonkeyPatch, app_secret: str | None = None) -> Iterator[Site]:
    secret = "oidc-client-" + secrets.token_hex(12)
    with FakeProvider({"archive": secret}) as provider:
        monkeypatch.setenv(SECRET_ENV, app_secret or secret)
        workspace.account("citynews", "https://example.org/feed.xml")
        workspace.write(f'[web]\nsecure_cookies = false\n\n[auth.oidc]\nissuer = "{provider.issuer}"\n'
                        f'client_id = "archive"\nclient_secret_env = "{SECRET_ENV}"\n{ROLES}')
        config = workspace.config
        db = workspace.index()
        try:
            with serving(create_app(Archive(config, db, open_storage(config)))) as base:
                provider.redirect_uris["archive"] = [f"{base}/login/sso/callback"]
                yield Site(base, provider, db, secret)
        finally:
            db.dispose()


def signed_in(answer: Any, site: Site, page: str = "/search") -> bool:
    return answer.status_code == 200 and answer.url == site.base + page and "Sign out" in answer.text


def refused(site: Site, browser: requests.Session) -> bool:
    """No session: a page sends the browser to the sign-in page."""
    answer = browser.get(site.base + "/search", allow_redirects=False, timeout=10)
    return answer.status_code == 302 and "/login" in answer.headers["Location"]


ANA = {"email": "ana.ortiz@city.gov", "name": "Ana Ortiz", "groups": ["staff", "records-team"]}


def test_sign_in_through_the_provider_with_the_role_its_claim_maps_to(workspace: Workspace,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with site(workspace, monkeypatch) as s:
        browser = s.browser()
        answer = s.sign_in(browser, ANA)
        assert signed_in(answer, s), (answer.status_code, answer.url)
        hops = [r.url.split("?")[0] for r in answer.history]
        assert hops == [f"{s.base}/login/sso", f"{s.provider.issuer}/authorize", f"{s.base}/login/sso/callback"]
        assert ("POST", "/token") in s.provider.requests and ("GET", "/jwks") in s.provider.requests
        ana = s.user("ana.ortiz@city.gov")
        assert ana is not None and ana.role == "records_manager" and ana.source == "oidc"  # the stronger of two
        assert browser.get(s.base + "/retention", timeout=10).status_code == 200  # a records manager's page
        assert browser.get(s.base + "/admin/users", timeout=10).status_code == 403  # not an admin's
        login = [e for e in s.audit() if e.action == "login"]
        assert login[-1].actor == "ana.ortiz@city.gov" and login[-1].details["method"] == "oidc"
        assert browser.get(s.base + "/search", params={"q": "budget"}, timeout=10).status_code == 200
        searched = s.audit()[-1]
        assert searched.action == "search" and searched.actor == "ana.ortiz@city.gov"  # her name, not the server's

        # Moved to the legal team: the next sign-in gives the new role.
        browser.post(s.base + "/logout", data={"csrf_token": csrf(browser, s)}, timeout=10)
        again = s.sign_in(s.browser(), {**ANA, "groups": ["staff", "legal-team"]})
        assert signed_in(again, s)
        ana = s.user("ana.ortiz@city.gov")
        assert ana is not None and ana.role == "legal"


def test_a_person_whose_claims_map_to_no_role_is_refused(workspace: Workspace,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with site(workspace, monkeypatch) as s:
        browser = s.browser()
        answer = s.sign_in(browser, {"email": "sam@contractor.example", "groups": ["contractors"]})
        assert answer.status_code == 403 and "may not use the archive" in answer.text
        assert refused(s, browser) and s.user("sam@contractor.example") is None
        refusal = [e for e in s.audit() if e.action == "login.refused"][-1]
        assert refusal.target == "sam@contractor.example" and "no role" in refusal.details["reason"]
        # One who refuses at the provider comes back unsigned-in too.
        declined = s.sign_in(browser, None)
        assert declined.status_code == 401 and refused(s, browser)


@pytest.mark.parametrize("fault", FAULTS)
def test_an_id_token_that_does_not_check_out_is_refused(fault: str, workspace: Workspace,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another audience, another issuer, another nonce, expired, an unpublished key, a discovery
    document naming another issuer than configured: no session, an audit entry saying so."""
    with site(workspace, monkeypatch) as s:
        s.provider.fault = fault
        browser = s.browser()
        answer = s.sign_in(browser, ANA)
        assert answer.status_code == 401 and "did not complete" in answer.text, (answer.status_code, answer.url)
        assert refused(s, browser) and s.user("ana.ortiz@city.gov") is None
        assert [e for e in s.audit() if e.action == "login.refused"]
        assert not [e for e in s.audit() if e.action == "login"]


def test_a_wrong_client_secret_is_refused_by_the_provider(workspace: Workspace,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with site(workspace, monkeypatch, app_secret="not-the-registered-secret") as s:
        browser = s.browser()
        answer = s.sign_in(browser, ANA)
        assert answer.status_code == 401 and refused(s, browser)


def csrf(browser: requests.Session, s: Site) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(s.base + "/", timeout=10).text)
    assert found, "no CSRF token on the dashboard"
    return found.group(1)


def test_sign_out_ends_the_session_and_the_next_sign_in_goes_through_the_provider(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    with site(workspace, monkeypatch) as s:
        browser = s.browser()
        assert signed_in(s.sign_in(browser, ANA), s)
        cookie = browser.cookies.get("archiver_session")
        out = browser.post(s.base + "/logout", data={"csrf_token": csrf(browser, s)}, timeout=10)
        assert out.url == s.base + "/login" and "signed out" in out.text
        assert refused(s, browser)
        replayed = s.browser()
        replayed.cookies.set("archiver_session", cookie)
        assert refused(s, replayed)  # the old cookie names a session that has ended
        authorizations = s.provider.requests.count(("GET", "/authorize"))
        assert signed_in(s.sign_in(browser, ANA), s)
        assert s.provider.requests.count(("GET", "/authorize")) == authorizations + 1
        assert [e.action for e in s.audit() if e.action in ("login", "logout")] == ["login", "logout", "login"]


def test_no_secret_reaches_a_log_or_the_audit_trail(workspace: Workspace, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: the app's, Authlib's, requests', waitress'
    with site(workspace, monkeypatch) as s:
        assert signed_in(s.sign_in(s.browser(), ANA), s)
        s.provider.fault = "nonce"
        s.sign_in(s.browser(), ANA)
        audit = json.dumps([[e.actor, e.target, e.details] for e in s.audit()])
    printed = capfd.readouterr()
    # The server's and the provider's log lines; not the test's own browser (its HTTP client logs
    # the URLs it follows, in this thread, as a browser's history would hold them).
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                       if not (r.threadName == threading.main_thread().name and r.name.startswith("urllib3")))
    assert "POST /token" in logged  # the app's own calls to the provider are among them
    secrets_seen = [s.secret, *s.provider.issued]
    assert len(secrets_seen) >= 5  # the client secret; two codes, an access token and an ID token each
    for secret in secrets_seen:
        assert secret not in logged and secret not in printed.out and secret not in printed.err
        assert secret not in audit


def test_the_fake_provider_and_server_examples_run() -> None:
    assert doctest.testmod(fake_oidc).failed == 0 and doctest.testmod(wsgi_server).failed == 0
