"""The conditions an operator is alerted about: one small function per kind, over the index and the store.

A check takes a ``Probe`` (the config, the index, the store's state, the time) and yields a
``Condition`` for each instance it finds; its absence on a later check is the all-clear. To add
a kind, write a function and register it::

    @kind("spool-full", "spool past its size", example=("spool", "the spool holds 12 GB (limit 10 GB)"))
    def spool_full(probe: Probe) -> Iterator[Condition]:
        ...
        yield Condition("spool-full", str(folder), cause, f"du -sh {folder}")

Each condition names its subject (an account, a storage key), the cause in words, since when
it holds (as far as the index knows; else when it was first seen) and the command that shows more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.config import Config
from archiver.index.db import IndexDB
from archiver.index.models import Account, Harvest, WarcFile
from archiver.retention.fixity import RECORDS_SCOPE

RECENT_HARVESTS = 50  # per account, newest first: enough to see a streak of failures
HOLD_GRACE = timedelta(minutes=15)  # the daemon sets the store's legal holds within minutes of a harvest
FULL_FIXITY_SCOPES = ("all", "scheduled all")
OWN_CAUSES = ("token", "permission", "quota")  # failures with a condition of their own


@dataclass(frozen=True)
class Condition:
    kind: str
    subject: str  # what it is about: an account name, a storage key, the store, the spool
    cause: str  # in words, for a person; never a secret (notices are redacted again anyway)
    command: str  # the command that shows more
    since: datetime | None = None  # when it began, if the index knows; else when first seen
    account: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.subject}"


class Probe:
    """What checks look at, with the per-account harvest history read once per check."""

    def __init__(self, config: Config, db: IndexDB, storage_problem: Callable[[], str | None], now: datetime):
        self.config, self.db, self.storage_problem, self.now = config, db, storage_problem, now
        self._harvests: dict[str, list[Harvest]] | None = None
        self._accounts: dict[str, Account] = {}

    def _load(self) -> dict[str, list[Harvest]]:
        if self._harvests is None:
            self._harvests = {}
            with self.db.session() as session:
                for account in self.config.accounts:
                    row = session.scalar(select(Account).where(Account.name == account.name))
                    if row is None:
                        continue
                    self._accounts[account.name] = row
                    recent = session.scalars(select(Harvest).where(Harvest.account_id == row.id)
                                             .order_by(Harvest.started_at.desc()).limit(RECENT_HARVESTS))
                    self._harvests[account.name] = [h for h in recent if _finished_run(h)]
        return self._harvests

    def harvests(self, account: str) -> list[Harvest]:
        """The account's finished, whole harvests, newest first (no targeted re-fetches, no stops)."""
        return self._load().get(account, [])

    def account_row(self, account: str) -> Account | None:
        self._load()
        return self._accounts.get(account)


def _finished_run(harvest: Harvest) -> bool:
    targeted = bool(harvest.coverage and harvest.coverage.get("targeted"))
    return harvest.finished_at is not None and harvest.status != "interrupted" and not targeted


def streak(harvests: list[Harvest], failed: Callable[[Harvest], bool]) -> list[Harvest]:
    """The newest harvests, up to the first that does not match ``failed``."""
    run: list[Harvest] = []
    for harvest in harvests:
        if not failed(harvest):
            break
        run.append(harvest)
    return run


Check = Callable[[Probe], Iterable[Condition]]


@dataclass(frozen=True)
class Kind:
    name: str
    title: str  # what it is, in a few words, for the alert's headline
    check: Check
    example: tuple[str, str, str]  # subject, cause and command of a made-up instance (`archiver alerts test`)
    about_account: bool = False  # the subject is an account

    def sample(self, since: datetime) -> Condition:
        subject, cause, command = self.example
        return Condition(self.name, subject, f"(a test of `archiver alerts test`; nothing is wrong) {cause}", command,
                         since, subject if self.about_account else None)


KINDS: dict[str, Kind] = {}


def kind(name: str, title: str, example: tuple[str, str, str], about_account: bool = False) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        KINDS[name] = Kind(name, title, check, example, about_account)
        return check
    return register


@kind("account-disconnected", "account disconnected",
      ("city-fb", "the token has expired (code 190/463); set a new Page token", "archiver accounts"),
      about_account=True)
