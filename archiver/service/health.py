"""Health: is the service doing its job? Probes of the scheduler, the index and the store.

Probes run in the background every ``[service] check_every``, each in its own thread, so an
answer to ``/healthz`` never waits on a store that hangs: a probe still without an answer after
``check_timeout`` counts as failed ("no answer within 10 s"), and no second probe of the same
thing starts while one hangs. ``report()`` is what ``/healthz`` says and what alerts read.

>>> monitor = HealthMonitor({"index": lambda: None, "storage": lambda: "bucket missing"}, every=60, timeout=5)
>>> monitor.probe_all(); monitor.report().problems
['storage: bucket missing']
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
Probe = Callable[[], str | None]  # None when fine, else the problem in one line


@dataclass
class _State:
    problem: str | None = None
    started: float | None = None  # monotonic time of the probe in flight
    thread: threading.Thread | None = None


@dataclass(frozen=True)
class HealthReport:
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        return "ok" if self.ok else "\n".join(self.problems)


class HealthMonitor:
    def __init__(self, probes: dict[str, Probe], *, every: float = 15.0, timeout: float = 10.0):
        self.probes, self.every, self.timeout = probes, every, timeout
        self._states = {name: _State() for name in probes}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run_probe(self, name: str) -> None:
        try:
            problem = self.probes[name]()
        except Exception as exc:  # a probe's own failure is a failed probe, with its reason
            problem = f"{type(exc).__name__}: {exc}"
        with self._lock:
            state = self._states[name]
            if problem and problem != state.problem:
                log.warning("health: %s: %s", name, problem)
            elif not problem and state.problem:
                log.info("health: %s answers again", name)
            state.problem, state.started, state.thread = problem, None, None

    def probe_all(self, wait: bool = True) -> None:
        """Start a probe of everything not already being probed (and wait up to the timeout)."""
        started = []
        with self._lock:
            for name, state in self._states.items():
                if state.thread is not None:
                    continue  # still hanging: no pile-up of stuck probes
                state.started = time.monotonic()
                state.thread = threading.Thread(target=self._run_probe, args=(name,), name=f"health-{name}",
                                                daemon=True)
                started.append(state.thread)
        for thread in started:
            thread.start()
        if wait:
            deadline = time.monotonic() + self.timeout
            for thread in started:
                thread.join(max(0.0, deadline - time.monotonic()))

    def problem(self, name: str) -> str | None:
        """The latest result of one probe (a hanging probe past the timeout is a problem)."""
        with self._lock:
            state = self._states[name]
            if state.started is not None and time.monotonic() - state.started > self.timeout:
                return f"no answer within {self.timeout:g} s"
            return state.problem

    def report(self) -> HealthReport:
        problems = [f"{name}: {problem}" for name in self.probes if (problem := self.problem(name))]
        return HealthReport(problems)

    def start(self) -> HealthMonitor:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="health", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while True:
            self.probe_all()
            if self._stop.wait(self.every):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None


def probe_of(check: Callable[[], None]) -> Probe:
    """A probe from a check that raises when something is wrong (``IndexDB.check``, ``Storage.check``)."""
    def probe() -> str | None:
        try:
            check()
        except Exception as exc:
            return str(exc) or type(exc).__name__
        return None
    return probe
