"""The package as a BagIt bag (RFC 8493, version 1.0), written by path.

bagit-python's ``make_bag`` and ``Bag.save`` change the process's working directory while they
work, and the web app builds packages in background threads of the server, where a second
thread's relative paths would then point into someone else's bag. So the bag is written here,
every path absolute and nothing process-wide touched; the tests validate it with bagit-python.

The payload is already in ``ROOT/data``. Written beside it: ``bagit.txt``, ``bag-info.txt``
(the caller's fields, ``Bagging-Date`` and ``Payload-Oxum``), ``manifest-sha256.txt`` and
``tagmanifest-sha256.txt``. Hashes the caller already has (the certificate lists them) are taken
as given, so a large package is read once, not twice.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "data").mkdir(); _ = (root / "data" / "a.txt").write_text("hello")
    >>> write_bag(root, {"Source-Organization": "City of Testing"})["data/a.txt"][:12]
    '2cf24dba5fb0'
    >>> (root / "bag-info.txt").read_text().splitlines()[1:]
    ['Payload-Oxum: 5.1', 'Source-Organization: City of Testing']
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from storage.base import file_sha256

DECLARATION = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"  # RFC 8493, section 2.1.1
ALGORITHM = "sha256"


def write_bag(root: Path, info: dict[str, str], known: dict[str, str] | None = None) -> dict[str, str]:
    """Make ``root`` (with its payload in ``root/data``) a bag; returns the payload manifest (``data/…`` → SHA-256).

    ``known`` maps paths relative to ``data/`` to SHA-256 digests already computed for those files.
    """
    known = known or {}
    payload = root / "data"
    manifest: dict[str, str] = {}
    size = 0
    for path in sorted(p for p in payload.rglob("*") if p.is_file()):
        name = path.relative_to(payload).as_posix()
        manifest[f"data/{name}"] = known.get(name) or file_sha256(path)
        size += path.stat().st_size
    (root / "bagit.txt").write_text(DECLARATION, encoding="utf-8")
    fields = {"Bagging-Date": date.today().isoformat(), **info, "Payload-Oxum": f"{size}.{len(manifest)}"}
    (root / "bag-info.txt").write_text("".join(f"{label}: {_one_line(value)}\n" for label, value
                                               in sorted(fields.items())), encoding="utf-8")
    _write_manifest(root / f"manifest-{ALGORITHM}.txt", manifest)
    tags = {name: file_sha256(root / name) for name in ("bagit.txt", "bag-info.txt", f"manifest-{ALGORITHM}.txt")}
    _write_manifest(root / f"tagmanifest-{ALGORITHM}.txt", tags)
    return manifest


def _one_line(value: str) -> str:
    return re.sub(r"[\r\n]+", " ", value)


def _write_manifest(path: Path, entries: dict[str, str]) -> None:
    # RFC 8493 section 2.1.3: a line break or a percent sign in a path is percent-encoded.
    lines = [f"{digest}  {_encode(name)}\n" for name, digest in entries.items()]
    path.write_text("".join(lines), encoding="utf-8")


def _encode(name: str) -> str:
    return name.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
