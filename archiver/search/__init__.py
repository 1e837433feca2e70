"""Finding items: full text (SQLite FTS5 or PostgreSQL) combined with filters, ranked, paged.

``engine`` builds and runs the query; ``filtered`` ranks matches inside a selective filter on
SQLite; ``phrase`` ranks a single quoted phrase a slice at a time; ``syntax`` parses what people
type, for every face and both engines; ``checks`` refuses a search that cannot run as asked.
Callers (the CLI, cases, holds, exports, the web app) use only the names below.
"""

from sqlalchemy.orm import Session

from archiver.search.checks import check_query
from archiver.search.engine import (
    COUNT_CAP,
    SearchHit,
    SearchPage,
    SearchQuery,
    _count,
    _filters,
    fts5_query,
    matching_ids,
    search,
    state_counts,
)
from archiver.search.syntax import QueryError, parse


def count(session: Session, query: SearchQuery) -> tuple[int, bool]:
    """How many items ``query`` matches, counted up to COUNT_CAP (unranked); and whether that is exact.

    What a facet shows ("deleted 12", "hidden 1,000+") without ranking a page.
    """
    return _count(session, query)


__all__ = ["COUNT_CAP", "QueryError", "SearchHit", "SearchPage", "SearchQuery", "_filters", "check_query", "count",
           "fts5_query", "matching_ids", "parse", "search", "state_counts"]
