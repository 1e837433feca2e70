"""RFC 3161: a day's digest of the audit log and new WARCs, stamped by a local authority (openssl ts)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from tsa import LocalTSA, local_tsa  # noqa: F401 - fixture


def test_the_daily_digest_is_stamped_verified_and_kept(workspace: Workspace, feed_server: FakeFeedServer,
                                                       local_tsa: LocalTSA) -> None:  # noqa: F811
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    workspace.write(f'[timestamp]\nurl = "{local_tsa.url}"\nca_file = "{local_tsa.ca_file}"\n')
    assert workspace.cli("harvest").code == 0
    today = datetime.now(UTC).date().isoformat()
    stamped = workspace.cli("audit", "stamp", "--day", today, "--json")
    assert stamped.code == 0, stamped.err
    result = stamped.json()
    assert result["warcs"] == 1 and len(result["digest"]) == 64 and local_tsa.requests == 1
    assert workspace.cli("audit", "stamp", "--day", today).code == 0 and local_tsa.requests == 1  # once a day
    listed = workspace.cli("audit", "stamps", "--json")
    assert listed.code == 0 and listed.json()[0]["problem"] is None

    db = workspace.index()  # someone edits the day's WARC list in the index: the stamp no longer matches
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE warc_files SET sha256 = 'f00d' || substr(sha256, 5)"))
    db.dispose()
    broken = workspace.cli("audit", "stamps", "--json")
    assert broken.code == 1 and "differ from what was time-stamped" in broken.json()[0]["problem"]


def test_an_unreachable_or_wrong_authority_is_one_line(workspace: Workspace, local_tsa: LocalTSA) -> None:  # noqa: F811
    workspace.write('[timestamp]\nurl = "http://127.0.0.1:9/tsr"\n'
                    f'ca_file = "{local_tsa.ca_file}"\n')
    result = workspace.cli("audit", "stamp")
    assert result.code == 1 and "cannot reach the time-stamping authority" in result.err
    other = local_tsa.folder / "other.pem"  # a CA that did not sign the authority's certificate
    other.write_bytes((local_tsa.folder / "tsa.pem").read_bytes())
    workspace.write(f'[timestamp]\nurl = "{local_tsa.url}"\nca_file = "{other}"\n')
    result = workspace.cli("audit", "stamp")
    assert result.code == 1 and "does not verify" in result.err
    assert workspace.cli("check-config").code == 0
    workspace.write('[timestamp]\nurl = "http://127.0.0.1:9/tsr"\n')
    bad = workspace.cli("check-config")
    assert bad.code == 2 and "ca_file is required" in bad.err
