"""``archiver serve``: receive Meta webhooks (``[serve] host``/``port``) until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import threading

from archiver.cli.app import EXIT_OK, App, Failure
from archiver.webhooks.app import MetaWebhookApp
from archiver.webhooks.intake import WebhookIntake
from archiver.webhooks.meta import app_secrets

log = logging.getLogger("archiver")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("serve", help="receive Meta webhooks at /webhooks/meta and act on them")
    parser.add_argument("--host", help="address to listen on (default [serve] host)")
    parser.add_argument("--port", type=int, help="port to listen on (default [serve] port)")
    parser.set_defaults(handler=run)


def build(app: App) -> tuple[MetaWebhookApp, WebhookIntake]:
    config = app.config
    verify = config.serve.verify_token_env
    token = None
    if verify:
        import os

        token = os.environ.get(verify)
        if not token:
            raise Failure(f"serve.verify_token_env: environment variable {verify} is not set")
    secrets = app_secrets(config)
    if not secrets:
        raise Failure("no Facebook or Instagram account names app_secret_env: webhook signatures cannot be checked")
    intake = WebhookIntake(config, app.db, app.storage).start()
    return MetaWebhookApp(config, intake, token, secrets), intake


def run(app: App, args: argparse.Namespace) -> int:
    from waitress.server import create_server

    from archiver.cli.harvest import stop_on_signals

    app.recover()
    wsgi, intake = build(app)
    host, port = args.host or app.config.serve.host, args.port if args.port is not None else app.config.serve.port
    server = create_server(wsgi, host=host, port=port, threads=4)
    stop = threading.Event()
    watcher = threading.Thread(target=lambda: (stop.wait(), server.close()), daemon=True)
    watcher.start()
    log.warning("receiving Meta webhooks at http://%s:%s/webhooks/meta; stop with SIGTERM or Ctrl-C", host,
                server.effective_port)  # type: ignore[union-attr]
    with stop_on_signals(stop):
        try:
            server.run()
        except (KeyboardInterrupt, OSError):
            pass
        finally:
            stop.set()
            intake.stop()
    return EXIT_OK
