"""The alert register: every condition found, since when, and who was told when.

Not derived from WARCs, so ``reindex`` never clears it. ``open_key`` is set while the
condition lasts and cleared with it; being unique, it lets two daemons sharing one index
record a condition once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archiver.index.models import Base


class AlertCondition(Base):
    __tablename__ = "alert_conditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(Text)  # an account name, a storage key, "storage", "spool"
    account: Mapped[str | None] = mapped_column(String(64))
    open_key: Mapped[str | None] = mapped_column(Text, unique=True)  # "kind|subject" while open
    cause: Mapped[str] = mapped_column(Text)
    command: Mapped[str] = mapped_column(Text)  # the command that shows more
    since: Mapped[datetime]  # when the condition began, as far as the index knows
    detected_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    # Per channel: {"sent": ISO time of the last alert, "count": alerts sent, "cleared": all-clear sent}
    notified: Mapped[dict[str, Any]]
    settled: Mapped[bool] = mapped_column(Boolean, default=False)  # cleared, and every all-clear sent
