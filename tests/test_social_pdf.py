"""The PDF "in context" for Threads, Mastodon, Bluesky and LinkedIn threads: the author with their
handle, replies nested under what they answer, hidden and deleted replies marked."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pypdf import PdfReader

from archiver.exports.package.pdf import PdfPart
from conftest import Workspace
from connectors.bluesky.fakeappview import FakeBluesky
from connectors.graph.fakeserver import FakeGraphServer
from connectors.linkedin.fakeapi import FakeLinkedIn
from connectors.mastodon.fakeinstance import FakeMastodon
from connectors.threads.fakeaccount import FakeThreads
from graph_helpers import TOKEN as GRAPH_TOKEN
from part_helpers import write_parts
from social_helpers import TOKEN, TOKEN_ENV


def _pdf_text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(path).pages))


def _indent(text: str, words: str) -> int:
    """How deep the line holding ``words`` is nested in the plain-text rendering."""
    line = next(line for line in text.splitlines() if words in line)
    return (len(line) - len(line.lstrip(" "))) // 4


def test_each_platform_thread_is_rendered_with_handles_nesting_and_marks(workspace: Workspace, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    threads = FakeThreads()
    t_post = threads.add_thread(now - timedelta(days=2), "Threads: water main work on Oak Street")
    t_top = threads.add_reply(t_post, now - timedelta(days=1, hours=5), "threads top reply", "oakneighbor")
    threads.add_reply(t_post, now - timedelta(days=1, hours=4), "threads nested answer", "cityofspringfield", t_top)
    t_hidden = threads.add_reply(t_post, now - timedelta(days=1, hours=3), "threads rude reply", "troll")
    t_hidden.hidden = True
    t_gone = threads.add_reply(t_post, now - timedelta(days=1, hours=2), "threads reply later deleted", "regret")
    masto = FakeMastodon()
    m_post = masto.post(now - timedelta(days=2), "Mastodon: leaf pickup starts Monday")
    m_top = masto.reply(m_post, now - timedelta(days=1, hours=5), "mastodon top reply", "ana@town.social")
    masto.reply(m_post, now - timedelta(days=1, hours=4), "mastodon nested answer", "cityofspringfield", m_top)
    m_gone = masto.reply(m_post, now - timedelta(days=1, hours=2), "mastodon reply later deleted", "bo@fedi.example")
    bsky = FakeBluesky()
    b_post = bsky.post(now - timedelta(days=2), "Bluesky: the library opens late on Friday")
    b_top = bsky.reply(b_post, now - timedelta(days=1, hours=5), "bluesky top reply", "reader.bsky.social")
    bsky.reply(b_post, now - timedelta(days=1, hours=4), "bluesky nested answer", "springfield.example.gov", b_top)
    b_hidden = bsky.reply(b_post, now - timedelta(days=1, hours=3), "bluesky rude reply", "troll.bsky.social")
    bsky.hide(b_hidden.uri)
    b_gone = bsky.reply(b_post, now - timedelta(days=1, hours=2), "bluesky reply later deleted", "oops.bsky.social")
    linked = FakeLinkedIn()
    l_post = linked.post(now - timedelta(days=2), "LinkedIn: we are hiring bus drivers")
    l_top = linked.comment(l_post, now - timedelta(days=1, hours=5), "linkedin top comment", "urn:li:person:m00001")
    linked.comment(l_post, now - timedelta(days=1, hours=4), "linkedin nested answer", "urn:li:person:m00002", l_top)
    l_gone = linked.comment(l_post, now - timedelta(days=1, hours=2), "linkedin comment later deleted",
                            "urn:li:person:m00003")
    masto.tokens, linked.tokens = {TOKEN}, {TOKEN}
    os.environ[TOKEN_ENV], os.environ["TEST_PAGE_TOKEN"] = TOKEN, GRAPH_TOKEN
    graph = FakeGraphServer(threads, tokens={GRAPH_TOKEN}, version="v1.0")
    with graph, masto, bsky, linked:
        workspace.accounts += [
            f'name = "city-threads"\nplatform = "threads"\nid = "{threads.user_id}"\nbase_url = "{graph.base_url}"\n'
            'token_env = "TEST_PAGE_TOKEN"',
            f'name = "city-masto"\nplatform = "mastodon"\nid = "{masto.account_id}"\nbase_url = "{masto.base_url}"\n'
            f'token_env = "{TOKEN_ENV}"',
            f'name = "city-bsky"\nplatform = "bluesky"\nid = "{bsky.did}"\nbase_url = "{bsky.base_url}"',
            f'name = "city-li"\nplatform = "linkedin"\nid = "5515715"\nbase_url = "{linked.base_url}"\n'
            f'token_env = "{TOKEN_ENV}"']
        assert workspace.cli("harvest").code == 0
        threads.delete_reply(t_gone.id)
        masto.delete(m_gone.id)
        bsky.delete(b_gone.uri)
        linked.delete_comment(l_gone.urn)
        again = workspace.cli("harvest")
        assert again.code == 0, again.err
    assert workspace.cli("request", "new", "PRR-2026-200").code == 0
    added = workspace.cli("request", "add", "PRR-2026-200", "--item", f"city-threads:{t_post.id}",
                          "--item", f"city-masto:{m_post.id}", "--item", f"city-bsky:{b_post.uri}",
                          "--item", f"city-li:{l_post.urn}")
    assert added.code == 0, added.err
    data = tmp_path / "data"
    write_parts(workspace, "PRR-2026-200", data, [PdfPart])
    texts = {path.read_text(encoding="utf-8").splitlines()[3]: path for path in (data / "text").glob("DOC*.txt")}
    expected = {"Threads post by @cityofspringfield": ("threads", "@oakneighbor", True),
                "Mastodon post by City of Springfield (@cityofspringfield)": ("mastodon", "(@ana@town.social)", False),
                "Bluesky post by City of Springfield (@springfield.example.gov)": (
                    "bluesky", "(@reader.bsky.social)", True),
                "Linkedin post by urn:li:organization:5515715": ("linkedin", "urn:li:person:m00001", False)}
    assert set(texts) == set(expected)
    for title, (name, handle, hides) in expected.items():
        text = texts[title].read_text(encoding="utf-8")
        words = _pdf_text(data / "pdf" / f"{texts[title].stem}.pdf")
        assert title in words and handle in words  # the author with their handle
        assert _indent(text, f"{name} nested answer") == _indent(text, f"{name} top") + 1  # nested under it
        assert f"{name} reply later deleted" in words or f"{name} comment later deleted" in words
        assert "[DELETED — last seen" in words
        assert ("[HIDDEN" in words and f"{name} rude reply" in words) == hides
