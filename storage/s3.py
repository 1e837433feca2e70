"""Storage in S3 or an S3-compatible store: ``s3://bucket/optional/prefix``.

Every upload carries its SHA-256 (``ChecksumSHA256``), so the store itself refuses bytes that
changed on the way. With S3 Object Lock on the bucket, objects are written with a
retain-until date and cannot be deleted before it; legal holds are set per object. A locked
bucket is always versioned, so a real delete removes every version, and the store refuses it
while any version is locked.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

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

MULTIPART_THRESHOLD = 4 * 1024**3  # S3 refuses single PUTs over 5 GB
PART_SIZE = 256 * 1024**2
_NO_LOCK = ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound", "NoSuchObjectLockConfiguration")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


class S3Storage(Storage):
    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any, lock_mode: str = "GOVERNANCE",
        endpoint: str = "AWS S3", multipart_threshold: int = MULTIPART_THRESHOLD, part_size: int = PART_SIZE,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client
        self.lock_mode = lock_mode
        self.endpoint = endpoint
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.url = f"s3://{bucket}/{self.prefix}"
        self._locking: bool | None = None

    @classmethod
    def from_config(cls, config: Config, **options: Any) -> S3Storage:
        import os

        section = config.storage
        bucket, _, prefix = config.storage_url[len("s3://"):].partition("/")
        credentials = {}
        if section.access_key_id_env and section.secret_access_key_env:
            credentials = {"aws_access_key_id": os.environ.get(section.access_key_id_env),
                           "aws_secret_access_key": os.environ.get(section.secret_access_key_env)}
        client = boto3.session.Session().client(
            "s3", endpoint_url=section.endpoint_url, region_name=section.region,
            config=BotoConfig(s3={"addressing_style": "path"} if section.endpoint_url else {},
                              retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=120),
            **credentials,
        )
        return cls(bucket, prefix, client=client, lock_mode=section.object_lock_mode or "GOVERNANCE",
                   endpoint=section.endpoint_url or "AWS S3", **options)

    # Errors, in one line each, never with a credential in them ---------------------------------
    def _unavailable(self, error: Exception, key: str | None = None) -> StorageError:
        where = f"s3://{self.bucket}/{self.prefix}{key or ''}"
        if isinstance(error, EndpointConnectionError):
            return StorageUnavailable(f"cannot reach the S3 endpoint {self.endpoint} (for {where})")
        if isinstance(error, ClientError):
            code = _code(error)
            if code in ("NoSuchBucket", "404") and key is None:
                return StorageUnavailable(f"bucket {self.bucket} does not exist at {self.endpoint}; create it "
                                          "(with Object Lock if records must be immutable)")
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return StorageUnavailable(f"{self.endpoint} refused access to {where} ({code}); check the "
                                          "credentials named by [storage] access_key_id_env / secret_access_key_env")
            if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"):
                return StorageError(f"{where}: the store refused the bytes: their SHA-256 did not match ({code})")
            message = str(error.response.get("Error", {}).get("Message", ""))[:200]
            return StorageError(f"{where}: {code or 'error'} from {self.endpoint}: {message}")
        return StorageUnavailable(f"cannot use {where} at {self.endpoint}: {type(error).__name__}")

    def _key(self, key: str) -> str:
        return self.prefix + key

    # The Storage interface ----------------------------------------------------------------------
    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc) from None
        self.object_lock_enabled()

    def object_lock_enabled(self) -> bool:
        if self._locking is None:
            try:
                answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
                self._locking = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except ClientError as exc:
                if _code(exc) not in _NO_LOCK:
                    raise self._unavailable(exc) from None
                self._locking = False
            except BotoCoreError as exc:
                raise self._unavailable(exc) from None
        return self._locking

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))  # type: ignore[no-any-return]
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._unavailable(exc, key) from None

    def put(self, key: str, path: Path, sha256: str, *, retain_until: datetime | None = None) -> StoredObject:
        size = path.stat().st_size
        try:
            existing = self._head(key)
            if existing is not None:
                if existing.get("Metadata", {}).get("sha256") != sha256:
                    raise ObjectConflict(f"s3://{self.bucket}/{self._key(key)} already exists with different bytes; "
                                         "not overwritten")
                return StoredObject(key, size, sha256)
            extra: dict[str, Any] = {"Metadata": {"sha256": sha256}, "ContentType": "application/warc"}
            if retain_until is not None and self.object_lock_enabled():
                extra |= {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": retain_until}
            if size > self.multipart_threshold:
                version = self._put_multipart(key, path, extra)
            else:
                with path.open("rb") as body:
                    answer = self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body,
                                                    ChecksumSHA256=_b64(sha256), **extra)
                version = answer.get("VersionId")
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc, key) from None
        locked = retain_until if "ObjectLockRetainUntilDate" in extra else None
        return StoredObject(key, size, sha256, locked, version)

    def _put_multipart(self, key: str, path: Path, extra: dict[str, Any]) -> str | None:
        import hashlib

        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._key(key),
                                                     ChecksumAlgorithm="SHA256", **extra)
        parts = []
        try:
            with path.open("rb") as source:
                number = 1
                while block := source.read(self.part_size):
                    checksum = base64.b64encode(hashlib.sha256(block).digest()).decode()
                    answer = self.client.upload_part(Bucket=self.bucket, Key=self._key(key), PartNumber=number,
                                                     UploadId=upload["UploadId"], Body=block,
                                                     ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum)
                    parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})
                    number += 1
            done = self.client.complete_multipart_upload(Bucket=self.bucket, Key=self._key(key),
                                                         UploadId=upload["UploadId"],
                                                         MultipartUpload={"Parts": parts})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload["UploadId"])
            raise
        return done.get("VersionId")

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]  # type: ignore[no-any-return]
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc, key) from None

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key),
                                            Range=f"bytes={offset}-{offset + length - 1}")
            return answer["Body"].read()  # type: ignore[no-any-return]
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc, key) from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                           Prefix=self._key(prefix))
            for page in pages:
                for entry in page.get("Contents", []):
                    yield ObjectInfo(entry["Key"][len(self.prefix):], int(entry["Size"]))
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc) from None

    def stat(self, key: str) -> ObjectInfo | None:
        head = self._head(key)
        return ObjectInfo(key, int(head["ContentLength"])) if head is not None else None

    def _versions(self, key: str) -> list[str | None]:
        answer = self.client.list_object_versions(Bucket=self.bucket, Prefix=self._key(key))
        found = [v for v in answer.get("Versions", []) + answer.get("DeleteMarkers", []) if v["Key"] == self._key(key)]
        return [v.get("VersionId") for v in found] or [None]

    def delete(self, key: str) -> None:
        try:
            for version in self._versions(key):
                options = {"VersionId": version} if version and version != "null" else {}
                self.client.delete_object(Bucket=self.bucket, Key=self._key(key), **options)
        except ClientError as exc:
            if _code(exc) in ("AccessDenied", "InvalidRequest", "ObjectLocked"):
                raise ObjectLocked(f"s3://{self.bucket}/{self._key(key)} is under retention or legal hold; "
                                   "the store refused to delete it") from None
            raise self._unavailable(exc, key) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc, key) from None

    def set_legal_hold(self, key: str, on: bool) -> bool:
        if not self.object_lock_enabled():
            return False
        try:
            for version in self._versions(key):
                options = {"VersionId": version} if version and version != "null" else {}
                self.client.put_object_legal_hold(Bucket=self.bucket, Key=self._key(key),
                                                  LegalHold={"Status": "ON" if on else "OFF"}, **options)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc, key) from None
        return True

    def lock_reason(self, key: str) -> str | None:
        if not self.object_lock_enabled():
            return None
        head = self._head(key) or {}
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return "a legal hold is on"
        until, mode = head.get("ObjectLockRetainUntilDate"), head.get("ObjectLockMode", "Object Lock")
        if until and until > datetime.now(UTC):
            return f"{mode} retention until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        return None

    def set_retention(self, key: str, until: datetime) -> bool:
        if not self.object_lock_enabled():
            return False
        try:
            self.client.put_object_retention(Bucket=self.bucket, Key=self._key(key),
                                             Retention={"Mode": self.lock_mode, "RetainUntilDate": until})
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc, key) from None
        return True
