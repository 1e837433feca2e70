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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Protocol

from archiver import __version__, audit, summary
from archiver.capture.media import MediaCapture
from archiver.capture.redact import Redactor
from archiver.capture.response import CapturedResponse
from archiver.capture.retry import RetryPolicy
from archiver.capture.session import Exchange, FetchFailed, RecordingSession, ResponseTooLarge
from archiver.capture.spool import HarvestWarcs, month_of, new_harvest_uid, try_lock
from archiver.config import AccountConfig, Config, ConfigError
from archiver.governor import Governors, spent
from archiver.index.db import IndexDB
from archiver.index.ledger import ensure_account, now
from archiver.index.models import Account, Harvest
from archiver.quarantine import ParseNotes
from archiver.retention import holds
from archiver.retention.lock import LockPolicy
from archiver.segments import SegmentIngest
from archiver.staging import HarvestStaging
from archiver.units import parse_duration
from connectors import registry
from connectors.base import Connector, HarvestContext, HarvestError, HarvestStopped, Page, describe_failure
from storage.base import Storage, fsync_dir

log = logging.getLogger(__name__)
FULL_SWEEP_KEY = "full_sweep_at"  # in the account's cursor: when the whole history was last re-listed
PENDING_LOOKUPS_KEY = "pending_lookups"  # in the cursor: suspects whose lookup got no answer yet
LISTED_AT_KEY = "listed_at"  # in the cursor: when the last harvest that really listed the account began


class HarvestObserver(Protocol):
    """Told of every archived exchange and every wait on a rate limit (the daemon's metrics)."""

    def exchange(self, account: AccountConfig, response: CapturedResponse, quota_used: float | None) -> None: ...

    def waited(self, account: AccountConfig, seconds: float) -> None: ...


