"""S3 source against moto's S3 server: real base backups and WAL made by a real cluster,
uploaded as an `aws s3 cp` archive_command would, restored end to end into a local sandbox;
error mapping and retries on real boto3 clients."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from restoredrill.aws import AwsConfig, RetryLog, retrying
from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres import wal_fetch
from restoredrill.engines.postgres.plan import plan_restore
from restoredrill.engines.postgres.restore_options import PostgresOptions
from restoredrill.engines.postgres.source_s3 import S3Source
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import CloudAccessDenied, CloudError, CloudNotFound, CloudWrongRegion
from restoredrill.models import RecoveryTarget
from restoredrill.storage.s3 import S3Url
from tests.awshelp import (
    iam_enforced,
    iam_user,
    new_bucket,
    s3_client,
    upload_archive,
    upload_tree,
)
from tests.pgsetup import Commit, cli, counter_rows, production, run_cli

pytestmark = pytest.mark.slow
SECRET = "testing-secret-never-printed"


@dataclass
class S3Prod:
    bucket: str
    commits: list[Commit]
    restore_points: dict[str, int]
    archive: Path  # local copies, for tests that upload a damaged variant
    backups: Path

    def url(self, what: str, bucket: str | None = None) -> str:
        return f"s3://{bucket or self.bucket}/{what}"


@pytest.fixture(scope="module")
def s3_prod(
    pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str
) -> Iterator[S3Prod]:
    """A production with one gzip tar backup and 10 commits, uploaded to a moto bucket
    (some segments .gz / .zst / .lz4, as a compressing archive_command leaves them)."""
    root = tmp_path_factory.mktemp("s3prod")
    with production(pg_tools, root) as prod:
        prod.insert(3)
        prod.backup("b1", fmt="tar", compression="gzip")
        prod.next_second()
        prod.insert(5)
        prod.switch()
        prod.restore_point("rp1")
        prod.insert(2)
        prod.switch()
        archive = root / "archive-copy"
        shutil.copytree(prod.archive, archive)
        commits, points = list(prod.commits), dict(prod.restore_points)
    bucket = new_bucket(moto_endpoint)
    upload_tree(moto_endpoint, root / "backups", bucket, "base")
    upload_archive(moto_endpoint, archive, bucket, "wal", compress={1: "gz", 2: "zst", 3: "lz4"})
    yield S3Prod(bucket, commits, points, archive, root / "backups")


def test_restore_from_s3_to_a_time(s3_prod: S3Prod, aws_env: str) -> None:
    """Plan, stage (parallel fetch + decompress) and replay from S3 into a local sandbox."""
    target = RecoveryTarget(kind="time", time=s3_prod.commits[5].time)
    request = RestoreRequest(s3_prod.url("base"), s3_prod.url("wal"), target)
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, 7))
        plan = done.result.plan
        assert plan.source.startswith(f"s3://{s3_prod.bucket}/base")
        assert plan.base_backup is not None and plan.base_backup.compression == "gzip"
        assert plan.base_backup.path == f"s3://{s3_prod.bucket}/base/b1"
        phases = {p.name: p for p in done.result.phases}
        assert "segment(s)" in (phases["fetch WAL"].detail or "")
        assert "backup_manifest" in (phases["restore base"].detail or "")


def test_restore_from_s3_streaming_with_wal_fetch(s3_prod: S3Prod, aws_env: str) -> None:
    """restore_command = restoredrill wal-fetch (as the server's OS user), prefetching."""
    target = RecoveryTarget(kind="name", name="rp1")
    request = RestoreRequest(
        s3_prod.url("base"),
        s3_prod.url("wal"),
        target,
        backend=PostgresOptions(wal_delivery="stream", prefetch=4),
    )
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, s3_prod.restore_points["rp1"] + 1))
        conf = (done.sandbox.datadir / "postgresql.auto.conf").read_text()
        assert "wal-fetch --config" in conf
        assert SECRET not in conf and "testing" not in conf.split("wal-fetch")[0][-200:]
        config = json.loads((done.sandbox.root / wal_fetch.CONFIG_NAME).read_text())
        assert config["bucket"] == s3_prod.bucket and "secret" not in json.dumps(config).lower()
        replay = next(p for p in done.result.phases if p.name == "replay WAL")
        assert replay.detail is not None and "via wal-fetch" in replay.detail
        assert "0 from its prefetch cache" not in replay.detail


