"""The web app in Debian's Chromium (Playwright), as clerks, lawyers and records managers use it.

Sign in, search, open an item with a deleted and a hidden comment, replay its archived response
(pywb), open a case, add what a search finds, build the package, download the bag, draft a plan
as one records manager, be refused approval as a clerk, approve it as another records manager.
Every page is checked with axe-core (from the npm registry, installed by the fixture) for serious
or critical violations, and screenshotted into test-artifacts/screenshots/ for review.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Workspace
from web_helpers import PASSWORD, web_case

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = Path(tempfile.gettempdir()) / "archiver-test-axe"


@pytest.fixture(scope="session")
def axe_source() -> str:
    script = AXE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install axe-core for the accessibility checks (apt-get install npm)"
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(AXE), "axe-core@4"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    return script.read_text(encoding="utf-8")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def served(workspace: Workspace) -> Iterator[tuple[str, Any]]:
    from waitress.server import create_server

    from archiver.web.app import create_app
    from archiver.web.dispatch import Dispatch

    with web_case(workspace, replay=True) as web:
        server = create_server(Dispatch({}, create_app(web.archive)), host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.effective_port}", web  # type: ignore[union-attr]
        finally:
            server.close()
            thread.join(timeout=10)


class Visit:
    """Screenshots and axe checks of every page the test walks through."""

    def __init__(self, page: Any, axe: str):
        self.page, self.axe, self.count = page, axe, 0
        SHOTS.mkdir(parents=True, exist_ok=True)

    def check(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(SHOTS / f"{self.count:02d}-{name}.png"), full_page=True)
        self.page.evaluate(self.axe)  # evaluated through the DevTools protocol: the page's CSP stays on
        found = self.page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))""")
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: {bad}"


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_clerk_and_records_managers_in_chromium(browser: Any, served: tuple[str, Any], axe_source: str,
                                                tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base, _ = served
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    visit = Visit(page, axe_source)
    page.goto(base + "/search?q=Main")
    assert page.url.startswith(base + "/login")  # no page without signing in
    visit.check("sign-in")
    sign_in(page, base, "cleo")
    visit.check("dashboard")
    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label("Words").fill('"Main Street"')
    page.get_by_label("Words").press("Enter")
    assert page.locator("mark").first.inner_text() == "Main Street"
    visit.check("search")
    page.get_by_role("link", name="post by City of Springfield").first.click()
    expect(page.get_by_text("This Main Street plan is a waste of money")).to_be_visible()  # waits for the page
    assert page.locator(".node.state-deleted .badge").inner_text() == "deleted"
    assert page.locator(".node.state-hidden .badge").inner_text() == "hidden"
    visit.check("item")
    page.get_by_role("link", name="Replay the archived response").first.click()
    frame = page.frame_locator("iframe.replay")
    assert "Main Street project" in frame.locator("body").inner_text(timeout=90_000)
    visit.check("replay")
    page.get_by_role("link", name="Requests and matters").click()
    page.get_by_label("Name").fill("PRR-2026-300")
    page.get_by_label("Requester").fill("R. Reporter")
    page.get_by_role("button", name="Open the case").click()
    visit.check("case-new")
    page.goto(base + '/search?q="Main+Street"')
    page.get_by_label("Case", exact=True).select_option("PRR-2026-300")
    page.get_by_role("button", name="Add all").click()
    assert "added to PRR-2026-300" in page.locator(".flashes").inner_text()
    visit.check("case")
    page.get_by_label("csv").check()
    page.get_by_label("pdf").check()
    page.get_by_role("button", name="Build the package").click()
    visit.check("package-progress")
    page.reload()  # the job lives on the server, not in the page
    download_link = page.get_by_role("link", name="Download the bag")
    download_link.wait_for(timeout=120_000)
    visit.check("package-done")
    with page.expect_download() as waiting:
        download_link.click()
    bag = tmp_path / "bag.zip"
    waiting.value.save_as(bag)
    with zipfile.ZipFile(bag) as archive:
        names = archive.namelist()
    assert any(n.endswith("/bagit.txt") for n in names) and any(n.endswith("/certificate.txt") for n in names)
    page.goto(base + "/cases/PRR-2026-300/review")
    visit.check("release-review")
    page.get_by_role("link", name="Legal holds").click()
    visit.check("holds")
    sign_out(page)

    sign_in(page, base, "rita")
    page.get_by_role("link", name="Retention").click()
    page.get_by_role("button", name="Draft the plan").click()
    assert "drafted" in page.locator(".flashes").inner_text()
    plan_url = page.url  # read once the plan's page has loaded
    assert page.get_by_role("button", name="Approve this plan for disposition").count() == 0  # not the drafter
    visit.check("plan")
    sign_out(page)

    sign_in(page, base, "cleo")
    page.goto(plan_url)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(plan_url + "/approve", form={"csrf_token": token})
    assert refused.status == 403  # a clerk may not approve disposition
    sign_out(page)

    sign_in(page, base, "remy")
    page.goto(plan_url)
    page.get_by_role("button", name="Approve this plan for disposition").click()
    assert "approved" in page.locator(".flashes").inner_text()
    assert "by remy" in page.locator("dl.facts").inner_text()
    page.get_by_role("link", name="Audit trail").click()
    visit.check("audit")
    sign_out(page)

    sign_in(page, base, "ada")
    page.get_by_role("link", name="Users").click()
    visit.check("users")
    context.close()
