"""Taking in a webhook delivery: archived at once, then acted on through the normal harvest path.

Before Meta gets its ``200``, the delivery's body (as received, known secrets masked) is written
as a WARC ``resource`` record with target URI ``urn:archiver:webhook:meta:<sha256 of the body>``
(a YouTube WebSub push: ``urn:archiver:webhook:websub:…``, see ``DeliverySource``)
in a WARC of its own for the account (with ``warcinfo`` and a harvest summary marked
``targeted``), sealed, stored and indexed from its own bytes, exactly as ``reindex`` would. If
storage is down, the sealed file waits in the spool and start-up recovery stores it. Then a
worker re-fetches the objects the delivery names with ``HarvestRunner.run(account, targets=…)``:
a normal harvest that only looks those objects up, moves no cursor and claims no coverage.
A delivery already archived for the account (same body SHA-256) is a replay: answered, not
stored again, not re-fetched again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from archiver import audit
from archiver.capture.redact import Redactor
from archiver.capture.session import REDACTED_HEADER
from archiver.capture.spool import HarvestWarcs, new_harvest_uid, try_lock
from archiver.capture.warc import warc_date
from archiver.config import AccountConfig, Config
from archiver.harvest import HarvestOutcome, HarvestRunner
from archiver.index.db import IndexDB
from archiver.index.ledger import now
from archiver.index.models import Account, Evidence, WarcFile
from archiver.reindex import WarcIndexer
from archiver.retention.lock import LockPolicy
from archiver.webhooks.meta import Routed
from connectors import registry
from connectors.bluesky.parser import JETSTREAM_PREFIX
from connectors.graph.objects import WEBHOOK_PREFIX
from storage.base import Storage, StorageError

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 2.0
BUSY_RETRIES = 150  # five minutes of a scheduled harvest holding the account


@dataclass(frozen=True)
class DeliverySource:
    """Who pushed a delivery, as its archived record says: target URI prefix, type, and a note."""

    prefix: str  # the record's target URI is this + the SHA-256 of the body (replays are found by it)
    content_type: str
    note: str  # the WARC-Archiver-Webhook header; "{remote}" becomes the sender's address


META = DeliverySource(WEBHOOK_PREFIX, "application/json", "Meta delivery, X-Hub-Signature-256 verified; from {remote}")


class WebhookIntake:
    def __init__(self, config: Config, db: IndexDB, storage: Storage):
        self.config, self.db, self.storage = config, db, storage
        self.runner = HarvestRunner(config, db, storage)
        self.refetches: queue.Queue[tuple[str, tuple[str, ...], int]] = queue.Queue()
        self.outcomes: list[HarvestOutcome] = []  # re-fetches done, newest last
        self._write = threading.Lock()
        self._deciding = threading.Lock()
        self._known: set[tuple[str, str]] = set()  # (account, body SHA-256) archived by this process
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> WebhookIntake:
        self._worker = threading.Thread(target=self._work, name="webhook-refetch", daemon=True)
        self._worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(30)

    def accept(self, body: bytes, routed: list[Routed], remote: str, source: DeliverySource = META) -> list[str]:
        """Archive the delivery for each account it concerns; queue the re-fetches. Returns WARC keys.

        Meta repeats a delivery it thinks was missed, and anyone holding a signed body can replay
        it: a delivery (by the SHA-256 of its body) already archived for an account is neither
        stored nor acted on again, however many copies arrive at once.
        """
        uri = source.prefix + hashlib.sha256(body).hexdigest()
        with self._deciding:  # one copy at a time decides "new or replay", then archives
            fresh = [r for r in routed if not self._archived(r.account.name, uri)]
            keys = [self._archive(r.account, body, r.targets, uri, source.note.format(remote=remote),
                                  source.content_type) for r in fresh]
            self._known.update((r.account.name, uri) for r in fresh)
        for r in fresh:
            if r.targets:
                self.refetches.put((r.account.name, r.targets, 0))
        if len(fresh) < len(routed):
            log.info("a replay of webhook delivery %s from %s (already archived for %s); not stored again",
                     uri, remote, ", ".join(r.account.name for r in routed if r not in fresh))
        return keys

    def _archived(self, account: str, uri: str) -> bool:
        """Whether this delivery is in the index for ``account`` or was taken in by this process."""
        if (account, uri) in self._known:
            return True
        with self.db.session() as session:
            found = session.scalar(
                select(Evidence.id).join(WarcFile, WarcFile.id == Evidence.warc_file_id)
                .join(Account, Account.id == WarcFile.account_id)
                .where(Evidence.target_uri == uri, Account.name == account).limit(1))
        if found is not None:
            self._known.add((account, uri))
        return found is not None

    def record(self, account: AccountConfig, body: bytes, uri: str, note: str) -> str:
        """Archive a pushed event from another source (a Jetstream event) the same way; no re-fetch."""
        return self._archive(account, body, (), uri, note)

    def _archive(self, account: AccountConfig, body: bytes, targets: tuple[str, ...], uri: str, note: str,
                 content_type: str = "application/json") -> str:
        connector = registry[account.platform]
        redactor = Redactor(connector.secrets(account))
        redacted_id = redactor.url(account.id)[0]
        started = now()
        uid = new_harvest_uid(started)
        locks = self.config.spool_dir / ".locks"
        lock = try_lock(locks / f"harvest-{uid}.lock", create=True)  # keeps recovery off a file being written
        try:
            with self._write:
                warcs = HarvestWarcs(self.config.spool_dir, account.platform, account.name, uid,
                                     self.config.capture.warc_max_bytes,
                                     self.runner.warcinfo(account, uid, redacted_id))
                writer = warcs.writer_for(started)
                data, hits = redactor.body(body)
                headers = {"WARC-Date": warc_date(started), "WARC-Archiver-Webhook": note}
                if hits:
                    headers[REDACTED_HEADER] = f"body({hits})"
                writer.write_resource(uri, data, content_type, headers)
                summary = {"event": "harvest-summary", "harvest": uid, "account": account.name,
                           "platform": account.platform, "complete": False, "cursor": None, "pages": 1,
                           "error": None, "cause": None,
                           "coverage": {"targeted": ["pushed event" if uri.startswith(JETSTREAM_PREFIX)
                                                     else "webhook delivery"],
                                        "notes": [f"re-fetch: {', '.join(targets)}"]}}
                writer.write_metadata(f"urn:archiver:harvest:{uid}", json.dumps(summary).encode())
                [sealed] = warcs.seal_all()
                self._store(account, sealed.key, sealed.path, sealed.size, sealed.sha256)
            with self.db.session() as session:
                audit.record(session, "webhook.received", account.name, harvest=uid, warc=sealed.key,
                             bytes=len(body), refetch=list(targets))
            return sealed.key
        finally:
            if lock is not None:
                os.close(lock)
            (locks / f"harvest-{uid}.lock").unlink(missing_ok=True)

    def _store(self, account: AccountConfig, key: str, path: Path, size: int, sha256: str) -> None:
        try:
            with self.db.session() as session:
                until = LockPolicy(self.config).for_account_file(session, account.name)
            self.storage.put(key, path, sha256, retain_until=until)
        except StorageError as exc:
            log.warning("webhook delivery for %s kept in the spool until storage is back: %s", account.name, exc)
            return
        with path.open("rb") as stream:
            WarcIndexer(self.db).index(key, stream, size=size, sha256=sha256)
        path.unlink()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                name, targets, tries = self.refetches.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                outcome = self.runner.run(self.config.account(name), targets=targets)
            except Exception:  # one bad delivery must not stop the receiver
                log.exception("re-fetch for a webhook on %s failed", name)
                continue
            if outcome.error and "being harvested" in outcome.error and tries < BUSY_RETRIES:
                time.sleep(BUSY_RETRY_SECONDS)  # a scheduled harvest holds the account: try again shortly
                self.refetches.put((name, targets, tries + 1))
                continue
            self.outcomes.append(outcome)
            if outcome.error:
                log.warning("re-fetch for a webhook on %s: %s", name, outcome.error)
            else:
                log.info("re-fetched %s for %s: %d new version(s)", ", ".join(targets), name, outcome.new_versions)