def test_plan_cli_with_s3_urls(s3_prod: S3Prod, aws_env: str) -> None:
    done = run_cli(
        [
            "plan",
            "--base-backups",
            s3_prod.url("base"),
            "--wal-archive",
            s3_prod.url("wal"),
            "--target",
            "latest",
            "--json",
        ]
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["wal_range"]["segments"] >= 2
    assert SECRET not in done.stdout + done.stderr


def test_missing_segment_in_s3_fails_preflight(
    s3_prod: S3Prod, aws_env: str, pg_tools: PgTools
) -> None:
    bucket = new_bucket(aws_env)
    upload_tree(aws_env, s3_prod.backups, bucket, "base")
    keys = upload_archive(aws_env, s3_prod.archive, bucket, "wal")
    segments = sorted(k for k in keys if len(k.rsplit("/", 1)[1]) == 24)
    s3_client(aws_env).delete_object(Bucket=bucket, Key=segments[2])
    source = S3Source(S3Url.parse(f"s3://{bucket}/base"), S3Url.parse(f"s3://{bucket}/wal"))
    try:
        plan = plan_restore(source, RecoveryTarget(kind="latest"), pg_tools).plan
    finally:
        source.close()
    failure = plan.first_failure()
    assert failure is not None and failure.name == "WAL chain"
    assert segments[2].rsplit("/", 1)[1] in failure.detail


# --- errors: fail fast with one line, exit 3 ------------------------------------------------


def test_no_such_bucket_exits_3(aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        [
            "plan",
            "--base-backups",
            "s3://no-such-bucket-here/base",
            "--wal-archive",
            "s3://no-such-bucket-here/wal",
            "--target",
            "latest",
        ],
        capsys,
    )
    assert code == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "NoSuchBucket" in lines[0], err
    assert SECRET not in out + err


def test_access_denied_exits_3(
    s3_prod: S3Prod,
    aws_env: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto enforces IAM here: a user allowed only to list cannot read the archive."""
    key_id, secret = iam_user(aws_env, ["s3:ListBucket"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    args = ["plan", "--base-backups", s3_prod.url("base"), "--wal-archive", s3_prod.url("wal")]
    with iam_enforced():
        code, out, err = cli([*args, "--target", "latest"], capsys)
    assert code == 3, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "access denied (AccessDenied)" in lines[0], err
    assert secret not in out + err


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _fake_response(status: int, code: str, headers: dict[str, str] | None = None) -> Any:
    from botocore.awsrequest import AWSResponse

    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    return AWSResponse(
        "http://injected", status, {**(headers or {}), "x-amz-id-2": "x"}, _Raw(body)
    )


def _inject(source: S3Source, operation: str, responses: list[Any]) -> list[int]:
    """Answer the next calls of ``operation`` with ``responses`` before they are sent
    (a botocore before-send hook on the real client), then let calls through to moto."""
    calls: list[int] = []

    def before_send(**_: Any) -> Any:
        calls.append(1)
        return responses.pop(0) if responses else None

    source.client.meta.events.register(f"before-send.s3.{operation}", before_send)
    return calls


def test_wrong_region_is_named(s3_prod: S3Prod, aws_env: str) -> None:
    source = S3Source(S3Url.parse(s3_prod.url("base")), S3Url.parse(s3_prod.url("wal")))
    # botocore follows one redirect by itself; a bucket that keeps redirecting is reported
    redirect = _fake_response(301, "PermanentRedirect", {"x-amz-bucket-region": "eu-west-1"})
    _inject(source, "ListObjectsV2", [redirect] * 4)
    with pytest.raises(CloudWrongRegion, match="pass --aws-region eu-west-1"):
        source.catalogue()
    source.close()


def test_throttling_is_retried_and_recorded(s3_prod: S3Prod, aws_env: str) -> None:
    """Two 503 SlowDown answers, then moto: botocore retries, the retries are recorded."""
    source = S3Source(
        S3Url.parse(s3_prod.url("base")),
        S3Url.parse(s3_prod.url("wal")),
        AwsConfig.from_env().__class__(retry_mode="standard", max_attempts=4),
    )
    calls = _inject(source, "ListObjectsV2", [_fake_response(503, "SlowDown")] * 2)
    catalogue = source.catalogue()
    source.close()
    assert catalogue.backups and len(calls) >= 3
    assert source.retries.retries == 2
    assert source.retries.summary() == "2 retries (ListObjectsV2 2)"


def test_throttling_that_does_not_stop_exits_3(s3_prod: S3Prod, aws_env: str) -> None:
    source = S3Source(
        S3Url.parse(s3_prod.url("base")),
        S3Url.parse(s3_prod.url("wal")),
        AwsConfig(retry_mode="standard", max_attempts=2),
    )
    _inject(source, "ListObjectsV2", [_fake_response(503, "SlowDown")] * 5)
    with pytest.raises(CloudError, match=r"throttled \(SlowDown\) after 1 retries") as caught:
        source.catalogue()
    source.close()
    assert caught.value.exit_code == 3


def test_connection_reset_while_reading_is_retried() -> None:
    """botocore does not retry a body that breaks off mid-read; our wrapper does."""
    from botocore.exceptions import ResponseStreamingError

    log = RetryLog()
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ResponseStreamingError(error=ConnectionResetError("reset by peer"))
        return "done"

    assert retrying(flaky, "GetObject", log, base_delay=0.001) == "done"
    assert log.summary() == "2 retries (GetObject (body) 2)"


# --- wal-fetch on its own ---------------------------------------------------------------------


def test_wal_fetch_prefetches_and_reports_missing(
    s3_prod: S3Prod, aws_env: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    config = {
        "kind": "s3",
        "bucket": s3_prod.bucket,
        "prefix": "wal",
        "endpoint_url": aws_env,
        "region": "us-east-1",
        "cache_dir": str(cache),
        "log": str(tmp_path / "log"),
        "prefetch": 3,
    }
    config_path = tmp_path / "wal-fetch.json"
    config_path.write_text(json.dumps(config))
    names = sorted(p.name for p in s3_prod.archive.iterdir() if len(p.name) == 24)
    first = wal_fetch.main(["--config", str(config_path), names[0], str(tmp_path / "one")])
    assert first == 0 and (tmp_path / "one").stat().st_size == 16 << 20
    assert sorted(p.name for p in cache.iterdir()) == names[1:4]  # .gz/.zst/.lz4, decompressed
    second = wal_fetch.main(["--config", str(config_path), names[1], str(tmp_path / "two")])
    assert second == 0 and (tmp_path / "two").stat().st_size == 16 << 20
    log = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]
    assert [entry["hit"] for entry in log] == [False, True]
    missing = wal_fetch.main(["--config", str(config_path), "00000009.history", "x"])
    assert missing == wal_fetch.EXIT_NOT_FOUND
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    broken_config = {**config, "bucket": "no-such-bucket-here", "cache_dir": str(empty)}
    config_path.write_text(json.dumps(broken_config))
    broken = wal_fetch.main(["--config", str(config_path), names[-1], str(tmp_path / "x")])
    assert broken == wal_fetch.EXIT_ABORT  # > 125: PostgreSQL aborts instead of promoting


def test_errors_are_not_found_for_deleted_bucket(aws_env: str) -> None:
    source = S3Source(
        S3Url.parse("s3://no-such-bucket-here/a"), S3Url.parse("s3://no-such-bucket-here/b")
    )
    with pytest.raises(CloudNotFound):
        source.catalogue()
    source.close()


def test_access_denied_is_its_own_class(s3_prod: S3Prod, aws_env: str) -> None:
    source = S3Source(S3Url.parse(s3_prod.url("base")), S3Url.parse(s3_prod.url("wal")))
    _inject(source, "ListObjectsV2", [_fake_response(403, "AccessDenied")])
    with pytest.raises(CloudAccessDenied):
        source.catalogue()
    source.close()
