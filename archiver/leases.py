"""Harvest leases in the index: which daemon harvests an account's tick, with expiry.

A daemon claims an account's lease for a tick (archiver/ticks.py) before it harvests, renews it
while the harvest runs, and releases it at the end, recording the tick as done. A claim is one
atomic UPDATE that succeeds only when the lease is free (expired, or already this holder's) and
the tick is not done yet; the first claim of an account is an INSERT, and of two daemons racing
for it the unique account name lets exactly one win. So every tick is harvested once, by one
daemon, however many share the index.

A lease's ``holder`` stays set while it is held, and after a daemon abandons it (stopped mid-
harvest) or dies; a clean release clears it. An expired lease with a holder is therefore a tick
that somebody started and nobody finished: another daemon takes it over (archiver/sharing.py).
Expiry is judged by the database's clock, so the hosts' clocks need not agree to the second.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, String, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from archiver.index.db import IndexDB
from archiver.index.models import Account, Base


class HarvestLease(Base):
    __tablename__ = "harvest_leases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64), unique=True)
    holder: Mapped[str | None] = mapped_column(String(160))  # host:pid:random of the daemon holding it
    expires_at: Mapped[datetime]
    tick: Mapped[datetime | None]  # the last tick harvested (archiver/ticks.py)


def new_holder() -> str:
    """This daemon's name in the leases: host, process, and a random part (pids are reused)."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


def db_now(session: Session) -> datetime:
    """The database's clock (UTC): the one every host judges expiry by."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        moment = session.scalar(text("SELECT now() AT TIME ZONE 'UTC'"))
        return moment.replace(tzinfo=UTC)
    return datetime.now(UTC)  # SQLite: one host (one daemon per index, archiver/sharing.py)


@dataclass(frozen=True)
class Claim:
    granted: bool
    done: bool = False  # the tick was harvested already (by anyone)
    holder: str | None = None  # who holds it, when not granted
    expires_at: datetime | None = None


class Leases:
    """One daemon's leases: claim, renew, release, and what other daemons left behind."""

    def __init__(self, db: IndexDB, seconds: float, holder: str | None = None):
        self.db = db
        self.period = timedelta(seconds=seconds)
        self.holder = holder or new_holder()

    def claim(self, account: str, tick: datetime) -> Claim:
        """Take ``account``'s lease for ``tick``, unless the tick is done or another live daemon holds it."""
        with self.db.session() as session:
            now = db_now(session)
            taken = session.execute(
                update(HarvestLease)
                .where(HarvestLease.account == account,
                       or_(HarvestLease.expires_at < now, HarvestLease.holder == self.holder),
                       or_(HarvestLease.tick.is_(None), HarvestLease.tick < tick))
                .values(holder=self.holder, expires_at=now + self.period)
                .execution_options(synchronize_session=False))
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return Claim(True)
            lease = session.scalar(select(HarvestLease).where(HarvestLease.account == account))
            if lease is not None:
                return Claim(False, done=lease.tick is not None and lease.tick >= tick, holder=lease.holder,
                             expires_at=lease.expires_at)
        try:  # the account's first claim anywhere: of two daemons inserting at once, one wins
            with self.db.session() as session:
                session.add(HarvestLease(account=account, holder=self.holder, expires_at=now + self.period))
            return Claim(True)
        except IntegrityError:
            return self.claim(account, tick)

    def renew(self, account: str) -> bool:
        """Push the lease's expiry on; False when it is no longer ours (another daemon took it)."""
        with self.db.session() as session:
            now = db_now(session)
            renewed = session.execute(
                update(HarvestLease).where(HarvestLease.account == account, HarvestLease.holder == self.holder)
                .values(expires_at=now + self.period).execution_options(synchronize_session=False))
            return renewed.rowcount == 1  # type: ignore[attr-defined]

    def release(self, account: str, tick: datetime | None) -> bool:
        """The harvest ended: record ``tick`` as done (None: leave it undone, for another daemon to
        take over now) and free the lease. False when it was no longer ours."""
        with self.db.session() as session:
            now = db_now(session)
            values = {"holder": None, "tick": tick} if tick is not None else {}  # abandoned: the holder stays
            released = session.execute(
                update(HarvestLease).where(HarvestLease.account == account, HarvestLease.holder == self.holder)
                .values(expires_at=now, **values).execution_options(synchronize_session=False))
            return released.rowcount == 1  # type: ignore[attr-defined]

    def others(self, accounts: set[str]) -> tuple[list[HarvestLease], datetime]:
        """Leases other daemons hold (or left) on these accounts, and the database's time now."""
        with self.db.session() as session:
            now = db_now(session)
            rows = session.scalars(select(HarvestLease).where(
                HarvestLease.account.in_(accounts), HarvestLease.holder.is_not(None),
                HarvestLease.holder != self.holder)).all()
        return list(rows), now


def live_holders(db: IndexDB) -> dict[str, str]:
    """Who harvests which account right now (account name -> holder), as ``archiver accounts`` shows."""
    with db.session() as session:
        now = db_now(session)
        rows = session.execute(select(HarvestLease.account, HarvestLease.holder).where(
            HarvestLease.holder.is_not(None), HarvestLease.expires_at > now))
        return {account: holder for account, holder in rows if holder is not None}


def leased_account_ids(db: IndexDB) -> set[int]:
    """The index ids of accounts some daemon holds a live lease on (their harvest runs somewhere)."""
    with db.session() as session:
        now = db_now(session)
        return set(session.scalars(select(Account.id).join(HarvestLease, HarvestLease.account == Account.name)
                                   .where(HarvestLease.holder.is_not(None), HarvestLease.expires_at > now)))


__all__ = ["Claim", "HarvestLease", "Leases", "db_now", "leased_account_ids", "live_holders", "new_holder"]
