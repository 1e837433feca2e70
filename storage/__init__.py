"""Object storage for sealed WARCs: a local folder by default, S3 (with Object Lock) in production."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from storage.base import (
    ObjectConflict,
    ObjectInfo,
    ObjectLocked,
    Storage,
    StorageError,
    StorageUnavailable,
    StoredObject,
)

if TYPE_CHECKING:
    from archiver.config import Config


def open_storage(config: Config) -> Storage:
    """The store named by ``[storage] url``."""
    url = config.storage_url
    if url.startswith("file://"):
        from storage.local import LocalStorage

        return LocalStorage(Path(url[len("file://"):]))
    from storage.s3 import S3Storage

    return S3Storage.from_config(config)


__all__ = [
    "ObjectConflict",
    "ObjectInfo",
    "ObjectLocked",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "open_storage",
]
