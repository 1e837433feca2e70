"""The index: a database derived from the WARCs (invariant 1), never the other way round.

Items are what the platform has (posts, comments, feed entries); versions are their content
as observed over time, each with the evidence it came from; evidence points at WARC records
by file, offset and digest. Everything here can be rebuilt by ``archiver reindex``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no zones), always handed back zone-aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # nearly always (the harvest makes UTC times): no conversion
            return value.replace(tzinfo=None)
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the index; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_account_id: Mapped[str] = mapped_column(Text)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disconnected
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Harvest(Base):
    __tablename__ = "harvests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # running | succeeded | partial (data kept, listing incomplete) | failed | interrupted
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    observations: Mapped[int] = mapped_column(Integer, default=0)
    new_versions: Mapped[int] = mapped_column(Integer, default=0)
    cursor_before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cursor_after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Why it failed, as a class for coverage statements (see connectors.base.HarvestError).
    cause: Mapped[str | None] = mapped_column(String(16))
    # What the listing covered: listed_since, window_exceeded, full_sweep; and the run's notes.
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # The latest harvests of an account (alerts, metrics; migration 0016).
    __table_args__ = (Index("ix_harvests_account_started", "account_id", "started_at"),)


class WarcFile(Base):
    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True)  # storage key: platform/account/YYYY/MM/name
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    harvest_id: Mapped[int | None] = mapped_column(ForeignKey("harvests.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY/MM of capture
    size: Mapped[int | None] = mapped_column(BigInteger)  # known once sealed
    sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # open | sealed | stored
    stored_at: Mapped[datetime | None]
    retain_until: Mapped[datetime | None]


class Evidence(Base):
    """One WARC response (or resource/revisit) record and the request that produced it."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warc_file_id: Mapped[int] = mapped_column(ForeignKey("warc_files.id"), index=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    record_type: Mapped[str] = mapped_column(String(16))
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    target_uri: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    captured_at: Mapped[datetime]
    payload_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # hex, entity body as stored
    payload_digest: Mapped[str | None] = mapped_column(String(80))  # the record's WARC-Payload-Digest
    block_digest: Mapped[str] = mapped_column(String(80))
    request_record_id: Mapped[str | None] = mapped_column(String(64))
    request_offset: Mapped[int | None] = mapped_column(BigInteger)
    request_length: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_evidence_target_uri", "target_uri"),)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    platform_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    parent_platform_id: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime | None] = mapped_column(index=True)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    version_count: Mapped[int] = mapped_column(Integer, default=1)  # also the seq of the latest version
    latest_hash: Mapped[str] = mapped_column(String(64))
    # The latest observed counts (reactions, shares, comments...) and when: not content, no versions.
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    metrics_observed_at: Mapped[datetime | None]

    # Search filters (migration 0009; on SQLite also a trigram table over author, see there) and
    # threads, read a level at a time (migration 0010).
    __table_args__ = (UniqueConstraint("account_id", "platform_id", name="uq_items_account_platform_id"),
                      Index("ix_items_account_id_posted_at", "account_id", "posted_at"),
                      Index("ix_items_kind_posted_at", "kind", "posted_at"),
                      Index("ix_items_account_parent", "account_id", "parent_platform_id"))


class Version(Base):
    __tablename__ = "versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text, default="")
    media_urls: Mapped[list[Any]] = mapped_column(JSON, default=list)
    first_observed_at: Mapped[datetime]
    last_observed_at: Mapped[datetime]
    first_evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    last_evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))

    __table_args__ = (UniqueConstraint("item_id", "seq", name="uq_versions_item_seq"),
                      Index("ix_versions_state_item_id", "state", "item_id"))


class ItemEvidence(Base):
    """Every record an item was observed in, not only the first and last of each version.

    Disposition and legal holds act on records and files, so they must know every record that
    holds an item; the recorder writes these rows for live harvests and reindex alike.
    """

    __tablename__ = "item_evidence"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True, index=True)


class StagedObservation(Base):
    """Observations of a running harvest, applied to items and versions once its WARCs are stored."""

    __tablename__ = "staged_observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    harvest_id: Mapped[int] = mapped_column(ForeignKey("harvests.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    observation: Mapped[dict[str, Any]] = mapped_column(JSON)


class ParseProblem(Base):
    """An object in a record that could not be read (connectors/untrusted.py): derived, rebuilt by reindex.

    Named by account and platform id when its id was readable (NULL otherwise); no version is
    made from it, and the record stays linked to the item as evidence (migration 0012).
    """

    __tablename__ = "parse_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    platform_id: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    problem: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_parse_problems_account_platform_id", "account_id", "platform_id"),)


class QuarantinedRecord(Base):
    """A record whose parser raised: kept in its WARC, not indexed, retried by every reindex.

    Derived (reindex rebuilds it by trying again); first tried is the record's capture time.
    """

    __tablename__ = "quarantined_records"

    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"), primary_key=True)
    error: Mapped[str] = mapped_column(Text)
    tried_at: Mapped[datetime]
