"""Running as a service: logging, health and metrics over HTTP, systemd notification, config reload.

The daemon (``archiver run``) and the web service (``archiver serve``) only wire these parts:
``logs`` (INFO lines of our own, libraries at WARNING, text or JSON, secrets masked),
``health`` (probes of the scheduler, index and store, kept off the request path),
``metrics`` (Prometheus), ``http`` (``/healthz`` and ``/metrics``), ``sdnotify`` (READY,
WATCHDOG, RELOADING, STOPPING) and ``reload`` (SIGHUP re-reads the config).
"""
