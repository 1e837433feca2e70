"""Where sealed WARC files are kept: a small interface that the local folder and S3 implement.

A WARC reaches storage sealed, and ``put`` returns only after the store has verified the
SHA-256 of the bytes it received; nothing is ever overwritten with different bytes.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

CHUNK = 1024 * 1024
STOP_GRACE_SECONDS = 10.0  # after a stop request, how long storage still gets to answer
_T = TypeVar("_T")


class StorageError(Exception):
    """A storage operation failed; the message says which object and why."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or refuses our credentials."""


class ObjectConflict(StorageError):
    """An object already exists under the key with different bytes; it is never overwritten."""


class ObjectLocked(StorageError):
    """The store refused to delete or change an object under retention or legal hold."""


@dataclass(frozen=True)
class DeleteMarker:
    """A versioned bucket's delete marker in front of a key (a delete without a version id)."""

    hides_version: bool  # a real version is still behind it

    def __str__(self) -> str:
        if not self.hides_version:
            return "deleted: only a delete marker is left in the bucket"
        return "hidden behind a delete marker (deleted without a version id; delete the marker to restore it)"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    retain_until: datetime | None = None
    version_id: str | None = None


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (the directory entry itself is flushed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Patience:
    """How long a storage call may take: an optional deadline, and a stop request after which
    the store gets ``grace`` seconds more. A call past either is abandoned (see ``within``)."""

    def __init__(self) -> None:
        self.stop: threading.Event | None = None
        self.grace = STOP_GRACE_SECONDS

    def within(self, call: Callable[[], _T], what: str, seconds: float | None = None) -> _T:
        """``call()``, unless it takes more than ``seconds`` or goes on ``grace`` seconds past a stop.

        The call runs in a daemon thread, so a store that accepts a connection and never answers
        (frozen, or a black-holed network) cannot hold the caller, nor the process's exit; the
        abandoned thread ends with its own socket timeout. Raises ``StorageUnavailable``.
        """
        outcome: list[_T] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                outcome.append(call())
            except BaseException as exc:
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, name=f"storage: {what}", daemon=True).start()
        started = time.monotonic()
        stopped_at: float | None = None
        while not done.wait(0.05):
            clock = time.monotonic()
            if seconds is not None and clock - started >= seconds:
                raise StorageUnavailable(f"{what}: storage did not finish within {seconds:g} s")
            if self.stop is not None and self.stop.is_set():
                stopped_at = stopped_at if stopped_at is not None else clock
                if clock - stopped_at >= self.grace:
                    raise StorageUnavailable(f"{what}: abandoned on the stop request; storage did not answer "
                                             f"within {self.grace:g} s")
        if failure:
            raise failure[0]
        return outcome[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def stream_sha256(stream: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while block := stream.read(CHUNK):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


class Storage(ABC):
    """Object storage for sealed WARCs, addressed by key ("rss/city-news/2026/11/….warc.gz")."""

    url: str
    patience: Patience | None = None  # stores that can hang (network) bound their calls with it

    def stop_when(self, stop: threading.Event, grace: float = STOP_GRACE_SECONDS) -> None:
        """After ``stop`` is set, calls that get no answer within ``grace`` seconds are abandoned
        (StorageUnavailable), so a hung store cannot keep a stopping process alive."""
        if self.patience is not None:
            self.patience.stop, self.patience.grace = stop, grace

    @abstractmethod
    def check(self) -> None:
        """Raise StorageUnavailable with a one-line reason if the store cannot be used."""

    @abstractmethod
    def put(self, key: str, path: Path, sha256: str, *, retain_until: datetime | None = None) -> StoredObject:
        """Store ``path`` under ``key``; the store verifies ``sha256`` (hex). Idempotent for equal bytes."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of the whole object."""

    def open_to_hash(self, key: str) -> BinaryIO:
        """``open``, for a reader that computes the SHA-256 of every byte itself (fixity): a store that
        checks what it sends may skip its own check."""
        return self.open(key)

    @abstractmethod
    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (a ranged read on S3)."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size of the object, or None if there is none under ``key``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; raises ObjectLocked if retention or a legal hold forbids it."""

    def with_hidden_versions(self) -> Storage:
        """This store as reindex and fixity need it: on a versioned bucket, objects hidden behind a
        delete marker (a delete without a version id) are listed and read from their newest
        version. A store without versions is itself."""
        return self

    def hidden_versions(self) -> dict[str, str]:
        """Keys this view found behind a delete marker, with the version it reads for each."""
        return {}

    def delete_marker(self, key: str) -> DeleteMarker | None:
        """The delete marker that makes ``key`` read as missing, if that is the reason."""
        return None

    def set_legal_hold(self, key: str, on: bool) -> bool:
        """Turn the store's legal hold on or off; False where the store has no such feature."""
        return False

    def sha256(self, key: str) -> str:
        """Recompute the SHA-256 of a stored object by reading it back."""
        with self.open(key) as stream:
            return stream_sha256(stream)[0]

    def lock_reason(self, key: str) -> str | None:
        """Why the store would refuse to delete ``key`` now (retention, legal hold), or None."""
        return None

    def set_retention(self, key: str, until: datetime) -> bool:
        """Lock an object until ``until`` (Object Lock); False where the store cannot lock."""
        return False
