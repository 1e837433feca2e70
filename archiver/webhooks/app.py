"""The WSGI app ``archiver serve`` runs: Meta webhooks at ``/webhooks/meta`` (``/healthz`` and
``/metrics`` are answered in front of it, by ``archiver.service.http``, with real probes).

``GET /webhooks/meta?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`` echoes the challenge
when the verify token matches (``[serve] verify_token_env``), else 403. ``POST /webhooks/meta``
checks ``X-Hub-Signature-256`` on the raw body first: a missing or bad signature gets 403 and a
log line (sender, reason, size; never the signature or the body) and nothing is stored. A signed
body that is not shaped like a Meta delivery (``meta.delivery_problem``) gets 400 and a log line.
A signed delivery is archived before the 200 goes back (see ``intake``; a replay of one already
archived is answered 200 and not stored again); its re-fetch follows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from archiver.config import Config
from archiver.webhooks.intake import WebhookIntake
from archiver.webhooks.meta import delivery_problem, route, signature_problem
from archiver.webhooks.meta import handshake as challenge_for

log = logging.getLogger(__name__)
PATH = "/webhooks/meta"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class MetaWebhookApp:
    def __init__(self, config: Config, intake: WebhookIntake, verify_token: str | None, secrets: list[bytes]):
        self.config = config
        self.intake = intake
        self.verify_token = verify_token
        self.secrets = secrets
        self.refused = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path != PATH:
            return _reply(start_response, 404, "not found; Meta webhooks are received at /webhooks/meta")
        if method == "GET":
            challenge = challenge_for(dict(parse_qsl(environ.get("QUERY_STRING", ""))), self.verify_token)
            if challenge is None:
                log.warning("refused a webhook verification request from %s: wrong or missing hub.verify_token",
                            _sender(environ))
                return _reply(start_response, 403, "forbidden")
            return _reply(start_response, 200, challenge)
        if method != "POST":
            return _reply(start_response, 405, "use GET (verification) or POST (deliveries)")
        return self._delivery(environ, start_response)

    def _delivery(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        sender = _sender(environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.config.serve.max_body_bytes:
            log.warning("refused a webhook POST from %s: body of %s bytes (limit %d)", sender, length,
                        self.config.serve.max_body_bytes)
            return _reply(start_response, 413, "payload too large")
        body = environ["wsgi.input"].read(length) if length else b""
        problem = signature_problem(body, environ.get("HTTP_X_HUB_SIGNATURE_256"), self.secrets)
        if problem is not None:
            self.refused += 1
            log.warning("refused a webhook POST from %s (%d bytes): %s; nothing stored", sender, len(body), problem)
            return _reply(start_response, 403, "forbidden")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: brackets nested past what the parser takes
            log.warning("a signed webhook POST from %s is not JSON (%d bytes); nothing stored", sender, len(body))
            return _reply(start_response, 400, "not JSON")
        problem = delivery_problem(payload)
        if problem is not None:
            log.warning("a signed webhook POST from %s is not a Meta delivery: %s; nothing stored", sender, problem)
            return _reply(start_response, 400, f"not a Meta webhook delivery: {problem}")
        routed = route(self.config, payload)
        if not routed:
            log.warning("a signed webhook from %s names no configured account (object %r); ignored", sender,
                        payload.get("object") if isinstance(payload, dict) else None)
            return _reply(start_response, 200, "EVENT_RECEIVED")
        try:
            keys = self.intake.accept(body, routed, sender)
        except OSError as exc:  # not archived: Meta retries a delivery that does not get its 200
            log.error("could not archive a webhook delivery from %s: %s", sender, exc)
            return _reply(start_response, 503, "cannot archive right now; retry")
        log.info("archived a webhook delivery for %s in %s", ", ".join(r.account.name for r in routed),
                 ", ".join(keys))
        return _reply(start_response, 200, "EVENT_RECEIVED")


def _sender(environ: dict[str, Any]) -> str:
    return str(environ.get("REMOTE_ADDR") or "unknown")


def _reply(start_response: StartResponse, status: int, text: str) -> list[bytes]:
    reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
               413: "Payload Too Large", 503: "Service Unavailable"}
    data = text.encode()
    start_response(f"{status} {reasons[status]}", [("Content-Type", "text/plain; charset=utf-8"),
                                                   ("Content-Length", str(len(data)))])
    return [data]
