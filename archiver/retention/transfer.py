"""Transfer before destruction: a valid WACZ package of the records being transferred.

``write_package`` is the one entry point disposition uses; the package itself is written by
the shared writer (``archiver/exports/wacz.py``, WACZ 1.1.1), so a transfer and a case
package hold records the same way: cut from the stored WARCs by byte range, digests intact.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from archiver.exports.wacz import WACZ_VERSION, Package, write_wacz
from storage.base import Storage

__all__ = ["WACZ_VERSION", "Package", "write_package"]


def write_package(storage: Storage, spans: Iterable[tuple[str, int, int]], out: Path, *, title: str,
                  description: dict[str, object]) -> Package:
    """Write the records at ``spans`` ((key, offset, length), any order) into the WACZ file ``out``."""
    return write_wacz(storage, spans, out, title=title, description=dict(description), kind="transfer")