def account_disconnected(probe: Probe) -> Iterator[Condition]:
    """A token expired or was revoked (the account shows ``disconnected``), or a permission was lost."""
    for account in probe.config.accounts:
        row, harvests = probe.account_row(account.name), probe.harvests(account.name)
        lost = streak(harvests, lambda h: h.status == "failed" and h.cause in ("token", "permission"))
        if row is not None and row.status == "disconnected":
            cause = row.status_reason or "the platform refused the account's credential"
        elif lost and lost[0].cause == "permission":
            cause = lost[0].error or "a permission the harvest needs was lost"
        else:
            continue
        yield Condition("account-disconnected", account.name, cause, "archiver accounts",
                        lost[-1].started_at if lost else None, account.name)


@kind("harvest-failures", "harvests keep failing",
      ("city-news", "3 harvests in a row failed; the last: the platform did not answer (timeout)",
       "archiver coverage city-news"), about_account=True)
def harvest_failures(probe: Probe) -> Iterator[Condition]:
    """``failures_before_alert`` harvests in a row failed (other than by token, permission or quota)."""
    needed = probe.config.alerts.failures_before_alert
    for account in probe.config.accounts:
        failed = streak(probe.harvests(account.name), lambda h: h.status == "failed" and h.cause not in OWN_CAUSES)
        if len(failed) >= needed:
            count = f"{len(failed)}{'+' if len(failed) == RECENT_HARVESTS else ''}"
            yield Condition("harvest-failures", account.name,
                            f"{count} harvests in a row failed; the last: {failed[0].error or failed[0].cause}",
                            f"archiver coverage {account.name}", failed[-1].started_at, account.name)


@kind("quota-stop", "harvest stopped by the platform's quota",
      ("city-fb", "(#80001) there have been too many calls; the platform asks for 3600 s more than the harvest may "
                  "wait (max_throttle_wait)", "archiver accounts"), about_account=True)
def quota_stop(probe: Probe) -> Iterator[Condition]:
    """The latest harvest gave up waiting on the platform's rate limit."""
    for account in probe.config.accounts:
        stopped = streak(probe.harvests(account.name), lambda h: h.status == "failed" and h.cause == "quota")
        if stopped:
            yield Condition("quota-stop", account.name, stopped[0].error or "throttled beyond max_throttle_wait",
                            "archiver accounts", stopped[-1].started_at, account.name)


@kind("storage-unreachable", "storage unreachable",
      ("s3://city-records/social/", "cannot reach the S3 endpoint https://s3.example.gov (EndpointConnectionError)",
       "archiver verify --sample 1"))
def storage_unreachable(probe: Probe) -> Iterator[Condition]:
    problem = probe.storage_problem()
    if problem:
        yield Condition("storage-unreachable", "storage", problem, "archiver verify --sample 1")


def spool_bytes(folder: Path) -> int:
    """Bytes of WARCs waiting in the spool (open or sealed, not yet stored)."""
    total = 0
    if folder.is_dir():
        for path in folder.rglob("*.warc.gz*"):
            try:
                total += path.stat().st_size
            except OSError:  # stored and removed meanwhile
                continue
    return total


@kind("spool-full", "spool past its size",
      ("/var/lib/archiver/archiver-data/spool", "the spool holds 12.4 GB of WARCs waiting for storage (limit 10.0 GB)",
       "du -sh /var/lib/archiver/archiver-data/spool"))
def spool_full(probe: Probe) -> Iterator[Condition]:
    folder, limit = probe.config.spool_dir, probe.config.alerts.spool_max_bytes
    size = spool_bytes(folder)
    if size > limit:
        yield Condition("spool-full", str(folder), f"the spool holds {size / 1e9:.1f} GB of WARCs waiting for "
                        f"storage (limit {limit / 1e9:.1f} GB)", f"du -sh {folder}")


@kind("fixity-mismatch", "fixity mismatch",
      ("facebook/city-fb/2026/11/facebook-city-fb-20261123T070246Z-339cd0-0001.warc.gz",
       "SHA-256 is 9f2c…, the index has 1b7e…", "archiver verify --all"))
