"""Replay of archived records in pywb, from the stored WARCs, behind the app's sign-in.

pywb runs as its own process (it patches the interpreter with gevent, which must not happen in
the server's), started on first use on a free loopback port and stopped with the server. For
each item replayed, its records (each version's first and last evidence, the requests behind
them, media captures and the originals of revisits) are cut from storage into a small WARC with
a CDXJ index — a pywb collection under ``<data_dir>/web/replay/collections/`` — exactly as a
case's WACZ is written. The app proxies ``/replay/<collection>/<timestamp>id_/<url>`` to pywb:
the archived response as captured, byte for byte, in the replay view's frame.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archiver.exports.wacz import Span, evidence_spans, revisit_originals, write_wacz
from archiver.items import history_evidence
from storage.base import Storage

log = logging.getLogger(__name__)


class ReplayUnavailable(Exception):
    """pywb cannot be started; the message says why and what to install."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wayback_command() -> str | None:
    beside = Path(sys.executable).parent / "wayback"
    return str(beside) if beside.exists() else shutil.which("wayback")


class ReplayService:
    def __init__(self, root: Path, storage: Storage):
        self.root = root
        self.storage = storage
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.lock = threading.Lock()

    def collection(self, session: Session, history: dict[str, Any]) -> str:
        """The pywb collection holding ``history``'s records, written on first use."""
        spans: set[Span] = set()
        revisits = []
        for evidence in history_evidence(history):
            spans.update(evidence_spans(evidence))
            if evidence["record_type"] == "revisit":
                revisits.append(evidence["record_id"])
        for original in revisit_originals(session, revisits).values():
            spans.update(evidence_spans(original))
        name = "i" + hashlib.sha256(repr(sorted(spans)).encode()).hexdigest()[:20]
        folder = self.root / "collections" / name
        if not (folder / "indexes" / "index.cdxj").exists():
            self._write(folder, spans, history["id"])  # ACCOUNT:PLATFORM-ID
        return name

    def _write(self, folder: Path, spans: set[Span], item: str) -> None:
        scratch = self.root / "scratch" / folder.name
        scratch.mkdir(parents=True, exist_ok=True)
        package = write_wacz(self.storage, spans, scratch / "item.wacz", title=f"records of {item}",
                             description={"item": item}, kind="replay")
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        (partial / "archive").mkdir(parents=True)
        (partial / "indexes").mkdir()
        with zipfile.ZipFile(package.path) as archive:
            (partial / "archive" / "data.warc.gz").write_bytes(archive.read("archive/data.warc.gz"))
            (partial / "indexes" / "index.cdxj").write_bytes(archive.read("indexes/index.cdxj"))
        shutil.rmtree(scratch, ignore_errors=True)
        if not folder.exists():
            partial.replace(folder)
        else:
            shutil.rmtree(partial, ignore_errors=True)

    def base_url(self) -> str:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self._start()
            return f"http://127.0.0.1:{self.port}"

    def _start(self) -> None:
        command = wayback_command()
        if command is None:
            raise ReplayUnavailable("pywb is not installed (its 'wayback' command is missing); "
                                    "reinstall the archiver with its dependencies")
        (self.root / "collections").mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.process = subprocess.Popen([command, "-p", str(self.port), "-b", "127.0.0.1", "-d", str(self.root)],
                                        cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise ReplayUnavailable("pywb did not start; see the server log") from None
                time.sleep(0.2)

    def fetch(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """GET ``path`` from pywb: status, headers, body."""
        request = urllib.request.Request(self.base_url() + path)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, list(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, list(error.headers.items()), error.read()

    def stop(self) -> None:
        with_process, self.process = self.process, None
        if with_process is not None and with_process.poll() is None:
            with_process.terminate()
            try:
                with_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with_process.kill()
                with_process.wait()
