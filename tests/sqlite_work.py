"""The work an SQLite statement does, counted in virtual-machine steps: a measure of cost that,
unlike time, does not depend on the machine or on what else runs on it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session


def steps(session: Session, run: Callable[[], object]) -> int:
    """Virtual-machine steps of the session's connection while ``run`` runs."""
    raw = session.connection().connection.driver_connection
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0  # carry on

    raw.set_progress_handler(tick, 1)
    try:
        run()
    finally:
        raw.set_progress_handler(None, 0)
    return counted[0]
