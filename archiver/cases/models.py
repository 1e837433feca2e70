"""Cases: an open-records request or a legal production, and the items it holds.

Like holds, cases name items by account name and platform id, which survive ``reindex``;
surrogate item ids do not. Cases are not derived from WARCs, so reindex never clears them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archiver.index.models import Base


class RecordsCase(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # request (open records) | production (legal)
    requester: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    received_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class CaseSearch(Base):
    """One search that added (or dropped) items, kept so the custody record can name it."""

    __tablename__ = "case_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # add | drop
    query: Mapped[dict[str, Any]]
    items: Mapped[int] = mapped_column(Integer)  # how many items it added or dropped
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(128))


class CaseItem(Base):
    __tablename__ = "case_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(Text)
    search_id: Mapped[int | None] = mapped_column(ForeignKey("case_searches.id"))
    added_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("case_id", "account", "platform_id", name="uq_case_items_member"),)


class CaseRedaction(Base):
    """A clerk's decision on a release's redactions: undo an automatic one, or add words to redact.

    An undone redaction is named by rule and the SHA-256 of the matched words, never the words;
    an added one keeps the words the clerk typed (they are in the index already). Decisions are
    revoked, never deleted, so the review's history stays whole.
    """

    __tablename__ = "case_redactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(8))  # undo | add
    rule: Mapped[str | None] = mapped_column(String(64))
    match_sha256: Mapped[str | None] = mapped_column(String(64))
    words: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(128))


class CaseWithholding(Base):
    """An item withheld from a release, and the statute the clerk cites for it (the exemption log)."""

    __tablename__ = "case_withholdings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(Text)
    citation: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(128))
