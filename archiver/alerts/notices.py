"""An alert as sent: what happened, to what, why, since when, and the command that shows more.

Every text field passes through the redactor (the config's credentials and token-like
parameters) before it leaves the process, so no secret reaches a chat channel or a mailbox.

>>> from datetime import UTC, datetime
>>> notice = Notice("opened", "quota-stop", "harvest stopped by the platform's quota", "city-fb", "city-fb",
...                 "(#80001) too many calls", datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "archiver accounts",
...                 "City of Example", "archiver-1", datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
>>> print(notice.text())
City of Example: ALERT city-fb: harvest stopped by the platform's quota
Cause: (#80001) too many calls
Since: 2026-11-23 07:00 UTC (2 h 30 min)
More: archiver accounts
Host: archiver-1
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from archiver.capture.redact import Redactor

EVENTS = {"opened": "ALERT", "repeat": "STILL OPEN", "cleared": "ALL CLEAR", "test": "TEST"}


def _span(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes or not
             (days or hours) else ""]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Notice:
    event: str  # opened | repeat | cleared | test
    kind: str
    title: str
    subject: str
    account: str | None
    cause: str
    since: datetime
    command: str
    agency: str
    host: str
    at: datetime  # when it was sent
    ended: datetime | None = None  # for an all-clear
    reminder: int = 0  # for a repeat: how many alerts before this one

    @property
    def headline(self) -> str:
        return f"{EVENTS[self.event]} {self.account or self.subject}: {self.title}"

    def lines(self) -> list[str]:
        end = self.ended or self.at
        lines = [f"{self.agency}: {self.headline}", f"Cause: {self.cause}",
                 f"Since: {self.since:%Y-%m-%d %H:%M} UTC ({_span((end - self.since).total_seconds())})"]
        if self.ended is not None:
            lines.append(f"Ended: {self.ended:%Y-%m-%d %H:%M} UTC")
        if self.account and self.subject != self.account:
            lines.append(f"Subject: {self.subject}")
        if self.event == "repeat":
            lines.append(f"Reminder {self.reminder}: repeated until the condition ends")
        return [*lines, f"More: {self.command}", f"Host: {self.host}"]

    def text(self) -> str:
        return "\n".join(self.lines())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("since", "at", "ended"):
            data[key] = data[key].isoformat() if data[key] else None
        return {**data, "headline": self.headline, "text": self.text()}

    def redacted(self, redactor: Redactor) -> Notice:
        return replace(self, subject=redactor.text(self.subject), cause=redactor.text(self.cause),
                       command=redactor.text(self.command), title=redactor.text(self.title),
                       account=redactor.text(self.account) if self.account else None)