HarvestInterrupted = HarvestStopped  # a stop request, seen between pages or during a wait


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
        on_page: Callable[[str, Page], None] | None = None, observer: HarvestObserver | None = None,
        governors: Governors | None = None,
    ):
        self.config = config
        self.db = db
        self.storage = storage
        self.stop = stop or threading.Event()
        self.on_page = on_page
        self.observer = observer
        self.governors = governors or Governors(db)  # one per credential, shared by the harvests

    def run(self, account: AccountConfig, targets: tuple[str, ...] = ()) -> HarvestOutcome:
        """Harvest ``account``; with ``targets``, only re-fetch those objects (a webhook said they changed)."""
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
                                    status="failed", error=problem, cause="spool",
                                    cursor_before=dict(account_row.cursor or {})))
                audit.record(session, "harvest", account.name, harvest=uid, status="failed", error=problem)
            outcome.error = problem
            return outcome
        locks = self.config.spool_dir / ".locks"
        account_lock = try_lock(locks / f"account-{account.name}.lock", create=True)
        if account_lock is None:
            outcome.error = f"account {account.name} is being harvested by another process right now"
            return outcome
        harvest_lock = try_lock(locks / f"harvest-{uid}.lock", create=True)
        fsync_dir(locks)  # the lock file is how recovery finds this harvest if the process dies
        try:
            return self._run(account, connector_class, redactor, redacted_id, outcome, started, targets)
        finally:
            for descriptor in (harvest_lock, account_lock):
                if descriptor is not None:
                    os.close(descriptor)
            (locks / f"harvest-{uid}.lock").unlink(missing_ok=True)

    def _run(
        self, account: AccountConfig, connector_class: type[Connector], redactor: Redactor, redacted_id: str,
        outcome: HarvestOutcome, started: datetime, targets: tuple[str, ...] = (),
    ) -> HarvestOutcome:
        capture = self.config.capture
        with self.db.session() as session:
            account_row = ensure_account(session, account.name, account.platform, redacted_id)
            harvest = Harvest(uid=outcome.harvest_uid, account_id=account_row.id, started_at=started,
                              status="running", cursor_before=dict(account_row.cursor or {}))
            session.add(harvest)
            session.flush()
            account_id, harvest_id, cursor = account_row.id, harvest.id, dict(account_row.cursor or {})

        staging = HarvestStaging(self.db, account_id, harvest_id, month_of(started), capture.warc_max_items)
        memory = self.db.dialect == "sqlite" and self.db.engine.url.database in (None, "", ":memory:")
        ingest = SegmentIngest(self.db, self.storage, LockPolicy(self.config), account.name, account_id, harvest_id,
                               threaded=not memory)  # (an in-memory SQLite index is one per thread)
        warcs = HarvestWarcs(
            self.config.spool_dir, account.platform, account.name, outcome.harvest_uid, capture.warc_max_bytes,
            self.warcinfo(account, outcome.harvest_uid, redacted_id), on_open=staging.open_segment,
            on_close=lambda path: ingest.submit(staging.close_segment(), path), full=staging.full,
        )
        try:
            return self._capture(account, connector_class, redactor, outcome, started, targets, staging, warcs,
                                 ingest, (account_id, harvest_id, cursor))
        finally:
            ingest.abandon()  # after an unexpected error: what was handed over is finished, the rest waits in the spool
            staging.close()

    def _capture(
        self, account: AccountConfig, connector_class: type[Connector], redactor: Redactor, outcome: HarvestOutcome,
        started: datetime, targets: tuple[str, ...], staging: HarvestStaging, warcs: HarvestWarcs,
        ingest: SegmentIngest, ids: tuple[int, int, dict[str, Any]],
    ) -> HarvestOutcome:
        capture = self.config.capture
        account_id, harvest_id, cursor = ids
        session_http = RecordingSession(warcs.writer_for, redactor, user_agent=capture.user_agent,
                                        timeout=capture.timeout_seconds,
                                        on_exchange=self._observed(account, connector_class, staging.record_exchange),
                                        body_max_bytes=capture.body_max_bytes, spool_dir=self.config.spool_dir)
        media = MediaCapture(session_http, max_bytes=capture.media_max_bytes, already_archived=staging.archived,
                             revisit=staging.revisit)
        connector = connector_class()
        context = self._context(account, connector_class, session_http, cursor, started)
        context.targets, context.descendants = targets, staging.descendants
        context.recorded = staging.latest_contents
        context.on_wait = lambda reason, until: self._waiting(account_id, account, reason, until)
        governor = self.governors.attach(self.config, account, context)
        if targets:
            context.full_sweep = False
        error, cause = None, None
        unreadable = ParseNotes()
        try:
            for page in self._pages(connector, context, staging):
                staging.stage(page)
                unreadable.add(page)
                outcome.pages += 1
                outcome.observations += len(page.observations)
                if capture.media:
                    media.fetch(url for observation in page.observations for url in observation.media_urls)
                if self.on_page is not None:
                    self.on_page(account.name, page)
                if self.stop.is_set():
                    raise HarvestInterrupted
        except HarvestError as exc:
            error, cause = str(exc), exc.cause
        except ResponseTooLarge as exc:
            error, cause = str(exc), "size"
        except FetchFailed as exc:
            error, cause = str(exc), "outage"
        except ConfigError as exc:
            error, cause = str(exc), "config"
        except (HarvestInterrupted, KeyboardInterrupt):
            error, cause = "interrupted by a stop request; what was captured is kept", "stopped"
            outcome.status = "interrupted"
        except OSError as exc:
            error, cause = f"cannot write to the spool: {exc}", "spool"
        except Exception as exc:  # a connector defect ends this harvest only, never the daemon or other accounts
            log.exception("%s: the %s connector failed", account.name, account.platform)
            error = (f"the {account.platform} connector failed ({describe_failure(exc)}); what was captured is "
                     "kept in the WARC")
            cause = "parser"
        finally:
            session_http.close()
            if context.budget is not None:
                context.budget.release()
            context.notes += unreadable.summary()
        outcome.media = media.fetched
        complete = context.complete and error is None and not targets
        cursor_after = self._cursor_after(context, started) if complete else None
        coverage = {"listed_since": context.listed_since.isoformat() if context.listed_since else None,
                    "window_exceeded": list(context.window_exceeded) if context.window_exceeded else None,
                    "full_sweep": context.full_sweep,
                    "notes": context.notes + media.failed[:50] + media.truncated[:50]}
        if (used := spent(governor, context.budget)) is not None:
            coverage["budget"] = used  # what this run cost its credential (archiver/runplan.py projects from it)
        if targets:  # a re-fetch of a few objects covers nothing and moves no cursor
            coverage["targeted"] = list(targets)
        # The outcome goes into the WARC first; the index records the same (see archiver/summary.py).
        status, error, cause = summary.outcome(error, cause, complete, bool(targets), outcome.status == "interrupted")
        finished_at = now()
        if warcs.current is not None:
            record = {"event": "harvest-summary", "harvest": outcome.harvest_uid, "account": account.name,
                      "platform": account.platform, "status": status, "complete": complete, "cursor": cursor_after,
                      "pages": outcome.pages, "observations": outcome.observations, "error": error, "cause": cause,
                      "coverage": coverage, "finished_at": finished_at.isoformat()}
            warcs.current.write_metadata(f"urn:archiver:harvest:{outcome.harvest_uid}",
                                         json.dumps(record, default=str).encode())
        warcs.close()  # the last file goes to the ingest like every other
        figures = ingest.finish()  # every file stored and indexed, in order (archiver/segments.py)
        outcome.warcs, outcome.new_versions = figures.keys, figures.new_versions
        if figures.storage_error is not None:
            # Sealed and safe in the spool: the next start uploads and indexes it (recovery),
            # and the harvest says so meanwhile instead of looking as if it still ran.
            problem = (f"{figures.storage_error} — the WARCs stay in the spool ({self.config.spool_dir}) "
                       "and are stored on the next start")
            ended = "interrupted" if status == "interrupted" else "failed"
            return self._finish(harvest_id, account_id, outcome, (ended, problem, "storage"), None,
                                coverage, now())
        self._holds()
        return self._finish(harvest_id, account_id, outcome, (status, error, cause), cursor_after, coverage,
                            finished_at)

    def _observed(self, account: AccountConfig, connector_class: type[Connector],
                  record: Callable[[Exchange], None]) -> Callable[[Exchange], None]:
        """The session's exchange callback: the staging's, and the observer's when there is one."""
        observer = self.observer
        if observer is None:
            return record

        def both(exchange: Exchange) -> None:
            record(exchange)
            observer.exchange(account, exchange.response, connector_class.quota_used(exchange.response.headers))
        return both

    def _waiting(self, account_id: int, account: AccountConfig, reason: str, until: datetime) -> None:
        """A harvest waiting on the platform (throttled) says why and until when, in the log and the index."""
        name = account.name
        if self.observer is not None:
            self.observer.waited(account, (until - now()).total_seconds())
        log.warning("%s: waiting until %s: %s", name, until.isoformat(timespec="seconds"), reason)
        with self.db.session() as session:
            account = session.get(Account, account_id)
            if account is not None and account.status != "disconnected":
                account.status = "waiting"
                account.status_reason = f"until {until.isoformat(timespec='seconds')}: {reason}"

    def _context(self, account: AccountConfig, connector_class: type[Connector], session: RecordingSession,
                 cursor: dict[str, Any], started: datetime) -> HarvestContext:
        capture = self.config.capture
        window = parse_duration(account.recheck_window) if account.recheck_window else \
            connector_class.default_recheck_window
        every = parse_duration(account.full_sweep_every) if account.full_sweep_every else \
            connector_class.default_full_sweep
        last_sweep = cursor.get(FULL_SWEEP_KEY)
        due = last_sweep is None or datetime.fromisoformat(last_sweep) + every <= started
        context = HarvestContext(account, session, capture, cursor, RetryPolicy(), connector_class.options(account),
                                 recheck_window=window, full_sweep=due, stop=self.stop)
        context.retry = RetryPolicy(capture.retries, capture.retry_backoff_seconds, sleep=context.pause)
        return context

    @staticmethod
    def _pages(connector: Connector, context: HarvestContext, staging: HarvestStaging) -> Iterator[Page]:
        """The listing, then direct lookups of what a complete listing should have shown and did not."""
        yield from connector.harvest(context)
        if context.complete and context.listed_since is not None:
            pending = set(context.cursor.get(PENDING_LOOKUPS_KEY, []))
            listed_at = context.cursor.get(LISTED_AT_KEY)
            previous = datetime.fromisoformat(listed_at) if listed_at else None
            suspects = staging.suspects(connector.lookup_kinds, context.listed_since, previous, pending,
                                        connector.worth_lookup)
            if suspects:
                context.notes.append(f"looked up {len(suspects)} item(s) missing from the listing")
                yield from connector.confirm(context, suspects)

    @staticmethod
    def _cursor_after(context: HarvestContext, started: datetime) -> dict[str, Any]:
        cursor = dict(context.next_cursor)
        swept_at = started.isoformat() if context.full_sweep else context.cursor.get(FULL_SWEEP_KEY)
        if swept_at:
            cursor[FULL_SWEEP_KEY] = swept_at
        if context.unresolved:
            cursor[PENDING_LOOKUPS_KEY] = sorted(set(context.unresolved))
        listed_at = started.isoformat() if context.listed_since is not None else context.cursor.get(LISTED_AT_KEY)
        if listed_at:
            cursor[LISTED_AT_KEY] = listed_at
        return cursor

    def _holds(self) -> None:
        try:  # new captures matching an active legal hold join it; their WARCs get the store's hold
            holds.after_harvest(self.db, self.storage)
        except Exception:  # the data is stored and indexed; plans and the daemon refresh holds again
            log.exception("refreshing legal holds after the harvest failed; they are refreshed again later")

    def _finish(
        self, harvest_id: int, account_id: int, outcome: HarvestOutcome, ended: tuple[str, str | None, str | None],
        cursor: dict[str, Any] | None, coverage: dict[str, Any] | None, finished_at: datetime | None,
    ) -> HarvestOutcome:
        """Record how the harvest ended: ``ended`` is (status, error, cause). One that could not store
        its WARCs ends "failed" (cause "storage"); recovery, once it has stored them, concludes it
        from its summary record (archiver/summary.py)."""
        status, error, cause = ended
        outcome.status, outcome.error = status, error
        with self.db.session() as session:
            harvest = session.get(Harvest, harvest_id)
            assert harvest is not None
            harvest.status, harvest.error, harvest.finished_at = status, error, finished_at
            harvest.pages, harvest.observations = outcome.pages, outcome.observations
            harvest.new_versions, harvest.complete = outcome.new_versions, cursor is not None
            harvest.cursor_after = cursor
            harvest.cause, harvest.coverage = cause, coverage
            audit.record(session, "harvest", outcome.account, harvest=outcome.harvest_uid, status=harvest.status,
                         pages=outcome.pages, observations=outcome.observations, new_versions=outcome.new_versions,
                         warcs=outcome.warcs, error=error)
            account = session.get(Account, account_id)
            assert account is not None
            if cursor is not None:  # the last write of a harvest: data is durable, so move on
                account.cursor = cursor
            self._account_status(account, cause, error, cursor is not None)
        return outcome

    @staticmethod
    def _account_status(account: Account, cause: str | None, error: str | None, complete: bool) -> None:
        """A revoked or expired credential disconnects the account until a harvest succeeds again."""
        if cause == "token":
            account.status, account.status_reason = "disconnected", error
        elif cause == "quota" and not complete:  # a budget or quota stop: waits for the reset
            account.status, account.status_reason = "waiting", error
        elif complete or (account.status == "waiting" and cause != "token"):
            account.status, account.status_reason = "active", None

    def warcinfo(self, account: AccountConfig, uid: str, redacted_id: str) -> dict[str, str]:
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
