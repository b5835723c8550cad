"""MariaDB snapshots and binlogs in S3 (moto's server, real boto3 calls): a real dump and
real binlogs from a MariaDB production, uploaded as a backup job with `aws s3 cp` leaves
them, planned and restored end to end; a missing binlog and a target outside the binlogs
fail in the plan, before anything is provisioned; AWS errors map as for PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.mysql import source_storage as mysql_s3
from restoredrill.engines.mysql.plan import plan_mysql
from restoredrill.engines.mysql.restore_options import MySqlOptions
from restoredrill.engines.mysql.snapshots import read_dump
from restoredrill.engines.mysql.source_s3 import MysqlS3Source
from restoredrill.errors import CloudAccessDenied, ConfigError, PreflightFailed
from restoredrill.models import RecoveryTarget
from restoredrill.sandboxes.labels import sandbox_root
from restoredrill.storage.s3 import S3Url
from tests.awshelp import new_bucket, s3_client
from tests.integration.test_s3 import _fake_response
from tests.mysqlsetup import DB, Commit, counter_rows, next_second, production
from tests.pgsetup import cli

pytestmark = pytest.mark.slow
SECRET = "testing-secret-never-printed"


@dataclass
class S3MariaDB:
    bucket: str
    dump: Path  # local copies, for tests that upload a damaged variant
    archive: Path
    commits: list[Commit]
    mid: datetime  # between rows 10 and 11

    def url(self, what: str, bucket: str | None = None) -> str:
        return f"s3://{bucket or self.bucket}/{what}"


def _upload(endpoint: str, bucket: str, dump: Path, archive: Path, skip: str = "") -> None:
    client = s3_client(endpoint)
    client.upload_file(str(dump), bucket, f"dumps/{dump.name}")
    for path in sorted(archive.iterdir()):
        if path.name != skip:
            client.upload_file(str(path), bucket, f"binlogs/{path.name}")


@pytest.fixture(scope="module")
def s3_maria(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[S3MariaDB]:
    root = tmp_path_factory.mktemp("mysql-s3")
    with production("test-mysql-s3-production") as prod:
        prod.insert(5)
        dump = prod.dump(root / "snapshots" / "a.sql.gz")
        prod.flush()
        prod.insert(5)
        prod.flush()
        next_second()
        mid = datetime.now(UTC)
        next_second()
        prod.insert(5)
        archive = prod.archive(root / "archive")
        commits = list(prod.commits)
    bucket = new_bucket(moto_endpoint)
    _upload(moto_endpoint, bucket, dump, archive)
    yield S3MariaDB(bucket, dump, archive, commits, mid)


def _binlogs(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if not p.name.endswith(".index"))


def test_restore_from_s3_to_a_time(s3_maria: S3MariaDB, aws_env: str) -> None:
    target = RecoveryTarget(kind="time", time=s3_maria.mid)
    request = RestoreRequest(
        s3_maria.url("dumps"), s3_maria.url("binlogs"), target, backend=MySqlOptions(), dbname=DB
    )
    with restored(request) as done:
        assert counter_rows(done.dsn(DB)) == list(range(1, 11))
        plan = done.result.plan
        assert plan.source == f"{s3_maria.url('dumps')} (binlogs {s3_maria.url('binlogs')})"
        assert plan.snapshot is not None
        assert plan.snapshot.path == s3_maria.url("dumps/a.sql.gz")
        assert plan.snapshot.compression == "gzip" and plan.snapshot.binlog_file is not None
        phases = {p.name: p for p in done.result.phases}
        assert "fetched from s3" in (phases["restore base"].detail or "")
        assert phases["fetch binlogs"].bytes
        assert done.result.recovered_to_position is not None


def test_cli_plan_and_restore_with_s3_urls(
    s3_maria: S3MariaDB, aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--engine", "mariadb", "--snapshot", s3_maria.url("dumps/a.sql.gz")]
    args += ["--binlog-archive", s3_maria.url("binlogs"), "--aws-endpoint-url", aws_env]
    code, out, err = cli(["plan", *args, "--target", "latest", "--json"], capsys)
    assert code == 0, err
    plan = json.loads(out)
    assert plan["binlog_range"]["transactions"] == 10
    assert SECRET not in out + err
    gtid = s3_maria.commits[11].gtid
    code, out, err = cli(["restore", *args, "--target-gtid", gtid, "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["plan"]["binlog_range"]["last_gtid"] == gtid
    assert SECRET not in out + err


def test_missing_binlog_mid_range_fails_before_provisioning(
    s3_maria: S3MariaDB, aws_env: str
) -> None:
    bucket = new_bucket(aws_env)
    middle = _binlogs(s3_maria.archive)[1]
    _upload(aws_env, bucket, s3_maria.dump, s3_maria.archive, skip=middle.name)
    snapshot, binlogs = f"s3://{bucket}/dumps", f"s3://{bucket}/binlogs"
    outcome = plan_mysql(snapshot, binlogs, RecoveryTarget(kind="latest"))
    failure = outcome.plan.first_failure()
    assert failure is not None and failure.name == "binlog chain"
    assert middle.name in failure.detail and "missing" in failure.detail
    before = sorted(p.name for p in sandbox_root().iterdir() if not p.name.startswith("."))
    request = RestoreRequest(
        snapshot, binlogs, RecoveryTarget(kind="latest"), backend=MySqlOptions()
    )
    with pytest.raises(PreflightFailed, match=middle.name), restored(request):
        pass
    after = sorted(p.name for p in sandbox_root().iterdir() if not p.name.startswith("."))
    assert after == before


def test_target_outside_the_binlogs(s3_maria: S3MariaDB, aws_env: str) -> None:
    late = RecoveryTarget(kind="time", time=datetime.now(UTC) + timedelta(hours=1))
    outcome = plan_mysql(s3_maria.url("dumps"), s3_maria.url("binlogs"), late)
    failure = outcome.plan.first_failure()
    assert failure is not None and "after the archive head" in failure.detail


def test_large_dump_is_read_by_its_header(
    s3_maria: S3MariaDB, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above WHOLE_BYTES only the first MiB is read (a ranged GET), not the dump."""
    monkeypatch.setattr(mysql_s3, "WHOLE_BYTES", 0)
    source = MysqlS3Source(S3Url.parse(s3_maria.url("dumps")), S3Url.parse(s3_maria.url("b")))
    try:
        (found,) = source.snapshots()
    finally:
        source.close()
    local = read_dump(s3_maria.dump)
    assert (found.binlog_file, found.binlog_pos, found.gtid) == (
        local.binlog_file,
        local.binlog_pos,
        local.gtid,
    )
    assert found.path == s3_maria.url("dumps/a.sql.gz")


