"""What watches a running service: health probes, metrics, alerts, ``[service] listen``, systemd.

The daemon and ``archiver serve`` each make one ``Supervision`` and only wire it: the daemon
feeds ``metrics.harvests`` and schedules ``alerts.check``; both call ``start()`` once ready and
``stop()`` on the way out. ``start`` probes once before telling systemd READY, so the first
``/healthz`` already knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from archiver.alerts.monitor import AlertMonitor
from archiver.config import Config
from archiver.index.db import IndexDB
from archiver.service import sdnotify
from archiver.service.health import HealthMonitor, Probe, probe_of
from archiver.service.http import Listener, ServiceEndpoints, WsgiApp
from archiver.service.metrics import ServiceMetrics
from storage.base import Storage

log = logging.getLogger(__name__)


class ListenError(Exception):
    """``[service] listen`` cannot be served (the port is taken, the address is not this host's)."""


class Supervision:
    def __init__(self, config: Config, db: IndexDB, storage: Storage, *, scheduler: Callable[[], bool] | None = None):
        probes: dict[str, Probe] = {}
        if scheduler is not None:
            probes["scheduler"] = lambda: None if scheduler() else "the scheduler is not running"
        probes |= {"index": probe_of(db.check), "storage": probe_of(storage.check)}
        self.config = config
        self.health = HealthMonitor(probes, every=config.service.check_seconds, timeout=config.service.timeout_seconds)
        self.metrics = ServiceMetrics(config, db, harvests=scheduler is not None)
        self.alerts = AlertMonitor(config, db, lambda: self.health.problem("storage"))
        self.watchdog = sdnotify.Watchdog(lambda: "scheduler" not in probes or probes["scheduler"]() is None)
        self.listener: Listener | None = None

    def endpoints(self, app: WsgiApp | None = None) -> ServiceEndpoints:
        """``/healthz`` and ``/metrics`` in front of ``app``."""
        return ServiceEndpoints(self.health, self.metrics.registry, app)

    def start(self, status: str, listen: tuple[str, int] | None = None) -> Supervision:
        """Probe, serve ``listen`` if given, and tell systemd the service is ready."""
        self.health.probe_all()
        for problem in self.health.report().problems:
            log.warning("starting although %s", problem)
        self.health.start()
        if listen is not None:
            try:
                self.listener = Listener(self.endpoints(), *listen).start()
            except OSError as exc:
                raise ListenError(f"[service] listen = \"{listen[0]}:{listen[1]}\": {exc.strerror or exc}; "
                                  "choose a free address and port") from None
            log.info("health at %s/healthz, metrics at %s/metrics", self.listener.url, self.listener.url)
        sdnotify.notify("READY=1", f"STATUS={status}")
        self.watchdog.start()
        return self

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self.alerts.reconfigure(config)
        self.metrics.reconfigure(config)

    def stop(self) -> None:
        sdnotify.notify("STOPPING=1")
        self.watchdog.stop()
        if self.listener is not None:
            self.listener.stop()
        self.health.stop()
