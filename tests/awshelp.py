"""S3 and RDS for tests: moto in server mode on 127.0.0.1 (real HTTP, real boto3 calls).

AWS itself is unreachable here; moto's server is started in-process on a free loopback port
once per test process, and every test gets dummy credentials, a region, and the endpoint
through the environment (so child processes — the CLI, PostgreSQL's restore_command — see
the same)."""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"
DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing-secret-never-printed"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Dummy credentials and the moto endpoint, in the environment; no real config files."""
    empty = tmp_path / "aws-config-empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-never-printed")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_endpoint


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **DUMMY)


def new_bucket(endpoint: str) -> str:
    name = f"drill-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def upload_tree(endpoint: str, local: Path, bucket: str, prefix: str) -> int:
    """Upload every file below ``local`` to s3://bucket/prefix/<relative path>."""
    client = s3_client(endpoint)
    count = 0
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(local).as_posix()}"
        client.upload_file(str(path), bucket, key)
        count += 1
    return count


def upload_archive(
    endpoint: str, archive: Path, bucket: str, prefix: str, compress: dict[int, str] | None = None
) -> list[str]:
    """Upload a WAL archive directory as an `aws s3 cp` archive_command would have; the
    n-th segment (by name) is compressed as ``compress[n]`` says ('gz', 'lz4', 'zst')."""
    client = s3_client(endpoint)
    keys = []
    segments = sorted(p for p in archive.iterdir() if len(p.name) == 24)
    for path in sorted(archive.iterdir()):
        if not path.is_file():
            continue
        index = segments.index(path) if path in segments else -1
        kind = (compress or {}).get(index)
        with contextlib.ExitStack() as stack:
            upload = path
            if kind is not None:
                upload = Path(stack.enter_context(_tmpdir())) / f"{path.name}.{kind}"
                _compress(path, upload, kind)
            key = f"{prefix}/{upload.name}"
            client.upload_file(str(upload), bucket, key)
            keys.append(key)
    return keys


@contextlib.contextmanager
def _tmpdir() -> Iterator[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        yield tmp


def _compress(source: Path, dest: Path, kind: str) -> None:
    if kind == "gz":
        with source.open("rb") as src, gzip.open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return
    tool = {"lz4": ["lz4", "-q", "-c"], "zst": ["zstd", "-q", "-c"]}[kind]
    with source.open("rb") as src, dest.open("wb") as dst:
        subprocess.run([*tool], stdin=src, stdout=dst, check=True)


@contextlib.contextmanager
def iam_enforced() -> Iterator[None]:
    """moto checks credentials and IAM policies (off by default) while inside."""
    from moto import settings

    saved = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = saved


def iam_user(endpoint: str, actions: list[str]) -> tuple[str, str]:
    """A moto IAM user allowed only ``actions``; returns (access key id, secret)."""
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, **DUMMY)
    name = f"drill-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])
