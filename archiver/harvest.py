"""One harvest: one run over one account, from the platform's API to stored, indexed WARCs.

The order is the point ("save state last"): pages are written to WARCs in the spool as they
arrive and what the parser found is staged; at the end the WARCs are sealed, stored and
verified; only then are the staged observations applied to the index; and only after that,
and only if the run covered everything, does the account's cursor advance. A crash anywhere
leaves something that start-up recovery completes.
"""

from __future__ import annotations

import json
import logging
import os
import platform as host_platform
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from archiver import __version__, audit
from archiver.capture.media import MediaCapture
from archiver.capture.redact import Redactor
from archiver.capture.retry import RetryPolicy
from archiver.capture.session import Exchange, FetchFailed, RecordingSession
from archiver.capture.spool import HarvestWarcs, month_of, new_harvest_uid, try_lock
from archiver.capture.warc import RevisitTarget
from archiver.config import AccountConfig, Config, ConfigError
from archiver.index.db import IndexDB
from archiver.index.ledger import ensure_account, evidence_row, media_archived, now, revisit_target
from archiver.index.models import Account, Harvest, StagedObservation, WarcFile
from archiver.index.recorder import insert_evidence, observation_to_json
from archiver.ingest import apply_staged, store_warc
from archiver.retention import holds
from archiver.retention.lock import LockPolicy
from connectors import registry
from connectors.base import Connector, HarvestContext, HarvestError, Page
from storage.base import Storage, StorageError

log = logging.getLogger(__name__)


class HarvestInterrupted(Exception):
    """A stop was asked for (SIGTERM, Ctrl-C): what is in flight is sealed and stored."""


@dataclass
class HarvestOutcome:
    account: str
    harvest_uid: str
    status: str  # succeeded | partial | failed | interrupted
    error: str | None = None
    pages: int = 0
    observations: int = 0
    new_versions: int = 0
    media: int = 0
    warcs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def _writable(folder: Path) -> str | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"spool folder {folder} is not writable ({exc.strerror}); fix its permissions or set [capture] spool_dir"
    return None


