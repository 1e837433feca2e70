"""YouTube push subscriptions, kept by ``archiver serve``: asked of the hub, renewed before the lease ends.

With ``[serve] public_url`` set, each YouTube account that takes pushes (``websub`` not false)
is subscribed at ``[serve] websub_hub``: ``hub.mode=subscribe``, its channel's topic, the
callback ``{public_url}/webhooks/youtube``, the lease asked (``[serve] websub_lease``), the
account's ``websub_secret_env`` as ``hub.secret`` and the verify token. The hub answers 202 and
then verifies at the callback (``archiver.webhooks.websub``), which hands the lease it grants
here; the subscription is asked again when four fifths of it have passed. A request the hub
refuses, or a verification that never comes, is tried again after a growing pause; every start
asks afresh (the hub renews a live subscription). The secrets travel only to the hub, never
into a record or a log line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import requests

from archiver.config import AccountConfig, Config
from archiver.units import parse_duration
from archiver.webhooks.websub import PATH
from connectors.youtube.websub import topic

log = logging.getLogger(__name__)
RETRY_SECONDS = (10.0, 60.0, 300.0, 1800.0, 3600.0)  # after a refusal, or a verification that does not come
VERIFICATION_WAIT = 300.0  # how long a 202 waits for the hub's verification before asking again
RENEW_AT = 0.8  # of the lease granted


class WebSubSubscriber:
    def __init__(self, config: Config, accounts: list[AccountConfig], verify_token: str | None,
                 secrets: dict[str, bytes], retry_seconds: tuple[float, ...] = RETRY_SECONDS,
                 verification_wait: float = VERIFICATION_WAIT, clock: Callable[[], float] = time.monotonic):
        assert config.serve.public_url, "subscriptions need [serve] public_url"
        self.callback = config.serve.public_url + PATH
        self.hub = config.serve.websub_hub
        self.lease = int(parse_duration(config.serve.websub_lease).total_seconds())
        self.accounts = {a.name: a for a in accounts}
        self.verify_token, self.secrets = verify_token, secrets
        self.retry_seconds, self.verification_wait, self.clock = retry_seconds, verification_wait, clock
        self.due = {name: 0.0 for name in self.accounts}  # when to ask the hub next (clock time)
        self.expires: dict[str, float] = {}  # leases granted, by account (clock time)
        self.failures = dict.fromkeys(self.accounts, 0)
        self.awaiting: set[str] = set()  # accounts whose subscription request awaits the hub's verification
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._http = requests.Session()
        self._thread: threading.Thread | None = None

    def start(self) -> WebSubSubscriber:
        self._thread = threading.Thread(target=self._run, name="websub-subscriber", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)
        self._http.close()

    def leased(self, account: AccountConfig, seconds: int) -> None:
        """The hub verified a subscription for ``seconds``: renew it when most of that has passed.

        Only the verification of a request this subscriber made counts (and never for longer than
        it asked): anyone can call the callback, and a lease taken from them could stop renewals."""
        now = self.clock()
        with self._lock:
            if account.name not in self.awaiting:
                log.info("a WebSub verification for %s that this archiver did not ask for; its lease is not taken",
                         account.name)
                return
            self.awaiting.discard(account.name)
            seconds = min(seconds, self.lease)
            self.expires[account.name] = now + seconds
            self.due[account.name] = now + max(seconds * RENEW_AT, 1.0)
            self.failures[account.name] = 0
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            with self._lock:
                ready = [name for name, at in self.due.items() if at <= now]
            for name in ready:
                if self._stop.is_set():
                    return
                self._ask(self.accounts[name])
            with self._lock:
                wait = min(self.due.values(), default=now + 3600) - self.clock()
            self._wake.wait(min(max(wait, 0.05), 60.0))
            self._wake.clear()

    def _ask(self, account: AccountConfig) -> None:
        form = {"hub.mode": "subscribe", "hub.topic": topic(account.id), "hub.callback": self.callback,
                "hub.lease_seconds": str(self.lease), "hub.verify": "async"}
        if account.name in self.secrets:
            form["hub.secret"] = self.secrets[account.name].decode()
        if self.verify_token:
            form["hub.verify_token"] = self.verify_token
        with self._lock:
            self.awaiting.add(account.name)  # before asking: the hub may verify before it answers
        try:
            answer = self._http.post(self.hub, data=form, timeout=30)
            problem = None if answer.status_code in (202, 204) else \
                f"the hub answered {answer.status_code}: {answer.text[:200].strip()!r}"
        except requests.RequestException as exc:
            problem = f"the hub did not answer ({type(exc).__name__})"
        with self._lock:
            if problem is None:
                self.due[account.name] = self.clock() + self.verification_wait
                log.info("asked %s to push %s's uploads to %s", self.hub, account.name, self.callback)
                return
            self.awaiting.discard(account.name)
            tries = self.failures[account.name]
            self.failures[account.name] = tries + 1
            pause = self.retry_seconds[min(tries, len(self.retry_seconds) - 1)]
            self.due[account.name] = self.clock() + pause
        log.warning("could not subscribe %s to YouTube pushes at %s: %s; trying again in %.0f s", account.name,
                    self.hub, problem, pause)