def fixity_mismatch(probe: Probe) -> Iterator[Condition]:
    """A stored WARC failed fixity, and no later run has found it intact."""
    from archiver.retention.models import FixityRun

    with probe.db.session() as session:
        failing = list(session.scalars(select(FixityRun).where(FixityRun.ok.is_(False))
                                       .order_by(FixityRun.started_at.desc()).limit(200)))
        if not failing:
            return
        oldest = failing[-1].started_at
        runs = list(session.scalars(select(FixityRun).where(FixityRun.started_at >= oldest)
                                    .order_by(FixityRun.started_at)))
        stored = set(session.scalars(select(WarcFile.key).where(WarcFile.state == "stored")))
    open_since: dict[str, tuple[datetime, str, bool]] = {}  # key → since, problem, only the record check sees it
    for run in runs:
        failed = {f.get("key"): (str(f.get("problem")), f.get("check") == "records")
                  for f in reversed(run.failures or []) if isinstance(f, dict)}
        for key, (_, _, records_only) in list(open_since.items()):
            if key not in failed and _checked(run, key, records_only):
                del open_since[key]
        for key, (problem, records_only) in failed.items():
            open_since.setdefault(key, (run.started_at, problem, records_only))
    for key, (since, problem, records_only) in sorted(open_since.items()):
        if key in stored:
            command = "archiver verify --all --records" if records_only else "archiver verify --all"
            yield Condition("fixity-mismatch", key, problem, command, since)


def _checked(run: Any, key: str, records: bool) -> bool:
    """Did ``run`` check ``key`` (at the record level, if ``records``)?"""
    scope = str(run.scope)
    if records and not scope.endswith(RECORDS_SCOPE):
        return False
    keys = run.checked_keys
    return key in keys if keys is not None else scope.removesuffix(RECORDS_SCOPE) in FULL_FIXITY_SCOPES


@kind("legal-hold-not-set", "legal hold not set on the store",
      ("hold 3", "the store has no legal hold on 2 WARC object(s) that legal hold 3 (Doe v. City) needs, e.g. "
                 "facebook/city-fb/2026/11/…-0001.warc.gz", "archiver hold show 3"))
def legal_hold_not_set(probe: Probe) -> Iterator[Condition]:
    """An active hold needs objects the store could not put its legal hold on."""
    from archiver.retention.holds import held_item_ids, item_files
    from archiver.retention.models import HeldObject, LegalHold

    settled = probe.now - HOLD_GRACE
    with probe.db.session() as session:
        holds = list(session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None),
                                                             LegalHold.created_at <= settled)))
        if not holds:
            return
        flagged = set(session.scalars(select(HeldObject.key)))
        recent = set(session.scalars(select(WarcFile.key).where(WarcFile.stored_at > settled)))
        for hold in holds:
            missing = sorted(item_files(session, held_item_ids(session, hold.id)) - flagged - recent)
            if missing:
                yield Condition("legal-hold-not-set", f"hold {hold.id}",
                                f"the store has no legal hold on {len(missing)} WARC object(s) that legal hold "
                                f"{hold.id} ({hold.matter}) needs, e.g. {missing[0]}", f"archiver hold show {hold.id}")


@kind("quarantined-record", "record quarantined",
      ("city-fb", "2 record(s) no parser could read, e.g. facebook/city-fb/2026/11/…-0001.warc.gz record "
                  "<urn:uuid:…> (https://graph.facebook.com/v26.0/…/feed): TypeError", "archiver coverage city-fb"),
      about_account=True)
def quarantined_record(probe: Probe) -> Iterator[Condition]:
    """Records kept in their WARC that no parser could read (``archiver.quarantine``), per account."""
    try:
        from archiver.quarantine import quarantined  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # an index without the quarantine (issue 10's parser hardening) has none to report
        return
    with probe.db.session() as session:
        for account in probe.config.accounts:
            records = quarantined(session, account=account.name)
            if records:
                yield Condition("quarantined-record", account.name,
                                f"{len(records)} record(s) no parser could read, e.g. {records[0]}",
                                f"archiver coverage {account.name}", records[0].first_tried_at, account.name)


def evaluate(probe: Probe) -> tuple[list[Condition], dict[str, str]]:
    """Every condition found now, and the kinds whose check failed (with why): those clear nothing."""
    found: list[Condition] = []
    failed: dict[str, str] = {}
    for name, entry in KINDS.items():
        try:
            found += list(entry.check(probe))
        except Exception as exc:  # one broken check must not silence the others, nor clear its own
            failed[name] = f"{type(exc).__name__}: {exc}"
    return found, failed
