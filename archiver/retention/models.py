"""Tables of the records-management side: tags, holds, plans, certificates, fixity, time-stamps.

None of these is derived from WARCs, so ``reindex`` never clears them (they are not in
``DERIVED_TABLES``). They name items by account name and platform id, and WARC objects by
storage key, because those survive a reindex; surrogate ids do not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archiver.index.models import Base


class ItemTag(Base):
    __tablename__ = "item_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(128))

    __table_args__ = (UniqueConstraint("account", "platform_id", "tag", name="uq_item_tags_item_tag"),)


class LegalHold(Base):
    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matter: Mapped[str] = mapped_column(Text)
    criteria: Mapped[dict[str, Any]]  # accounts, since, until, query, items
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(128))
    release_reason: Mapped[str | None] = mapped_column(Text)


class HoldItem(Base):
    """An item frozen by a hold. Members are only ever added while the hold is active."""

    __tablename__ = "hold_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("legal_holds.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("hold_id", "account", "platform_id", name="uq_hold_items_member"),)


class HeldObject(Base):
    """A WARC object that active holds need, and whether the store's own legal hold is on it."""

    __tablename__ = "held_objects"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    since: Mapped[datetime]
    store_flag: Mapped[bool] = mapped_column(Boolean)  # False: the store has no legal hold feature


class RetentionPlan(Base):
    __tablename__ = "retention_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    as_of: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))  # proposed | approved | applied | cancelled
    digest: Mapped[str] = mapped_column(String(64))  # what approval binds to
    summary: Mapped[dict[str, Any]]
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None]
    applied_at: Mapped[datetime | None]
    certificate: Mapped[str | None] = mapped_column(String(40))


class PlanItem(Base):
    __tablename__ = "plan_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("retention_plans.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(Text)
    series: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    posted_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    versions: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    eligible_on: Mapped[datetime]


class PlanObject(Base):
    """A WARC object the plan deletes or rewrites, and (once applied) what became of it."""

    __tablename__ = "plan_objects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("retention_plans.id"), index=True)
    key: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))  # delete | rewrite
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    records_removed: Mapped[int] = mapped_column(Integer)
    records_kept: Mapped[int] = mapped_column(Integer)
    retain_until: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # deleted | rewritten | refused | failed
    new_key: Mapped[str | None] = mapped_column(Text)
    new_sha256: Mapped[str | None] = mapped_column(String(64))
    new_size: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)
    removed: Mapped[list[Any] | None]  # record ids destroyed in a rewrite (the journal for a resumed apply)


class DispositionCertificate(Base):
    """Kept permanently, after the records are gone; the database refuses to change or delete it."""

    __tablename__ = "disposition_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    plan_uid: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]]


class DisposedItem(Base):
    """The register of disposed items: what was destroyed, under which certificate."""

    __tablename__ = "disposed_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(Text)
    certificate: Mapped[str] = mapped_column(String(40), index=True)
    disposed_at: Mapped[datetime]


class FixityRun(Base):
    __tablename__ = "fixity_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    scope: Mapped[str] = mapped_column(String(64))
    objects: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    failures: Mapped[list[Any]]
    ok: Mapped[bool] = mapped_column(Boolean)
    checked_keys: Mapped[list[Any] | None]  # the objects a run of at most CHECKED_KEYS_MAX checked


class TimeStamp(Base):
    """An RFC 3161 time-stamp over one day's digest of the audit log and of new WARCs."""

    __tablename__ = "timestamps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), unique=True)
    created_at: Mapped[datetime]
    digest: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]]
    tsa_url: Mapped[str] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text)  # base64 DER TimeStampResp
    gen_time: Mapped[datetime]
