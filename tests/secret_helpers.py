"""The bytes a credential must never be in: every stored and spooled WARC (as stored and
decompressed), the JSON Lines and WARC exports, and what the commands printed and logged."""

from __future__ import annotations

import gzip

from conftest import Workspace
from graph_helpers import warc_bytes


def assert_never_recorded(workspace: Workspace, secrets: list[str], printed: str) -> bytes:
    """Export everything, then search every byte for each secret; returns all bytes searched."""
    for form in ("jsonl", "warc"):
        assert workspace.cli("export", "--format", form, "--out", str(workspace.root / f"out-{form}")).code == 0
    blobs = [raw + plain for _, raw, plain in warc_bytes(workspace)]
    blobs += [p.read_bytes() for form in ("jsonl", "warc") for p in (workspace.root / f"out-{form}").iterdir()]
    blobs += [gzip.decompress(p.read_bytes()) for p in (workspace.root / "out-warc").glob("*.warc.gz")]
    blobs.append(printed.encode())
    everything = b"".join(blobs)
    for secret in secrets:
        assert secret.encode() not in everything, f"{secret[:6]}… found in a record, an export or a log line"
    return everything
