"""Case packages: WACZ and native parts over a few thousand items of a harvested fake Page.

A synthetic Facebook Page is harvested from the fake Graph API (over real sockets), every
item goes into one case, and the parts are driven as the package builder drives them.
Reported, in items/s: building the case's documents (histories and threads, the builder's
share), the WACZ part alone over those documents (add + finish: revisit originals, ranged
reads, cdxj index, pages, zip), and the native part alone.

    python bench/package_wacz.py
    python bench/package_wacz.py --posts 200 --comments 4000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from archiver.cases.register import case_item_ids, get_case, summary  # noqa: E402
from archiver.exports.package.documents import documents  # noqa: E402
from archiver.exports.package.native import NativePart  # noqa: E402
from archiver.exports.package.parts import PackageContext, PackagePart  # noqa: E402
from archiver.exports.package.wacz import WaczPart  # noqa: E402
from conftest import Workspace  # noqa: E402
from connectors.facebook.fakepage import FakePage  # noqa: E402
from graph_helpers import graph_account  # noqa: E402
from storage import open_storage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=150)
    parser.add_argument("--comments", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-package-") as scratch:
        workspace = Workspace(Path(scratch))
        page = FakePage.synthetic(args.posts, args.comments)
        with graph_account(workspace, page, account_id=page.page_id, page_size=100):
            started = time.perf_counter()
            result = workspace.cli("harvest")
            assert result.code == 0, result.err
            print(f"harvest: {time.perf_counter() - started:.1f} s")
        assert workspace.cli("request", "new", "BENCH").code == 0
        assert workspace.cli("request", "add", "BENCH", "--account", "city-fb").code == 0
        db = workspace.index()
        with db.session() as session:
            case = get_case(session, "BENCH")
            ids = case_item_ids(session, case)
            started = time.perf_counter()
            docs = list(documents(session, ids))
            took = time.perf_counter() - started
            print(f"documents: {len(docs)} items in {took:.2f} s = {len(docs) / took:,.0f} items/s")
            for kind in (WaczPart, NativePart):
                context = PackageContext(session, open_storage(workspace.config), Path(scratch) / kind.name / "data",
                                         "City", summary(session, case), datetime.now(UTC), "bench", "bench")
                part: PackagePart = kind(context)
                started = time.perf_counter()
                part.start()
                for document in docs:
                    part.add(document)
                made = part.finish()
                took = time.perf_counter() - started
                detail = {k: v for k, v in made.details.items() if k in ("records", "payloads", "bytes")}
                print(f"{kind.name}: {len(docs)} items in {took:.2f} s = {len(docs) / took:,.0f} items/s {detail}")
        db.dispose()


if __name__ == "__main__":
    main()