def test_mariabackup_directory_in_s3_is_refused(s3_maria: S3MariaDB, aws_env: str) -> None:
    bucket = new_bucket(aws_env)
    s3_client(aws_env).put_object(Bucket=bucket, Key="dumps/b/xtrabackup_checkpoints", Body=b"x")
    with pytest.raises(ConfigError, match="not supported"):
        plan_mysql(f"s3://{bucket}/dumps", s3_maria.url("binlogs"), RecoveryTarget(kind="latest"))


def test_mixed_local_and_s3_is_a_usage_error(s3_maria: S3MariaDB, aws_env: str) -> None:
    with pytest.raises(ConfigError, match="both"):
        plan_mysql(s3_maria.dump, s3_maria.url("binlogs"), RecoveryTarget(kind="latest"))


def test_access_denied_and_missing_bucket_exit_3(
    s3_maria: S3MariaDB, aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = MysqlS3Source(S3Url.parse(s3_maria.url("dumps")), S3Url.parse(s3_maria.url("b")))
    source._s3.client.meta.events.register(
        "before-send.s3.ListObjectsV2", lambda **_: _fake_response(403, "AccessDenied")
    )
    with pytest.raises(CloudAccessDenied):
        source.snapshots()
    source.close()
    args = ["plan", "--engine", "mariadb", "--snapshot", "s3://no-such-bucket-here/d"]
    args += ["--binlog-archive", "s3://no-such-bucket-here/b", "--target", "latest"]
    code, out, err = cli(args, capsys)
    assert code == 3, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "NoSuchBucket" in lines[0], err
    assert SECRET not in out + err
