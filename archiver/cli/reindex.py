"""``archiver reindex``: rebuild the index from the WARCs in storage alone."""

from __future__ import annotations

import argparse
import logging

from archiver import audit
from archiver.cli.app import App
from archiver.reindex import reindex

log = logging.getLogger("archiver")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("reindex", help="rebuild the index from the stored WARC files")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    app.recover()  # WARCs still in the spool go to storage first, so they are part of the rebuild
    results = reindex(app.db, app.storage, progress=lambda key: log.info("indexed %s", key))
    records = sum(r.records for r in results)
    versions = sum(r.new_versions for r in results)
    with app.db.session() as session:
        audit.record(session, "reindex", files=len(results), records=records, versions=versions)
    print(f"reindexed {len(results)} WARC file(s), {records} records, {versions} versions")
    return 0
