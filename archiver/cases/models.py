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
