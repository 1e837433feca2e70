"""Storage in a local folder (the default): ``file:///var/lib/archiver/warcs``.

Objects are written to a temporary name, flushed to disk, checked against the expected
SHA-256, then renamed into place and made read-only. The folder does not enforce retention
the way S3 Object Lock does; production deployments that need WORM use S3.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from storage.base import (
    CHUNK,
    ObjectConflict,
    ObjectInfo,
    Storage,
    StorageError,
    StorageUnavailable,
    StoredObject,
    fsync_dir,
)


class LocalStorage(Storage):
    """
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "in.txt").write_bytes(b"abc") and None
    >>> store = LocalStorage(root / "store")
    >>> store.put("a/b.txt", root / "in.txt", hashlib.sha256(b"abc").hexdigest()).size
    3
    >>> store.read_range("a/b.txt", 1, 2)
    b'bc'
    """

    def __init__(self, root: Path):
        self.root = root
        self.url = f"file://{root}"

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"refusing object key {key!r}: keys are relative paths without '..'")
        return self.root / key

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"storage folder {self.root} cannot be created: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"storage folder {self.root} is not writable by this user")

    def put(self, key: str, path: Path, sha256: str, *, retain_until: datetime | None = None) -> StoredObject:
        target = self._path(key)
        size = path.stat().st_size
        if target.exists():
            if self.sha256(key) != sha256:
                raise ObjectConflict(f"{key} already exists in {self.root} with different bytes; not overwritten")
            return StoredObject(key, size, sha256)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
            digest = hashlib.sha256()
            with path.open("rb") as source, temporary.open("wb") as sink:
                while block := source.read(CHUNK):
                    digest.update(block)
                    sink.write(block)
                sink.flush()
                os.fsync(sink.fileno())
            if digest.hexdigest() != sha256:
                temporary.unlink()
                raise StorageError(f"{key}: bytes changed while storing (expected sha256 {sha256})")
            os.chmod(temporary, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            os.replace(temporary, target)
            fsync_dir(target.parent)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key} under {self.root}: {exc.strerror}") from None
        return StoredObject(key, size, sha256)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise StorageError(f"{key} is not in storage {self.root}") from None

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self.open(key) as handle:
            handle.seek(offset)
            return handle.read(length)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.exists():
            return
        found = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append(ObjectInfo(key, path.stat().st_size))
        yield from sorted(found, key=lambda info: info.key)

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        return ObjectInfo(key, path.stat().st_size) if path.is_file() else None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.chmod(stat.S_IRUSR | stat.S_IWUSR)
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc.strerror}") from None
