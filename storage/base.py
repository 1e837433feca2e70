"""Where sealed WARC files are kept: a small interface that the local folder and S3 implement.

A WARC reaches storage sealed, and ``put`` returns only after the store has verified the
SHA-256 of the bytes it received; nothing is ever overwritten with different bytes.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class StorageError(Exception):
    """A storage operation failed; the message says which object and why."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or refuses our credentials."""


class ObjectConflict(StorageError):
    """An object already exists under the key with different bytes; it is never overwritten."""


class ObjectLocked(StorageError):
    """The store refused to delete or change an object under retention or legal hold."""


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

    @abstractmethod
    def check(self) -> None:
        """Raise StorageUnavailable with a one-line reason if the store cannot be used."""

    @abstractmethod
    def put(self, key: str, path: Path, sha256: str, *, retain_until: datetime | None = None) -> StoredObject:
        """Store ``path`` under ``key``; the store verifies ``sha256`` (hex). Idempotent for equal bytes."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of the whole object."""

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
