"""Taking in a webhook delivery: archived at once, then acted on through the normal harvest path.

Before Meta gets its ``200``, the delivery's body (as received, known secrets masked) is written
as a WARC ``resource`` record with target URI ``urn:archiver:webhook:meta:<sha256 of the body>``
in a WARC of its own for the account (with ``warcinfo`` and a harvest summary marked
``targeted``), sealed, stored and indexed from its own bytes, exactly as ``reindex`` would. If
storage is down, the sealed file waits in the spool and start-up recovery stores it. Then a
worker re-fetches the objects the delivery names with ``HarvestRunner.run(account, targets=…)``:
a normal harvest that only looks those objects up, moves no cursor and claims no coverage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from pathlib import Path

from archiver import audit
from archiver.capture.redact import Redactor
from archiver.capture.session import REDACTED_HEADER
from archiver.capture.spool import HarvestWarcs, new_harvest_uid, try_lock
from archiver.capture.warc import warc_date
from archiver.config import AccountConfig, Config
from archiver.harvest import HarvestOutcome, HarvestRunner
from archiver.index.db import IndexDB
from archiver.index.ledger import now
from archiver.reindex import WarcIndexer
from archiver.retention.lock import LockPolicy
from archiver.webhooks.meta import Routed
from connectors import registry
from connectors.graph.objects import WEBHOOK_PREFIX
from storage.base import Storage, StorageError

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 2.0
BUSY_RETRIES = 150  # five minutes of a scheduled harvest holding the account


class WebhookIntake:
    def __init__(self, config: Config, db: IndexDB, storage: Storage):
        self.config, self.db, self.storage = config, db, storage
        self.runner = HarvestRunner(config, db, storage)
        self.refetches: queue.Queue[tuple[str, tuple[str, ...], int]] = queue.Queue()
        self.outcomes: list[HarvestOutcome] = []  # re-fetches done, newest last
        self._write = threading.Lock()
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

    def accept(self, body: bytes, routed: list[Routed], remote: str) -> list[str]:
        """Archive the delivery for each account it concerns; queue the re-fetches. Returns WARC keys."""
        keys = [self._archive(r.account, body, remote, r.targets) for r in routed]
        for r in routed:
            if r.targets:
                self.refetches.put((r.account.name, r.targets, 0))
        return keys

    def _archive(self, account: AccountConfig, body: bytes, remote: str, targets: tuple[str, ...]) -> str:
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
                headers = {"WARC-Date": warc_date(started),
                           "WARC-Archiver-Webhook": f"Meta delivery, X-Hub-Signature-256 verified; from {remote}"}
                if hits:
                    headers[REDACTED_HEADER] = f"body({hits})"
                writer.write_resource(WEBHOOK_PREFIX + hashlib.sha256(body).hexdigest(), data, "application/json",
                                      headers)
                summary = {"event": "harvest-summary", "harvest": uid, "account": account.name,
                           "platform": account.platform, "complete": False, "cursor": None, "pages": 1,
                           "error": None, "cause": None,
                           "coverage": {"targeted": ["webhook delivery"], "notes": [f"re-fetch: {', '.join(targets)}"]}}
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
