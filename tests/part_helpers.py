"""Drive package parts over a case the way the package builder does: start, add each document, finish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.cases.register import case_item_ids, get_case, summary
from archiver.exports.package.documents import documents
from archiver.exports.package.parts import BatesOptions, PackageContext, PackagePart, PartSummary
from case_helpers import MainStreetCase
from conftest import Workspace
from storage import open_storage


def write_parts(workspace: Workspace, case_name: str, data_dir: Path, part_types: list[type[PackagePart]],
                bates: BatesOptions | None = None) -> tuple[PackageContext, list[PartSummary]]:
    """Run the parts over the case's documents in package order; returns the context and the summaries."""
    index = workspace.index()
    try:
        with index.session() as session:
            case = get_case(session, case_name)
            context = PackageContext(session=session, storage=open_storage(workspace.config), data_dir=data_dir,
                                     agency=workspace.config.archiver.agency, case=summary(session, case),
                                     exported_at=datetime.now(UTC), exported_by="clerk@test",
                                     software="gov-social-archiver/0.1.0", bates=bates)
            parts = [part_type(context) for part_type in part_types]
            for part in parts:
                part.start()
            for document in documents(session, case_item_ids(session, case)):
                for part in parts:
                    part.add(document)
            return context, [part.finish() for part in parts]
    finally:
        index.dispose()


def busy_thread(case: MainStreetCase, comments: int = 40) -> None:
    """Add long comments under the Main Street post and harvest, so the post's document runs over pages."""
    post = next(p for p in case.page.posts if p.id == case.post_id)
    for n in range(comments):
        case.page.add_comment(post, post.created + timedelta(minutes=n + 1),
                              f"Comment {n}: " + "the detour signs are confusing at the corner " * 4,
                              (str(6000 + n), f"Resident {n}"))
    assert case.workspace.cli("harvest").code == 0
