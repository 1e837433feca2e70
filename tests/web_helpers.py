"""The web app over the Main Street case (tests/case_helpers.py), with one person per role.

``signed_in(client, user)`` signs in through the real form with its CSRF token, as a browser does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from archiver.exports.jobs import JobRunner
from archiver.index.db import IndexDB
from archiver.web import users
from archiver.web.app import Archive, create_app
from archiver.web.replay import ReplayService
from case_helpers import MainStreetCase, main_street_case
from conftest import Workspace
from storage import open_storage

PASSWORD = "correct horse battery staple"
PEOPLE = {"ada": "admin", "rita": "records_manager", "remy": "records_manager", "lee": "legal", "cleo": "clerk",
          "otto": "read_only"}
RETENTION = """
[web]
secure_cookies = false

[[retention.series]]
code = "SM-1"
title = "Social media posts and comments"
authority = "GS 2026-01"
keep = "1d"
trigger = "posted"
"""


@dataclass
class WebCase:
    case: MainStreetCase
    archive: Archive
    db: IndexDB

    def client(self) -> Any:
        app = create_app(self.archive)
        app.testing = True
        return app.test_client()


@contextmanager
def web_case(workspace: Workspace, replay: bool = False) -> Iterator[WebCase]:
    with main_street_case(workspace) as case:
        pass
    text = workspace.config_path.read_text()
    workspace.config_path.write_text(text.replace('platform = "facebook"', 'platform = "facebook"\nretention = "SM-1"')
                                     + RETENTION)
    config = workspace.config
    db = workspace.index()
    with db.session() as session:
        for name, role in PEOPLE.items():
            users.add_user(session, name, role, PASSWORD, "test", display_name=name.capitalize())
    storage = open_storage(config)
    jobs = JobRunner(config, db, storage).start()
    service = ReplayService(config.data_dir / "web" / "replay", storage) if replay else None
    try:
        yield WebCase(case, Archive(config, db, storage, jobs, service), db)
    finally:
        jobs.stop()
        if service is not None:
            service.stop()
        db.dispose()


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def signed_in(client: Any, username: str, password: str = PASSWORD) -> Any:
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client
