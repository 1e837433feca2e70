"""``archiver serve``: the web app and the webhooks (``[serve] host``/``port``) until SIGTERM or Ctrl-C.

``/healthz`` (the index and the store answer) and ``/metrics`` are answered first (``archiver.service``);
``/webhooks/meta`` goes to the Meta webhook receiver (when an account names an app secret),
``/webhooks/youtube`` to the YouTube push receiver (when ``[serve] public_url`` is set and a YouTube
account takes pushes; its subscriptions are kept at the hub meanwhile); every other path to the
clerks' and lawyers' web app (unless ``[web] enabled = false``).
"""

from __future__ import annotations

import argparse
import logging
import threading
from typing import Any

from archiver.cli.app import EXIT_OK, App, Failure
from archiver.credentials import credential, where
from archiver.service.supervision import Supervision
from archiver.webhooks.app import MetaWebhookApp
from archiver.webhooks.intake import WebhookIntake
from archiver.webhooks.meta import app_secrets
from archiver.webhooks.subscriber import WebSubSubscriber
from archiver.webhooks.websub import PATH as YOUTUBE_PATH
from archiver.webhooks.websub import YouTubePushApp, push_accounts

log = logging.getLogger("archiver")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("serve", help="the web app, Meta webhooks and YouTube pushes at /webhooks/")
    parser.add_argument("--host", help="address to listen on (default [serve] host)")
    parser.add_argument("--port", type=int, help="port to listen on (default [serve] port)")
    parser.set_defaults(handler=run, daemon_logging=True)


def _verify_token(app: App) -> str | None:
    verify = app.config.serve.verify_token_env
    token = credential(verify) if verify else None
    if verify and not token:
        raise Failure(f"serve.verify_token_env: {where(verify)}")
    return token


def build(app: App) -> tuple[MetaWebhookApp | None, WebhookIntake | None]:
    config = app.config
    secrets = app_secrets(config)
    pushes = bool(config.serve.public_url and push_accounts(config))
    if not secrets:
        if not config.web.enabled and not pushes:
            raise Failure("no Facebook or Instagram account names app_secret_env: webhook signatures cannot be "
                          "checked, and [web] enabled = false: nothing to serve")
        log.warning("Meta webhooks off: no Facebook or Instagram account names app_secret_env")
        return None, WebhookIntake(config, app.db, app.storage).start() if pushes else None
    intake = WebhookIntake(config, app.db, app.storage).start()
    return MetaWebhookApp(config, intake, _verify_token(app), secrets), intake


def youtube_push(app: App, intake: WebhookIntake | None) -> tuple[YouTubePushApp | None, WebSubSubscriber | None]:
    """The receiver of YouTube pushes, and the subscriptions it answers for (when [serve] public_url is set)."""
    accounts = push_accounts(app.config)
    if intake is None or not app.config.serve.public_url or not accounts:
        if accounts:
            log.warning("YouTube pushes off: set [serve] public_url to the address the hub can reach this server at")
        return None, None
    token = _verify_token(app)
    receiver = YouTubePushApp(app.config, intake, token)
    for account in accounts.values():
        if account.name not in receiver.secrets:
            log.warning("%s: no websub_secret_env, so pushes for it cannot be authenticated (each only causes a "
                        "re-fetch from the API)", account.name)
    subscriber = WebSubSubscriber(app.config, list(accounts.values()), token, receiver.secrets)
    receiver.on_lease = subscriber.leased
    return receiver, subscriber  # started once the server listens: the hub's verification must find it


def jetstream(app: App, intake: WebhookIntake | None) -> list[Any]:
    """Jetstream subscriptions of the Bluesky accounts with ``jetstream_url`` (archived like webhooks)."""
    from archiver.webhooks.jetstream import start_subscriptions

    if not any(a.platform == "bluesky" and a.options().get("jetstream_url") for a in app.config.accounts):
        return []
    intake = intake or WebhookIntake(app.config, app.db, app.storage)
    return start_subscriptions(app.config, app.db, intake)


def build_web(app: App) -> tuple[Any, Any, Any]:
    """The web app with its export job runner and replay service (or Nones when it is off)."""
    if not app.config.web.enabled:
        return None, None, None
    from archiver.exports.jobs import JobRunner
    from archiver.web.app import Archive, create_app
    from archiver.web.replay import ReplayService

    jobs = JobRunner(app.config, app.db, app.storage).start()
    replay = ReplayService(app.config.data_dir / "web" / "replay", app.storage)
    try:
        web = create_app(Archive(app.config, app.db, app.storage, jobs, replay))
    except ValueError as exc:
        jobs.stop()
        raise Failure(str(exc)) from None
    return web, jobs, replay


def _not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"not found; the web app is off ([web] enabled = false)"
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def run(app: App, args: argparse.Namespace) -> int:
    from waitress.server import create_server

    from archiver.cli.harvest import stop_on_signals
    from archiver.web.dispatch import Dispatch

    app.recover()
    hooks, intake = build(app)
    pushes, subscriber = youtube_push(app, intake)
    web, jobs, replay = build_web(app)
    subscriptions = jetstream(app, intake)
    routes: dict[str, Any] = {"/webhooks/": hooks} if hooks is not None else {}
    if pushes is not None:
        routes[YOUTUBE_PATH] = pushes
    supervision = Supervision(app.config, app.db, app.storage)  # /healthz and /metrics, systemd READY
    wsgi = supervision.endpoints(Dispatch(routes, web or _not_found))
    host, port = args.host or app.config.serve.host, args.port if args.port is not None else app.config.serve.port
    try:
        server = create_server(wsgi, host=host, port=port, threads=8)
    except OSError as exc:
        for service in (*subscriptions, subscriber, intake, jobs, replay):
            if service is not None:
                service.stop()
        raise Failure(f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what uses that port, "
                      "or choose another with [serve] port or --port") from None
    stop = threading.Event()
    watcher = threading.Thread(target=lambda: (stop.wait(), server.close()), daemon=True)
    watcher.start()
    receivers = " and ".join(f"at {path}" for path, on in (("/webhooks/meta", hooks), (YOUTUBE_PATH, pushes)) if on)
    log.warning("serving at http://%s:%s/ (web app %s, webhooks %s); stop with SIGTERM or Ctrl-C", host,
                server.effective_port, "on" if web else "off", receivers or "off")  # type: ignore[union-attr]
    if subscriber is not None:
        subscriber.start()
    supervision.start(f"serving on port {server.effective_port}")  # type: ignore[union-attr]
    with stop_on_signals(stop):
        try:
            server.run()
        except (KeyboardInterrupt, OSError):
            pass
        finally:
            stop.set()
            supervision.stop()
            for service in (*subscriptions, subscriber, intake, jobs, replay):
                if service is not None:
                    service.stop()
    return EXIT_OK
