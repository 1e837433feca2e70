"""Where alerts go: a webhook (generic JSON, Slack or Teams) and e-mail through an SMTP server.

A channel sends one ``Notice`` or raises ``DeliveryError`` with a one-line reason that names
no credential (a Slack or Teams webhook URL is one: only its host is ever named).
"""

from __future__ import annotations

import smtplib
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

import requests

from archiver.alerts.notices import Notice
from archiver.config import Config
from archiver.credentials import credential, where


class DeliveryError(Exception):
    """The channel did not take the alert; the message says why, without secrets."""


class Channel(ABC):
    name: str

    @abstractmethod
    def send(self, notice: Notice) -> None:
        """Deliver ``notice`` or raise DeliveryError."""


def generic_payload(notice: Notice) -> dict[str, Any]:
    """Every field, for receivers that route on them (PagerDuty-style relays, ticketing, scripts)."""
    return notice.as_dict()


def slack_payload(notice: Notice) -> dict[str, Any]:
    """A Slack incoming webhook message (``text`` in mrkdwn; the headline in bold)."""
    first, *rest = notice.lines()
    return {"text": "\n".join([f"*{first}*", *rest])}


def teams_payload(notice: Notice) -> dict[str, Any]:
    """A Teams Workflows webhook message: one Adaptive Card with the headline and the facts."""
    facts = [{"title": line.split(": ", 1)[0], "value": line.split(": ", 1)[1]} for line in notice.lines()[1:]
             if ": " in line]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
            "body": [{"type": "TextBlock", "text": f"{notice.agency}: {notice.headline}", "weight": "Bolder",
                      "size": "Medium", "wrap": True},
                     {"type": "FactSet", "facts": facts}]}
    return {"type": "message", "summary": notice.headline,
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                             "content": card}]}


PAYLOADS: dict[str, Callable[[Notice], dict[str, Any]]] = {
    "generic": generic_payload, "slack": slack_payload, "teams": teams_payload}


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, url: Callable[[], str | None], shape: str, timeout: float):
        self.url, self.shape, self.timeout = url, shape, timeout

    def send(self, notice: Notice) -> None:
        url = self.url()
        if not url:
            raise DeliveryError("alerts.webhook_url_env: the webhook URL is not set")
        host = urlsplit(url).hostname or "?"
        try:
            answer = requests.post(url, json=PAYLOADS[self.shape](notice), timeout=self.timeout,
                                   allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"the webhook at {host} did not answer ({type(exc).__name__})") from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryError(f"the webhook at {host} answered HTTP {answer.status_code}")


class EmailChannel(Channel):
    name = "email"

    def __init__(self, config: Config):
        section = config.alerts
        assert section.smtp_host and section.sender
        self.host, self.port, self.security = section.smtp_host, section.smtp_port, section.smtp_security
        self.sender, self.to, self.timeout = section.sender, list(section.to), section.timeout_seconds
        self.user_env, self.password_env = section.smtp_user_env, section.smtp_password_env
        ca = section.smtp_ca_file
        self.ca_file = None if ca is None else ca if ca.is_absolute() else config.base_dir / ca

    def message(self, notice: Notice) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"[archiver] {notice.headline}"
        message["From"], message["To"] = self.sender, ", ".join(self.to)
        message["Date"] = format_datetime(notice.at)
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        message["X-Archiver-Alert"] = f"{notice.event} {notice.kind}"
        message.set_content(notice.text() + "\n")
        return message

    def _login(self) -> tuple[str, str] | None:
        if not self.user_env:
            return None
        user, password = credential(self.user_env), credential(self.password_env) if self.password_env else ""
        if not user:
            raise DeliveryError(f"alerts.smtp_user_env: {where(self.user_env)}")
        if self.password_env and not password:
            raise DeliveryError(f"alerts.smtp_password_env: {where(self.password_env)}")
        return user, password or ""

    def send(self, notice: Notice) -> None:
        login = self._login()
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=context)  # refuses to go on in clear if the server cannot
                if login is not None:
                    smtp.login(*login)
                smtp.send_message(self.message(notice))
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise DeliveryError(f"the mail server {self.host}:{self.port} refused: {exc.smtp_code} "
                                f"{' '.join(str(reply).split())[:120]}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"cannot send through the mail server {self.host}:{self.port} "
                                f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None


def channels(config: Config) -> list[Channel]:
    """The channels ``[alerts]`` configures, webhook first."""
    section = config.alerts
    found: list[Channel] = []
    if section.webhook_url or section.webhook_url_env:
        env = section.webhook_url_env
        found.append(WebhookChannel(lambda: section.webhook_url or (credential(env) if env else None),
                                    section.format, section.timeout_seconds))
    if section.smtp_host:
        found.append(EmailChannel(config))
    return found
