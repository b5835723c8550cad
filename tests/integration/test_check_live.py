"""`restoredrill check` against real PostgreSQL servers and real archives: live settings and
pg_stat_archiver, a failing archive_command, WAL continuity and base backup age offline."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from junitparser import JUnitXml

from restoredrill.engines.postgres.archiving import base_backup
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from tests.conftest import ArchivingCluster
from tests.junitschema import assert_junit4
from tests.pgsetup import archived_segments, cli, switch_wal, wait_for

pytestmark = pytest.mark.slow


def rules(out: str) -> dict[str, str]:
    return {c["rule"]: c["status"] for c in json.loads(out)["checks"]}


def test_live_archiving_cluster(
    archiving_cluster: ArchivingCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = archiving_cluster.cluster.dsn()
    junit = tmp_path / "check.xml"
    code, out, _ = cli(
        ["check", "--dsn", dsn, "--rpo", "5m", "--json", "--junit", str(junit)], capsys
    )
    found = rules(out)
    assert found["postgres.wal_level"] == "ok"
    assert found["postgres.archive_mode"] == "ok"
    assert found["postgres.archive_command"] == "ok"
    assert found["postgres.archive_timeout"] == "failed"  # 0: nothing bounds the wait
    assert found["postgres.archiver_age"] == "failed"  # nothing archived yet
    assert code == 1
    assert_junit4(junit)
    xml = JUnitXml.fromfile(str(junit))
    assert xml.failures == 2 and xml.tests == len(found)
    # test identity is stable across runs: the DSN (socket path, port) is not in the name
    assert {case.name for suite in xml for case in suite} == set(found)

    switch_wal(archiving_cluster.cluster)
    with archiving_cluster.cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET archive_timeout = '60s'")
        conn.execute("SELECT pg_reload_conf()")
    code, out, err = cli(["check", "--dsn", dsn, "--rpo", "5m", "--json"], capsys)
    assert code == 0, out + err
    assert set(rules(out).values()) == {"ok"}
    # a tighter RPO than archive_timeout fails
    code, out, _ = cli(["check", "--dsn", dsn, "--rpo", "30s", "--json"], capsys)
    assert code == 1 and rules(out)["postgres.archive_timeout"] == "failed"


def test_live_defaults_fail(pg_cluster: LocalPostgres, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["check", "--dsn", pg_cluster.dsn()], capsys)
    assert code == 1
    assert "archive_mode = off" in out and "rule(s) failed" in out


def test_failing_archive_command(pg_tools: PgTools, capsys: pytest.CaptureFixture[str]) -> None:
    with local_postgres("test-failing-archive", tools=pg_tools) as cluster:
        cluster.initdb()
        cluster.start(
            settings={"wal_level": "replica", "archive_mode": "on", "archive_command": "false"}
        )
        with cluster.connect() as conn:
            conn.execute("SELECT pg_switch_wal()")

            def failed() -> bool:
                row = conn.execute("SELECT failed_count FROM pg_stat_archiver").fetchone()
                return row is not None and int(str(row[0])) > 0

            assert wait_for(failed, timeout=30)
        code, out, _ = cli(["check", "--dsn", cluster.dsn(), "--json"], capsys)
    assert code == 1
    detail = {c["rule"]: c["detail"] for c in json.loads(out)["checks"]}
    assert "archive_command is failing" in detail["postgres.archiver_failures"]


def test_offline_archive_and_backup_age(
    archiving_cluster: ArchivingCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, archive, backups = (
        archiving_cluster.cluster,
        archiving_cluster.archive,
        archiving_cluster.backups,
    )
    base_backup(cluster, backups / "base-1")
    for _ in range(3):
        with cluster.connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS t (n int); INSERT INTO t VALUES (1)")
        switch_wal(cluster)
    args = ["check", "--base-backups", str(backups), "--wal-archive", str(archive), "--json"]
    code, out, err = cli([*args, "--max-backup-age", "1h"], capsys)
    assert code == 0, out + err
    assert rules(out) == {
        "archive.base_backup_age": "ok",
        "archive.wal_continuity": "ok",
        "archive.archive_head_age": "ok",
        "archive.recovery_window": "ok",
    }
    time.sleep(1.1)
    code, out, _ = cli([*args, "--max-backup-age", "1s"], capsys)
    assert code == 1 and rules(out)["archive.base_backup_age"] == "failed"
    # a segment missing after the newest backup breaks the chain to the head
    segments = archived_segments(archive)
    segments[-2].unlink()
    code, out, _ = cli(args, capsys)
    assert code == 1
    detail = {c["rule"]: c["detail"] for c in json.loads(out)["checks"]}
    assert segments[-2].name in detail["archive.wal_continuity"]


def test_config_mistakes_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["check"], capsys)
    assert code == 2 and "nothing to check" in err
    code, _, err = cli(["check", "--postgresql-conf", str(tmp_path / "nope.conf")], capsys)
    assert code == 2
    code, _, err = cli(["check", "--dsn", "host=/nonexistent port=1 dbname=x"], capsys)
    assert code == 3
