"""The parser fuzz harness: every recorded payload of every connector, mutated (``mutations.py``),
through its parser and on into a real ``VersionRecorder`` on SQLite.

A case crashes when ``parse`` raises anything but ``Malformed`` (a malformed container: the
record is quarantined by design), or when what it returned (through ``connectors.base.checked``,
as a harvest and reindex take it) cannot be hashed, serialized, staged, read back or recorded,
or breaks a records rule (a problem observation with content, or marked deleted; a deletion
from a payload that had none). Parsers run under ``untrusted.strict()`` so a
defect is never hidden as a problem observation.

Samples: ``tests/fixtures/<platform>/urls.json`` for every platform in ``connectors.registry``
(see ARCHITECTURE.md, "Fuzzing"), and the fakes' own payloads: the fake Graph API and feeds
harvested through the real recording session, the response records taken back out of the WARCs.
Used by ``bench/fuzz.py`` (at least 10,000 cases) and ``tests/test_fuzz.py`` (a few hundred).
"""

from __future__ import annotations

import json
import random
import re
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from warcio.archiveiterator import ArchiveIterator

import connectors.untrusted as untrusted
from archiver.capture.body import DEFAULT_BODY_MAX_BYTES
from archiver.capture.session import LOOKUP_HEADER
from archiver.index.db import IndexDB, open_index
from archiver.index.ledger import ensure_account
from archiver.index.models import WarcFile
from archiver.index.recorder import (
    Observed,
    VersionRecorder,
    insert_evidence,
    observation_from_json,
    observation_to_json,
)
from archiver.reindex import _payload as record_payload
from conftest import FIXTURES, Workspace
from connectors import registry
from connectors.base import CapturedResponse, Headers, Malformed, Observation, VersionState, checked
from connectors.bluesky.fakeappview import FakeBluesky
from connectors.facebook.fakepage import FakePage
from connectors.instagram.fakeaccount import FakeInstagram
from connectors.linkedin.fakeapi import FakeLinkedIn
from connectors.mastodon.fakeinstance import FakeMastodon
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from connectors.threads.fakeaccount import FakeThreads
from graph_helpers import graph_account
from mutations import mutate
from social_helpers import social_account

CAPTURED = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    platform: str
    name: str
    url: str
    body: bytes
    status: int = 200
    lookup: str | None = None
    content_type: str = "application/json"

    @property
    def xml(self) -> bool:
        return any(word in self.content_type for word in ("xml", "rss", "atom"))

    def response(self, body: bytes) -> CapturedResponse:
        return CapturedResponse(self.url, self.status, Headers([("Content-Type", self.content_type)]), body,
                                CAPTURED, lookup=self.lookup)


def recorded_samples(fixtures: Path = FIXTURES) -> list[Sample]:
    """The samples every connector brings: ``urls.json`` maps a file to the URL it answers."""
    found = []
    for platform in registry:
        urls = fixtures / platform / "urls.json"
        if not urls.exists():
            continue
        for name, entry in json.loads(urls.read_text()).items():
            entry = {"url": entry} if isinstance(entry, str) else entry
            kind = "application/atom+xml" if name.endswith(".xml") else "application/json"
            found.append(Sample(platform, name, entry["url"], (fixtures / platform / name).read_bytes(),
                                entry.get("status", 200), entry.get("lookup"), entry.get("content_type", kind)))
    return found


def unfuzzed(fixtures: Path = FIXTURES) -> list[str]:
    """Connectors that bring no ``urls.json`` (yet)."""
    return [platform for platform in registry if not (fixtures / platform / "urls.json").exists()]


