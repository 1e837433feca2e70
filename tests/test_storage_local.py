"""Storage in a local folder: verified, never overwritten, read-only, with one-line errors."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from storage import ObjectConflict, StorageError, StorageUnavailable
from storage.local import LocalStorage

KEY = "rss/news/2026/11/a.warc.gz"


def sealed(tmp_path: Path, data: bytes, name: str = "in.warc.gz") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    storage.check()
    data = bytes(range(256)) * 10
    path, digest = sealed(tmp_path, data)
    stored = storage.put(KEY, path, digest)
    assert (stored.key, stored.size, stored.sha256) == (KEY, len(data), digest)
    with storage.open(KEY) as stream:
        assert stream.read() == data
    assert storage.read_range(KEY, 100, 10) == data[100:110]
    assert storage.stat(KEY).size == len(data) and storage.stat("rss/missing.warc.gz") is None
    assert storage.sha256(KEY) == digest
    assert storage.put(KEY, path, digest) == stored  # idempotent for the same bytes
    assert storage.url == f"file://{tmp_path / 'store'}"
    with pytest.raises(StorageError, match="not in storage"):
        storage.open("rss/missing.warc.gz")
    storage.delete(KEY)
    assert storage.stat(KEY) is None
    storage.delete(KEY)  # already gone: not an error


def test_stored_files_are_read_only(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    path, digest = sealed(tmp_path, b"record")
    storage.put(KEY, path, digest)
    mode = stat.S_IMODE((tmp_path / "store" / KEY).stat().st_mode)
    assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0 and mode & stat.S_IRUSR


def test_a_wrong_digest_leaves_nothing_behind(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    path, _ = sealed(tmp_path, b"what was sealed")
    with pytest.raises(StorageError, match="expected sha256") as failure:
        storage.put(KEY, path, hashlib.sha256(b"something else").hexdigest())
    assert "\n" not in str(failure.value)
    assert files_under(tmp_path / "store") == []  # neither the object nor a .partial file
    assert storage.stat(KEY) is None and list(storage.list()) == []


def test_different_bytes_are_never_overwritten(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    path, digest = sealed(tmp_path, b"the record")
    storage.put(KEY, path, digest)
    other, other_digest = sealed(tmp_path, b"a forgery", "other.warc.gz")
    with pytest.raises(ObjectConflict, match=r"already exists .* with different bytes"):
        storage.put(KEY, other, other_digest)
    assert storage.read_range(KEY, 0, 100) == b"the record"


def test_list_is_in_key_order_and_skips_partial_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    path, digest = sealed(tmp_path, b"x")
    keys = ["x/z.warc.gz", "rss/news/2026/12/c.warc.gz", "rss/news/2026/10/b.warc.gz", "rss/a.warc.gz"]
    for key in keys:
        storage.put(key, path, digest)
    (tmp_path / "store" / "rss" / ".a.warc.gz.123.partial").write_bytes(b"half")  # an interrupted upload
    assert [info.key for info in storage.list()] == sorted(keys)
    assert [info.key for info in storage.list("rss/news/")] == ["rss/news/2026/10/b.warc.gz",
                                                                "rss/news/2026/12/c.warc.gz"]
    assert all(info.size == 1 for info in storage.list())
    assert list(LocalStorage(tmp_path / "never-created").list()) == []


@pytest.mark.parametrize("key", ["../outside.warc.gz", "rss/../../outside.warc.gz", "/etc/passwd"])
def test_keys_cannot_leave_the_folder(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "store")
    path, digest = sealed(tmp_path, b"x")
    with pytest.raises(StorageError, match="refusing object key"):
        storage.put(key, path, digest)
    with pytest.raises(StorageError, match="refusing object key"):
        storage.stat(key)
    assert not (tmp_path / "outside.warc.gz").exists()


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    # chmod does not stop root, so put the folder under a regular file, where mkdir fails for anyone.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    storage = LocalStorage(blocker / "warcs")
    with pytest.raises(StorageUnavailable) as failure:
        storage.check()
    assert str(failure.value) == f"storage folder {blocker / 'warcs'} cannot be created: Not a directory"
    path, digest = sealed(tmp_path, b"x")
    with pytest.raises(StorageUnavailable, match=r"^cannot write rss/a.warc.gz under .*: Not a directory$"):
        storage.put("rss/a.warc.gz", path, digest)
