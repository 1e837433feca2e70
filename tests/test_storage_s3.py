"""S3 storage against a real SeaweedFS server (S3 API with Object Lock) on 127.0.0.1; no mocks."""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import seaweed
from archiver.config import parse_config
from seaweed import KEY_ENV, SECRET_ENV, TEST_KEY, TEST_SECRET, SeaweedServer, storage_lines
from storage import ObjectConflict, ObjectLocked, StorageError, StorageUnavailable, open_storage
from storage.s3 import S3Storage

# The SeaweedFS fixtures, named here so this file does not depend on conftest.py. (Bound by
# assignment, not "from seaweed import ...": ruff reports an imported fixture used as a
# parameter as a redefinition, F811.)
seaweedfs, s3_env = seaweed.seaweedfs, seaweed.s3_env
s3_bucket, s3_plain_bucket = seaweed.s3_bucket, seaweed.s3_plain_bucket
pytestmark = pytest.mark.s3
KEY = "rss/news/2026/11/a.warc.gz"


def s3_store(tmp_path: Path, server: SeaweedServer, bucket: str, *, extra: str = "", **options: Any) -> S3Storage:
    """An S3Storage for ``bucket`` (prefix "city"), built from a config as the archiver builds it, and checked."""
    text = f"[storage]\n{storage_lines(server, bucket)}{extra}"
    storage = S3Storage.from_config(parse_config(text, base_dir=tmp_path, check_platforms=False), **options)
    storage.check()
    return storage


def sealed(tmp_path: Path, data: bytes, name: str = "x.warc.gz") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def versions(server: SeaweedServer, bucket: str, name: str) -> list[str]:
    """Every object version and delete marker under exactly ``name``, straight from the store."""
    answer = server.client().list_object_versions(Bucket=bucket, Prefix=name)
    return [v["VersionId"] for v in answer.get("Versions", []) + answer.get("DeleteMarkers", []) if v["Key"] == name]