class HarvestRunner:
    """Runs harvests for a config, against one index and one store."""

    def __init__(
        self, config: Config, db: IndexDB, storage: Storage, *, stop: threading.Event | None = None,
        on_page: Callable[[str, Page], None] | None = None,
    ):
        self.config = config
        self.db = db
        self.storage = storage
        self.stop = stop or threading.Event()
        self.on_page = on_page

    def run(self, account: AccountConfig) -> HarvestOutcome:
        connector_class = registry[account.platform]
        redactor = Redactor(connector_class.secrets(account))
        redacted_id = redactor.url(account.id)[0]
        started = now()
        uid = new_harvest_uid(started)
        outcome = HarvestOutcome(account.name, uid, "failed")
        problem = _writable(self.config.spool_dir)
        if problem:  # before anything else: nothing could be kept
            with self.db.session() as session:
                account_row = ensure_account(session, account.name, account.platform, redacted_id)
                session.add(Harvest(uid=uid, account_id=account_row.id, started_at=started, finished_at=now(),
                                    status="failed", error=problem, cursor_before=dict(account_row.cursor or {})))
                audit.record(session, "harvest", account.name, harvest=uid, status="failed", error=problem)
            outcome.error = problem
            return outcome
        locks = self.config.spool_dir / ".locks"
        account_lock = try_lock(locks / f"account-{account.name}.lock", create=True)
        if account_lock is None:
            outcome.error = f"account {account.name} is being harvested by another process right now"
            return outcome
        harvest_lock = try_lock(locks / f"harvest-{uid}.lock", create=True)
        try:
            return self._run(account, connector_class, redactor, redacted_id, outcome, started)
        finally:
            for descriptor in (harvest_lock, account_lock):
                if descriptor is not None:
                    os.close(descriptor)
            (locks / f"harvest-{uid}.lock").unlink(missing_ok=True)

    def _run(
        self, account: AccountConfig, connector_class: type[Connector], redactor: Redactor, redacted_id: str,
        outcome: HarvestOutcome, started: datetime,
    ) -> HarvestOutcome:
        capture = self.config.capture
        with self.db.session() as session:
            account_row = ensure_account(session, account.name, account.platform, redacted_id)
            harvest = Harvest(uid=outcome.harvest_uid, account_id=account_row.id, started_at=started,
                              status="running", cursor_before=dict(account_row.cursor or {}))
            session.add(harvest)
            session.flush()
            account_id, harvest_id, cursor = account_row.id, harvest.id, dict(account_row.cursor or {})

        files: dict[str, int] = {}  # WARC name → warc_files.id
        evidence_ids: dict[str, int] = {}  # response record id → evidence.id

        def register_file(key: str, month: str) -> None:
            with self.db.session() as s:
                row = WarcFile(key=key, account_id=account_id, harvest_id=harvest_id, month=month, state="open")
                s.add(row)
                s.flush()
                files[key.rsplit("/", 1)[-1]] = row.id

        warcs = HarvestWarcs(
            self.config.spool_dir, account.platform, account.name, outcome.harvest_uid, capture.warc_max_bytes,
            self._warcinfo(account, outcome.harvest_uid, redacted_id), on_open=register_file,
        )

        def record_exchange(exchange: Exchange) -> None:
            evidence = exchange.evidence
            with self.db.session() as s:
                [evidence_id] = insert_evidence(
                    s, [evidence_row(files[evidence.warc_name], evidence, exchange.response.status)])
            evidence_ids[evidence.response.record_id] = evidence_id

        session_http = RecordingSession(warcs.writer_for, redactor, user_agent=capture.user_agent,
                                        timeout=capture.timeout_seconds, on_exchange=record_exchange)
        month = month_of(started)

        def revisit(payload_sha256: str) -> RevisitTarget | None:
            with self.db.session() as s:
                return revisit_target(s, account_id, month, payload_sha256)

        def archived(url: str) -> bool:
            with self.db.session() as s:
                return media_archived(s, account_id, url)

        media = MediaCapture(session_http, max_bytes=capture.media_max_bytes, already_archived=archived,
                             revisit=revisit)
        connector = connector_class()
        retry = RetryPolicy(capture.retries, capture.retry_backoff_seconds)
        context = HarvestContext(account, session_http, capture, cursor, retry, connector_class.options(account))
        error: str | None = None
        try:
            for page in connector.harvest(context):
                self._stage(harvest_id, evidence_ids[page.exchange.evidence.response.record_id], page)
                outcome.pages += 1
                outcome.observations += len(page.observations)
                if capture.media:
                    media.fetch(url for observation in page.observations for url in observation.media_urls)
                if self.on_page is not None:
                    self.on_page(account.name, page)
                if self.stop.is_set():
                    raise HarvestInterrupted
        except (HarvestError, FetchFailed, ConfigError) as exc:
            error = str(exc)
        except (HarvestInterrupted, KeyboardInterrupt):
            error, outcome.status = "interrupted by a stop request; what was captured is kept", "interrupted"
        except OSError as exc:
            error = f"cannot write to the spool: {exc}"
        finally:
            session_http.close()
        outcome.media = media.fetched
        if warcs.current is not None:
            summary = {"event": "harvest-summary", "harvest": outcome.harvest_uid, "account": account.name,
                       "platform": account.platform, "complete": context.complete and error is None,
                       "cursor": context.next_cursor, "pages": outcome.pages, "error": error,
                       "notes": context.notes + media.failed[:50]}
            warcs.current.write_metadata(f"urn:archiver:harvest:{outcome.harvest_uid}",
                                         json.dumps(summary, default=str).encode())
        sealed = warcs.seal_all()
        outcome.warcs = [s.key for s in sealed]
        for warc in sealed:
            try:
                store_warc(self.db, self.storage, warc, LockPolicy(self.config))
            except StorageError as exc:
                # Sealed and safe in the spool: the next start uploads and indexes it.
                problem = (f"{exc} — the WARCs stay in the spool ({self.config.spool_dir}) "
                           "and are stored on the next start")
                return self._finish(harvest_id, account_id, outcome, problem, None, keep_running=True)
        outcome.new_versions = apply_staged(self.db, harvest_id, account_id)
        self._holds()
        for warc in sealed:
            warc.path.unlink(missing_ok=True)
        complete = context.complete and error is None
        return self._finish(harvest_id, account_id, outcome, error, context.next_cursor if complete else None)

    def _stage(self, harvest_id: int, evidence_id: int, page: Page) -> None:
        if not page.observations:
            return
        with self.db.session() as session:
            session.execute(
                insert(StagedObservation),
                [{"harvest_id": harvest_id, "evidence_id": evidence_id, "observation": observation_to_json(o)}
                 for o in page.observations],
            )

    def _holds(self) -> None:
        try:  # new captures matching an active legal hold join it; their WARCs get the store's hold
            holds.after_harvest(self.db, self.storage)
        except Exception:  # the data is stored and indexed; plans and the daemon refresh holds again
            log.exception("refreshing legal holds after the harvest failed; they are refreshed again later")

    def _finish(
        self, harvest_id: int, account_id: int, outcome: HarvestOutcome, error: str | None,
        cursor: dict[str, Any] | None, keep_running: bool = False,
    ) -> HarvestOutcome:
        if outcome.status != "interrupted":
            outcome.status = "succeeded" if error is None and cursor is not None else "failed"
            if error is None and cursor is None:
                outcome.status, error = "partial", "the listing was not covered completely; cursor not advanced"
        outcome.error = error
        with self.db.session() as session:
            harvest = session.get(Harvest, harvest_id)
            assert harvest is not None
            harvest.status = "running" if keep_running else outcome.status
            harvest.error, harvest.finished_at = error, None if keep_running else now()
            harvest.pages, harvest.observations = outcome.pages, outcome.observations
            harvest.new_versions, harvest.complete = outcome.new_versions, cursor is not None
            harvest.cursor_after = cursor
            audit.record(session, "harvest", outcome.account, harvest=outcome.harvest_uid, status=harvest.status,
                         pages=outcome.pages, observations=outcome.observations, new_versions=outcome.new_versions,
                         warcs=outcome.warcs, error=error)
            if cursor is not None:  # the last write of a harvest: data is durable, so move on
                account = session.get(Account, account_id)
                assert account is not None
                account.cursor = cursor
        if keep_running:
            outcome.status = "failed"
        return outcome

    def _warcinfo(self, account: AccountConfig, uid: str, redacted_id: str) -> dict[str, str]:
        return {
            "software": f"gov-social-archiver/{__version__} (warcio/{package_version('warcio')}; "
                        f"Python {host_platform.python_version()})",
            "format": "WARC File Format 1.1",
            "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": socket.gethostname(),
            "archiver-agency": self.config.archiver.agency,
            "archiver-harvest": uid,
            "archiver-account": account.name,
            "archiver-platform": account.platform,
            "archiver-account-id": redacted_id,
            "archiver-config-digest": self.config.digest,
        }
