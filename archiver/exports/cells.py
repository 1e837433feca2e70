"""Spreadsheet-safe cells for every CSV (and tab-separated listing) the archiver writes.

What people post is untrusted: a comment that starts with ``=`` becomes a formula when a clerk
opens the release in a spreadsheet, and ``=HYPERLINK(…)`` or ``=cmd|…`` runs there. The OWASP
CSV-injection rule: a text cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage
return is written with a leading ``'``, which spreadsheets show as text and never evaluate.
Numbers stay numbers. (The XLSX part types its cells as strings instead.)

>>> [inert(v) for v in ("=1+1", "-2", "@SUM(A1)", "\\t=1", "plain", -3, None)]
["'=1+1", "'-2", "'@SUM(A1)", "'\\t=1", 'plain', -3, None]
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """``value`` as a spreadsheet will take it literally: text that could start a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose every text cell passes through ``inert``."""

    def __init__(self, handle: IO[str], **options: Any):
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([inert(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def tsv_cell(value: Any) -> str:
    """One cell of a tab-separated listing: on one line, no tab inside, never a formula."""
    text = str(inert("" if value is None else str(value)))
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