def test_round_trip_under_the_prefix(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str) -> None:
    storage = s3_store(tmp_path, seaweedfs, s3_bucket, page_size=2)
    assert storage.object_lock_enabled and storage.url == f"s3://{s3_bucket}/city/"
    data = b"WARC/1.1\r\n" + bytes(range(256)) * 40
    path, digest = sealed(tmp_path, data)
    stored = storage.put(KEY, path, digest)
    assert (stored.key, stored.size, stored.sha256, stored.retain_until) == (KEY, len(data), digest, None)
    assert stored.version_id  # Object Lock buckets are versioned
    with storage.open(KEY) as stream:
        assert stream.readline() == b"WARC/1.1\r\n" and stream.read(3) == bytes(range(3))
        assert stream.read() == data[13:]
    assert storage.read_range(KEY, 300, 20) == data[300:320]
    assert storage.read_range(KEY, 0, 0) == b""
    assert storage.stat(KEY).size == len(data)
    assert storage.stat("rss/news/missing.warc.gz") is None
    assert storage.sha256(KEY) == digest
    head = seaweedfs.client().head_object(Bucket=s3_bucket, Key=f"city/{KEY}")
    assert head["Metadata"]["sha256"] == digest

    small, small_digest = sealed(tmp_path, b"tiny", "s")
    for key in ("rss/news/2026/12/c.warc.gz", "rss/news/2026/10/b.warc.gz", "rss/zz.warc.gz", "x/other.warc.gz"):
        storage.put(key, small, small_digest)
    listed = [info.key for info in storage.list()]  # three pages of two
    assert listed == sorted(listed) and len(listed) == 5
    assert [info.key for info in storage.list("rss/news/")] == [
        "rss/news/2026/10/b.warc.gz", KEY, "rss/news/2026/12/c.warc.gz"]
    raw = [o["Key"] for o in seaweedfs.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert all(key.startswith("city/") for key in raw) and len(raw) == 5
    with pytest.raises(StorageError, match=r"missing\.warc\.gz is not in storage"):
        storage.open("missing.warc.gz")
    with pytest.raises(StorageError, match=r"'\.\.'"):
        storage.put("../escape.warc.gz", small, small_digest)


def test_the_store_refuses_bytes_that_do_not_match_their_digest(tmp_path: Path, seaweedfs: SeaweedServer,
                                                                s3_bucket: str) -> None:
    storage = s3_store(tmp_path, seaweedfs, s3_bucket)
    path, _ = sealed(tmp_path, b"what was sealed")
    with pytest.raises(StorageError, match="do not match their SHA-256") as failure:
        storage.put(KEY, path, hashlib.sha256(b"something else").hexdigest())
    assert "\n" not in str(failure.value)
    assert storage.stat(KEY) is None and list(storage.list()) == []
    assert versions(seaweedfs, s3_bucket, f"city/{KEY}") == []


def test_put_is_idempotent_and_never_overwrites(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str) -> None:
    storage = s3_store(tmp_path, seaweedfs, s3_bucket)
    path, digest = sealed(tmp_path, b"the record")
    first = storage.put(KEY, path, digest)
    again = storage.put(KEY, path, digest)
    assert again == first  # same version: nothing was uploaded the second time
    assert len(versions(seaweedfs, s3_bucket, f"city/{KEY}")) == 1
    other, other_digest = sealed(tmp_path, b"different bytes", "y")
    with pytest.raises(ObjectConflict, match=r"already exists .* with different bytes"):
        storage.put(KEY, other, other_digest)
    assert storage.read_range(KEY, 0, 100) == b"the record"
    assert len(versions(seaweedfs, s3_bucket, f"city/{KEY}")) == 1


def test_retention_stops_deletion(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str) -> None:
    storage = s3_store(tmp_path, seaweedfs, s3_bucket)
    path, digest = sealed(tmp_path, b"record under retention")
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    stored = storage.put(KEY, path, digest, retain_until=until)
    assert stored.retain_until == until
    retention = seaweedfs.client().get_object_retention(Bucket=s3_bucket, Key=f"city/{KEY}")["Retention"]
    assert retention["Mode"] == "GOVERNANCE" and retention["RetainUntilDate"] == until
    assert storage.put(KEY, path, digest, retain_until=until).retain_until == until  # idempotent, same answer
    with pytest.raises(ObjectLocked, match=rf"{KEY} cannot be deleted .*: GOVERNANCE retention until 20"):
        storage.delete(KEY)
    assert storage.read_range(KEY, 0, 6) == b"record"
    assert versions(seaweedfs, s3_bucket, f"city/{KEY}") == [stored.version_id]  # no delete marker either
    # The lock is the store's, not only this code's: a direct delete of the version is refused too.
    with pytest.raises(ClientError) as refused:
        seaweedfs.client().delete_object(Bucket=s3_bucket, Key=f"city/{KEY}", VersionId=stored.version_id)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_compliance_mode_from_the_config(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str) -> None:
    storage = s3_store(tmp_path, seaweedfs, s3_bucket, extra='object_lock_mode = "COMPLIANCE"\n')
    path, digest = sealed(tmp_path, b"record")
    storage.put(KEY, path, digest, retain_until=datetime.now(UTC) + timedelta(hours=1))
    retention = seaweedfs.client().get_object_retention(Bucket=s3_bucket, Key=f"city/{KEY}")["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    with pytest.raises(ObjectLocked, match="COMPLIANCE retention until"):
        storage.delete(KEY)


def test_legal_hold_stops_deletion_until_released(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str) -> None:
    storage = s3_store(tmp_path, seaweedfs, s3_bucket)
    path, digest = sealed(tmp_path, b"evidence")
    storage.put(KEY, path, digest)
    assert storage.set_legal_hold(KEY, True)
    with pytest.raises(ObjectLocked, match="a legal hold is on"):
        storage.delete(KEY)
    assert storage.stat(KEY) is not None
    assert storage.set_legal_hold(KEY, False)
    seaweedfs.client().delete_object(Bucket=s3_bucket, Key=f"city/{KEY}")  # a plain DELETE: only a marker
    assert len(versions(seaweedfs, s3_bucket, f"city/{KEY}")) == 2 and storage.stat(KEY) is None
    storage.delete(KEY)
    assert versions(seaweedfs, s3_bucket, f"city/{KEY}") == []  # every version and marker is gone
    assert storage.stat(KEY) is None and list(storage.list()) == []
    storage.delete(KEY)  # deleting what is not there is not an error
    with pytest.raises(StorageError, match="not in storage"):
        storage.set_legal_hold(KEY, True)


def test_plain_bucket_has_no_hold_and_deletes(tmp_path: Path, seaweedfs: SeaweedServer, s3_plain_bucket: str) -> None:
    storage = s3_store(tmp_path, seaweedfs, s3_plain_bucket)
    assert not storage.object_lock_enabled
    path, digest = sealed(tmp_path, b"record")
    stored = storage.put(KEY, path, digest, retain_until=datetime.now(UTC) + timedelta(days=1))
    assert stored.retain_until is None and stored.version_id is None  # nothing to lock with
    assert not storage.set_legal_hold(KEY, True)
    storage.delete(KEY)
    assert storage.stat(KEY) is None and list(storage.list()) == []
    assert versions(seaweedfs, s3_plain_bucket, f"city/{KEY}") == []


def test_object_lock_mode_demands_a_locked_bucket(tmp_path: Path, seaweedfs: SeaweedServer,
                                                  s3_plain_bucket: str) -> None:
    with pytest.raises(StorageUnavailable, match=f"bucket {s3_plain_bucket} has no Object Lock"):
        s3_store(tmp_path, seaweedfs, s3_plain_bucket, extra='object_lock_mode = "GOVERNANCE"\n')


def test_large_files_go_multipart_with_part_checksums(tmp_path: Path, seaweedfs: SeaweedServer,
                                                      s3_bucket: str) -> None:
    mib = 1024**2
    storage = s3_store(tmp_path, seaweedfs, s3_bucket, multipart_threshold=6 * mib, part_size=5 * mib)
    data = os.urandom(12 * mib)
    path, digest = sealed(tmp_path, data)
    until = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(StorageError, match="SHA-256 is not"):
        storage.put(KEY, path, hashlib.sha256(b"other").hexdigest())
    stored = storage.put(KEY, path, digest, retain_until=until)
    assert stored.size == len(data) and stored.version_id
    head = seaweedfs.client().head_object(Bucket=s3_bucket, Key=f"city/{KEY}", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].endswith("-3") and head["Metadata"]["sha256"] == digest  # three parts
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert storage.sha256(KEY) == digest
    assert storage.read_range(KEY, 11 * mib - 8, 16) == data[11 * mib - 8: 11 * mib + 8]
    assert seaweedfs.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_endpoint_is_one_line_without_secrets(tmp_path: Path, s3_env: tuple[str, str]) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    config = parse_config(f'[storage]\nurl = "s3://records/warcs"\nendpoint_url = "{endpoint}"\n'
                          f'access_key_id_env = "{KEY_ENV}"\nsecret_access_key_env = "{SECRET_ENV}"\n',
                          base_dir=tmp_path, check_platforms=False)
    with pytest.raises(StorageUnavailable) as failure:
        open_storage(config).check()
    message = str(failure.value)
    assert message.startswith(f"cannot reach the S3 endpoint {endpoint} for s3://records/warcs/")
    assert "\n" not in message and TEST_SECRET not in message and TEST_KEY not in message


def test_missing_bucket_is_named(tmp_path: Path, seaweedfs: SeaweedServer, s3_env: tuple[str, str]) -> None:
    with pytest.raises(StorageUnavailable) as failure:
        s3_store(tmp_path, seaweedfs, "no-such-bucket")
    message = str(failure.value)
    assert message.startswith("bucket no-such-bucket does not exist") and "create it" in message
    assert "\n" not in message and TEST_SECRET not in message


def test_unset_credential_variable_is_named(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(StorageUnavailable, match=f"environment variable {SECRET_ENV} .* is not set"):
        s3_store(tmp_path, seaweedfs, s3_bucket)


def test_wrong_credentials_are_access_denied(tmp_path: Path, seaweedfs: SeaweedServer, s3_bucket: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")
    with pytest.raises(StorageUnavailable) as failure:
        s3_store(tmp_path, seaweedfs, s3_bucket)
    message = str(failure.value)
    assert message.startswith(f"{seaweedfs.endpoint_url} denied access to s3://{s3_bucket}/city/")
    assert "\n" not in message and "not-the-secret" not in message and TEST_SECRET not in message
