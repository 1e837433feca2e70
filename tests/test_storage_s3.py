"""S3 storage against a real SeaweedFS server with Object Lock."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from seaweed import SeaweedServer, storage_lines

from archiver.config import parse_config
from storage import ObjectConflict, ObjectLocked, StorageError, StorageUnavailable, open_storage
from storage.s3 import S3Storage

pytestmark = pytest.mark.s3


def store(tmp_path: Path, server: SeaweedServer, bucket: str, **options: object) -> S3Storage:
    config = parse_config(f"[storage]\n{storage_lines(server, bucket)}", base_dir=tmp_path, check_platforms=False)
    storage = S3Storage.from_config(config, **options)
    storage.check()
    return storage


def blob(tmp_path: Path, data: bytes, name: str = "x.warc.gz") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_round_trip_under_the_prefix(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str,
                                     s3_env: tuple[str, str]) -> None:
    storage = store(tmp_path, seaweedfs, s3_bucket)
    path, digest = blob(tmp_path, b"0123456789" * 100)
    stored = storage.put("rss/news/2026/11/a.warc.gz", path, digest)
    assert stored.size == 1000 and stored.version_id
    assert storage.read_range("rss/news/2026/11/a.warc.gz", 5, 10) == b"5678901234"
    assert [i.key for i in storage.list()] == ["rss/news/2026/11/a.warc.gz"]
    assert storage.stat("rss/news/2026/11/a.warc.gz").size == 1000
    assert storage.stat("missing") is None
    assert storage.sha256("rss/news/2026/11/a.warc.gz") == digest
    keys = [o["Key"] for o in seaweedfs.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == ["city/rss/news/2026/11/a.warc.gz"]
    assert storage.put("rss/news/2026/11/a.warc.gz", path, digest).size == 1000  # idempotent
    other, other_digest = blob(tmp_path, b"different", "y")
    with pytest.raises(ObjectConflict):
        storage.put("rss/news/2026/11/a.warc.gz", other, other_digest)


def test_the_store_refuses_bytes_that_do_not_match_their_digest(tmp_path: Path, seaweedfs: SeaweedServer,
                                                                s3_bucket: str, s3_env: tuple[str, str]) -> None:
    storage = store(tmp_path, seaweedfs, s3_bucket)
    path, _ = blob(tmp_path, b"what was sealed")
    with pytest.raises(StorageError, match="SHA-256 did not match"):
        storage.put("k.warc.gz", path, hashlib.sha256(b"something else").hexdigest())
    assert storage.stat("k.warc.gz") is None


def test_object_lock_and_legal_hold_stop_deletion(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str,
                                                  s3_plain_bucket: str, s3_env: tuple[str, str]) -> None:
    storage = store(tmp_path, seaweedfs, s3_bucket)
    path, digest = blob(tmp_path, b"record")
    until = datetime.now(UTC) + timedelta(days=1)
    assert storage.put("locked.warc.gz", path, digest, retain_until=until).retain_until == until
    retention = seaweedfs.client().get_object_retention(Bucket=s3_bucket, Key="city/locked.warc.gz")["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    with pytest.raises(ObjectLocked, match=r"locked\.warc\.gz"):
        storage.delete("locked.warc.gz")
    assert storage.read_range("locked.warc.gz", 0, 6) == b"record"

    storage.put("held.warc.gz", path, digest)
    assert storage.set_legal_hold("held.warc.gz", True)
    with pytest.raises(ObjectLocked):
        storage.delete("held.warc.gz")
    assert storage.set_legal_hold("held.warc.gz", False)
    storage.delete("held.warc.gz")
    assert storage.stat("held.warc.gz") is None

    plain = store(tmp_path, seaweedfs, s3_plain_bucket)
    plain.put("p.warc.gz", path, digest)
    assert not plain.set_legal_hold("p.warc.gz", True)  # no Object Lock: no legal hold either
    plain.delete("p.warc.gz")
    assert plain.stat("p.warc.gz") is None and list(plain.list()) == []


def test_large_files_go_multipart_with_checksums(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str,
                                                 s3_env: tuple[str, str]) -> None:
    storage = store(tmp_path, seaweedfs, s3_bucket, multipart_threshold=6 * 1024**2, part_size=5 * 1024**2)
    data = os.urandom(12 * 1024**2)
    path, digest = blob(tmp_path, data)
    storage.put("big.warc.gz", path, digest)
    assert storage.sha256("big.warc.gz") == digest
    assert storage.read_range("big.warc.gz", 11 * 1024**2, 16) == data[11 * 1024**2: 11 * 1024**2 + 16]


def test_unreachable_and_missing_buckets_are_one_line(tmp_path: Path, seaweedfs: SeaweedServer,
                                                      s3_env: tuple[str, str]) -> None:
    config = parse_config('[storage]\nurl = "s3://nowhere"\nendpoint_url = "http://127.0.0.1:9"\n'
                          f'access_key_id_env = "{s3_env[0]}"\nsecret_access_key_env = "{s3_env[1]}"\n',
                          base_dir=tmp_path, check_platforms=False)
    with pytest.raises(StorageUnavailable) as failure:
        open_storage(config).check()
    assert str(failure.value) == "cannot reach the S3 endpoint http://127.0.0.1:9 (for s3://nowhere/)"
    with pytest.raises(StorageUnavailable, match="bucket no-such-bucket does not exist") as failure:
        store(tmp_path, seaweedfs, "no-such-bucket")
    assert "test-secret" not in str(failure.value) and "\n" not in str(failure.value)
