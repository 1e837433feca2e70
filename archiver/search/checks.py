"""Whether a search can run as asked, checked the same way by every face before it runs.

The words must parse (search/syntax.py) and every account named must exist, in the config or
in the index (an account dropped from the config keeps its archived items): a misspelt
``--account`` must be an error, not a search that quietly finds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.index.models import Account
from archiver.search.engine import SearchQuery
from archiver.search.syntax import QueryError, common_words, parse


def check_query(session: Session, query: SearchQuery, configured: Sequence[str]) -> list[str]:
    """Notes to show with the results (words left out, nothing to search for); raises QueryError
    (one line with a hint) when the query cannot run as asked."""
    parsed = parse(query.text) if query.text else None
    notes = list(parsed.notes) if parsed else []
    common = common_words(parsed) if parsed and session.get_bind().dialect.name == "postgresql" else []
    if common:
        notes.append(f"PostgreSQL does not index words as common as {', '.join(common)}; this search ignores them")
    if query.accounts:
        archived = session.scalars(select(Account.name).where(Account.name.in_(query.accounts)))
        known = set(configured) | set(archived)
        unknown = [name for name in query.accounts if name not in known]
        if unknown:
            raise QueryError(f"no account named '{unknown[0]}' (known: {', '.join(configured) or 'none configured'})")
    return notes
