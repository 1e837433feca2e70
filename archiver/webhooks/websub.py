"""YouTube push at ``/webhooks/youtube``: the hub's verification and its signed pushes.

``GET /webhooks/youtube?hub.mode=subscribe&hub.topic=…&hub.challenge=…&hub.lease_seconds=…`` echoes
the challenge only for the topic of a configured YouTube account (and, when ``[serve]
verify_token_env`` is set, only with that ``hub.verify_token``); the lease granted goes to the
subscriber, which renews before it ends. An ``unsubscribe`` is confirmed only with the verify
token (the archiver never asks for one itself: anyone else asking would silence the pushes).
Anything else: 404 or 403 and a log line.

``POST /webhooks/youtube``: the raw body, at most ``[serve] max_body_bytes``, is checked against
the ``X-Hub-Signature`` (HMAC-SHA1 with the account's ``websub_secret_env``) before it is read as
XML; a missing or bad signature is 403, nothing stored, a log line without the body or the
signature. A body that is not a YouTube push, or names no configured channel, is 400. A push is
archived as received before the 2xx goes back (``WebhookIntake``: a replay is stored once), then
the videos it names are re-fetched through the YouTube connector, and a tombstone is looked up:
only the API's answer deletes.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from archiver.config import AccountConfig, Config
from archiver.webhooks.app import _reply, _sender
from archiver.webhooks.intake import DeliverySource, WebhookIntake
from archiver.webhooks.meta import Routed
from connectors.youtube.websub import WEBSUB_PREFIX, PushProblem, channel_of_topic, parse_push, signed

log = logging.getLogger(__name__)
PATH = "/webhooks/youtube"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def push_accounts(config: Config) -> dict[str, AccountConfig]:
    """The YouTube accounts that take pushes (``websub`` not false), by channel id."""
    return {a.id: a for a in config.accounts if a.platform == "youtube" and a.options().get("websub", True)}


def push_secrets(accounts: Iterable[AccountConfig]) -> dict[str, bytes]:
    """Account name → its WebSub secret, for the accounts that name one (``websub_secret_env``).

    A named variable that is not set is a ``ConfigError``: taking that account's pushes unsigned
    instead would let anyone's through."""
    found = {}
    for account in accounts:
        if account.options().get("websub_secret_env"):
            found[account.name] = str(account.secret("websub_secret_env")).encode()
    return found


class YouTubePushApp:
    def __init__(self, config: Config, intake: WebhookIntake, verify_token: str | None,
                 on_lease: Callable[[AccountConfig, int], None] = lambda account, seconds: None):
        self.config, self.intake, self.verify_token, self.on_lease = config, intake, verify_token, on_lease
        self.accounts = push_accounts(config)
        self.secrets = push_secrets(self.accounts.values())
        self.refused = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != PATH:
            return _reply(start_response, 404, f"not found; YouTube pushes are received at {PATH}")
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return self._verification(dict(parse_qsl(environ.get("QUERY_STRING", ""))), _sender(environ),
                                      start_response)
        if method != "POST":
            return _reply(start_response, 405, "use GET (verification) or POST (pushes)")
        return self._push(environ, start_response)

    def _verification(self, query: dict[str, str], sender: str, start_response: StartResponse) -> Iterable[bytes]:
        mode, challenge = query.get("hub.mode"), query.get("hub.challenge")
        channel = channel_of_topic(query.get("hub.topic", ""))
        account = self.accounts.get(channel or "")
        if mode not in ("subscribe", "unsubscribe") or not challenge or account is None:
            why = ("not a subscribe/unsubscribe with a challenge" if mode not in ("subscribe", "unsubscribe")
                   or not challenge else "not a YouTube channel topic" if channel is None
                   else f"the topic of channel {channel!r}, not a configured YouTube account")
            log.warning("refused a WebSub verification from %s: %s", sender, why)
            return _reply(start_response, 404, "no such subscription")
        token = query.get("hub.verify_token", "")
        if (self.verify_token or mode == "unsubscribe") and not (
                self.verify_token and hmac.compare_digest(token.encode(), self.verify_token.encode())):
            log.warning("refused a WebSub %s of %s's topic from %s: wrong or missing hub.verify_token", mode,
                        account.name, sender)
            return _reply(start_response, 403, "forbidden")
        lease = query.get("hub.lease_seconds", "")
        if mode == "subscribe" and lease.isdigit():
            self.on_lease(account, int(lease))
        log.info("confirmed the WebSub %s of %s's topic (lease %s s)", mode, account.name, lease or "unstated")
        return _reply(start_response, 200, challenge)

    def _refuse(self, start_response: StartResponse, sender: str, size: int, why: str) -> Iterable[bytes]:
        self.refused += 1
        log.warning("refused a YouTube push from %s (%d bytes): %s; nothing stored", sender, size, why)
        return _reply(start_response, 403, "forbidden")

    def _push(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        sender, limit = _sender(environ), self.config.serve.max_body_bytes
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > limit:
            log.warning("refused a YouTube push from %s: body of %s bytes (limit %d)", sender, length, limit)
            return _reply(start_response, 413, "payload too large")
        body = environ["wsgi.input"].read(length) if length else b""
        header = environ.get("HTTP_X_HUB_SIGNATURE")
        signers = {name for name, secret in self.secrets.items() if signed(body, header, secret)}
        if header and not signers:
            return self._refuse(start_response, sender, len(body), "the X-Hub-Signature does not match the body")
        if not header and self.secrets and len(self.secrets) == len(self.accounts):
            return self._refuse(start_response, sender, len(body), "no X-Hub-Signature header")
        try:
            entries = parse_push(body)
        except PushProblem as problem:
            log.warning("a YouTube push from %s is not a WebSub feed: %s; nothing stored", sender, problem)
            return _reply(start_response, 400, f"not a YouTube push: {problem}")
        targets: dict[str, list[str]] = {}
        for entry in entries:
            account = self.accounts.get(entry.channel_id or "")
            if account is None:
                log.warning("a YouTube push from %s names channel %r, not a configured YouTube account; "
                            "nothing stored", sender, entry.channel_id)
                return _reply(start_response, 400, "the push names a channel this archive does not follow")
            targets.setdefault(account.name, []).append(entry.target)
        unsigned = [name for name in targets if name in self.secrets and name not in signers]
        if unsigned:
            return self._refuse(start_response, sender, len(body), f"not signed with {unsigned[0]}'s websub secret")
        routed = [Routed(self.config.account(name), tuple(dict.fromkeys(found))) for name, found in targets.items()]
        how = "X-Hub-Signature verified" if signers else "unsigned (the account names no websub_secret_env)"
        source = DeliverySource(WEBSUB_PREFIX, "application/atom+xml", f"YouTube WebSub push, {how}; from {{remote}}")
        try:
            keys = self.intake.accept(body, routed, sender, source)
        except OSError as exc:  # not archived: the hub retries a push that does not get its 2xx
            log.error("could not archive a YouTube push from %s: %s", sender, exc)
            return _reply(start_response, 503, "cannot archive right now; retry")
        log.info("archived a YouTube push for %s in %s", ", ".join(targets), ", ".join(keys) or "(a replay)")
        return _reply(start_response, 200, "OK")
