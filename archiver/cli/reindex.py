"""``archiver reindex``: rebuild the index from the WARCs in storage alone."""

from __future__ import annotations

import argparse
import logging

from archiver import audit
from archiver.cli.app import App, Failure
from archiver.reindex import reindex
from archiver.storecheck import survey

log = logging.getLogger("archiver")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("reindex", help="rebuild the index from the stored WARC files")
    parser.add_argument("--allow-missing", action="store_true",
                        help="rebuild even if WARCs the index knows as stored are missing (their items go)")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    app.recover()  # WARCs still in the spool go to storage first, so they are part of the rebuild
    storage = app.storage.with_hidden_versions()  # what a delete marker hides is still the record
    found = survey(app.db, storage)
    if found.missing and not args.allow_missing:
        raise Failure(f"{len(found.missing)} of {found.known} WARC file(s) the index knows as stored are missing from "
                      f"storage {storage.url}: {found.names(found.missing)}; nothing was changed (restore them, or "
                      "run `archiver reindex --allow-missing` to rebuild without them)")
    if found.hidden:
        print(f"{len(found.hidden)} WARC file(s) hidden behind a delete marker were read from their newest version: "
              f"{found.names(found.hidden)} (delete the markers to restore them; `archiver verify` lists them)")
    results = reindex(app.db, storage, progress=lambda key: log.info("indexed %s", key),
                      body_max_bytes=app.config.capture.body_max_bytes)
    records = sum(r.records for r in results)
    versions = sum(r.new_versions for r in results)
    with app.db.session() as session:
        audit.record(session, "reindex", files=len(results), records=records, versions=versions,
                     missing=found.missing, hidden=found.hidden)
    if found.missing:
        print(f"{len(found.missing)} WARC file(s) missing from storage were left out: {found.names(found.missing)}")
    print(f"reindexed {len(results)} WARC file(s), {records} records, {versions} versions")
    return 0