def fake_samples(root: Path, per_shape: int = 3) -> list[Sample]:
    """The fakes' own payloads: every fake harvested twice (deletions and a token without the
    MODERATE task in between), the response records read back from the stored WARCs. A new
    connector's fake joins here."""
    root.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(root)
    page, account = FakePage.synthetic(posts=5, comments=40, seed=3), FakeInstagram.synthetic(5, 20, seed=3)
    threads = FakeThreads.synthetic(threads=5, replies=20, seed=3)
    mastodon, bluesky = FakeMastodon.synthetic(statuses=6, replies=20, seed=3), FakeBluesky.synthetic(6, 20, seed=3)
    linkedin = FakeLinkedIn.synthetic(posts=5, comments=20, seed=3)
    with ExitStack() as running:
        feeds = running.enter_context(FakeFeedServer())
        news = feeds.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=12, page_size=5))
        feeds.add_feed("/feeds/notices.rss", FakeFeed.synthetic(entries=6, kind="rss", seed=2))
        workspace.account("news", feeds.url("/feeds/news.atom"))
        workspace.account("notices", feeds.url("/feeds/notices.rss"))
        running.enter_context(graph_account(workspace, page, account_id=page.page_id, page_size=10))
        running.enter_context(graph_account(workspace, account, platform="instagram", account_id=account.user_id,
                                            name="city-ig", page_size=10))
        running.enter_context(graph_account(workspace, threads, platform="threads", account_id=threads.user_id,
                                            name="city-threads", version="v1.0", page_size=10))
        for fake, platform, handle, options in ((mastodon, "mastodon", "@cityofspringfield@mastodon.example", {}),
                                                (bluesky, "bluesky", bluesky.did, {"token": None}),
                                                (linkedin, "linkedin", "5515715", {})):
            running.enter_context(fake)
            running.enter_context(social_account(workspace, platform, handle, fake.base_url, f"city-{platform}",
                                                 **options))
        workspace.cli("harvest")
        page.delete_post(page.posts[1].id)
        account.delete_comment(next(c for m in account.media for c in m.comments).id)
        news.remove(0)
        page.moderator = False
        workspace.cli("harvest")
    shapes: dict[tuple[str, str], int] = {}
    found = []
    for sample in _from_warcs(workspace):
        shape = (sample.platform, re.sub(r"\d+", "N", sample.url.split("?")[0]) + str(sample.lookup is not None))
        shapes[shape] = shapes.get(shape, 0) + 1
        if shapes[shape] <= per_shape:
            found.append(sample)
    return found


def _from_warcs(workspace: Workspace) -> Iterator[Sample]:
    for path in workspace.stored_warcs():
        platform = path.relative_to(workspace.root / "data" / "warcs").parts[0]
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, check_digests=False):
                if record.rec_type not in ("response", "resource"):
                    continue
                headers = record.rec_headers
                if record.rec_type == "resource":
                    status, kind, body = 200, headers.get_header("Content-Type") or "", record.raw_stream.read()
                else:
                    status = int(record.http_headers.get_statuscode())
                    kind = record.http_headers.get_header("Content-Type") or ""
                    body = record_payload(record, DEFAULT_BODY_MAX_BYTES)[1] or b""
                sample = Sample(platform, f"{path.name}#{headers.get_header('WARC-Record-ID')}",
                                headers.get_header("WARC-Target-URI"), body, status,
                                headers.get_header(LOOKUP_HEADER), kind)
                if sample.response(body).parseable:
                    yield sample


class Recorder:
    """A real index on SQLite taking what parsers return, as a harvest stages and applies it."""

    def __init__(self, root: Path):
        self.db: IndexDB = open_index(f"sqlite:///{root / 'fuzz.sqlite'}")
        # A scratch index: no fsync per transaction (the archiver's own stays synchronous=FULL).
        event.listen(self.db.engine, "connect", lambda connection, _: connection.execute("PRAGMA synchronous=OFF"))
        self.db.engine.dispose()
        self.accounts: dict[str, tuple[int, int]] = {}  # platform → (account id, WARC file id)
        self.records = 0

    def _account(self, platform: str) -> tuple[int, int]:
        if platform not in self.accounts:
            with self.db.session() as session:
                account = ensure_account(session, f"fuzz-{platform}", platform, "fuzz")
                warc = WarcFile(key=f"{platform}/fuzz/2026/06/fuzz.warc.gz", account_id=account.id, month="2026/06",
                                state="stored")
                session.add(warc)
                session.flush()
                self.accounts[platform] = (account.id, warc.id)
        return self.accounts[platform]

    def record(self, platform: str, observations: list[Observation], keep: bool = False) -> None:
        """Stage (JSON round trip) and apply, in one transaction kept only for baselines."""
        account_id, warc_id = self._account(platform)
        self.records += 1
        session = self.db.sessions()
        try:
            [evidence] = insert_evidence(session, [{
                "warc_file_id": warc_id, "record_id": f"<urn:fuzz:{self.records}>", "record_type": "response",
                "offset": self.records, "length": 1, "target_uri": "urn:fuzz", "status": 200,
                "captured_at": CAPTURED, "payload_sha256": None, "payload_digest": None, "block_digest": "",
                "request_record_id": None, "request_offset": None, "request_length": None}])
            staged = [observation_from_json(json.loads(json.dumps(observation_to_json(o), allow_nan=False)))
                      for o in observations]
            VersionRecorder(session, account_id).apply([Observed(o, evidence, CAPTURED) for o in staged])
            session.flush()
            if keep:
                session.commit()
        finally:
            session.rollback()
            session.close()


def _validate(observation: Observation, deletions_expected: bool) -> None:
    o = observation
    assert isinstance(o.platform_id, str) and (o.platform_id or o.problem), "no platform id"
    assert isinstance(o.kind, str) and 0 < len(o.kind) <= 16, f"kind {o.kind!r}"
    assert isinstance(o.content, Mapping) and isinstance(o.text, str) and isinstance(o.metrics, Mapping)
    assert all(v is None or isinstance(v, str) for v in (o.url, o.author, o.parent_id, o.problem))
    assert o.posted_at is None or (isinstance(o.posted_at, datetime) and o.posted_at.utcoffset() is not None)
    assert isinstance(o.media_urls, tuple) and all(isinstance(u, str) for u in o.media_urls)
    assert not o.problem or (o.content == {} and o.state is not VersionState.DELETED), "problem kept as content"
    assert deletions_expected or o.state is not VersionState.DELETED, "a deletion the payload does not state"
    encoded = json.dumps(observation_to_json(o), allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert observation_from_json(json.loads(encoded)).content_hash() == o.content_hash()


@dataclass
class Crash:
    sample: str
    case: str
    mutations: list[str]
    error: str
    body: bytes


@dataclass
class Report:
    cases: int = 0
    quarantined: int = 0  # parse raised Malformed: the record is quarantined, by design
    observations: int = 0
    problems: int = 0
    seconds: float = 0.0
    samples: dict[str, int] = field(default_factory=dict)
    crashes: list[Crash] = field(default_factory=list)


def run(samples: list[Sample], cases: int, seed: int, recorder: Recorder) -> Report:
    report = Report(samples={p: sum(s.platform == p for s in samples) for p in sorted({s.platform for s in samples})})
    clock = time.perf_counter()
    deletes: dict[str, bool] = {}
    for sample in samples:  # the unmutated parse, kept: mutated cases then meet items the index knows
        with untrusted.strict():
            found = checked(registry[sample.platform].parse(sample.response(sample.body)))
        deletes[sample.name] = any(o.state is VersionState.DELETED for o in found)
        recorder.record(sample.platform, found, keep=True)
    for case in range(cases):
        sample = samples[case % len(samples)]
        rng = random.Random(f"{seed}:{case}")
        body, applied = mutate(sample.body, rng, sample.xml)
        report.cases += 1
        try:
            with untrusted.strict():  # what a harvest and reindex take from a parser (connectors.base.checked)
                observations = checked(registry[sample.platform].parse(sample.response(body)))
            for observation in observations:
                _validate(observation, deletes[sample.name])
            recorder.record(sample.platform, observations)
        except Malformed:
            report.quarantined += 1
            continue
        except Exception:
            report.crashes.append(Crash(f"{sample.platform}/{sample.name}", f"{seed}:{case}", applied,
                                        traceback.format_exc(), body))
            continue
        report.observations += len(observations)
        report.problems += sum(o.problem is not None for o in observations)
    report.seconds = time.perf_counter() - clock
    return report
