"""MariaDB point-in-time restore on real servers: a "production" mariadbd with log-bin takes
traffic, a dump (--master-data=2, gzipped) and a mariabackup; its closed binlogs are copied
to an archive. Every target kind is restored and checked row by row; bad inputs fail in the
plan, before anything is provisioned."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restoredrill.drill.diff import diff
from restoredrill.drill.reapply import ReapplyOptions, reapply
from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.drill.verify import verify
from restoredrill.engines.mysql.binlog import read_binlog
from restoredrill.engines.mysql.plan import plan_mysql
from restoredrill.engines.mysql.restore_options import MySqlOptions
from restoredrill.errors import DatabaseUnavailable, InvalidTarget, PreflightFailed, ReapplyRefused
from restoredrill.models import RecoveryTarget, VerifyStatus
from restoredrill.sandboxes.labels import sandbox_root
from restoredrill.targets import parse_target
from tests.mysqlsetup import DB, MysqlProduction, counter_rows, next_second, production
from tests.pgsetup import cli

pytestmark = pytest.mark.slow


@dataclass
class History:
    prod: MysqlProduction
    snapshots: Path
    dump: Path
    backup: Path
    archive: Path
    before_all: datetime
    between_5_6: datetime
    mid: datetime  # between rows 15 and 16


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    root = tmp_path_factory.mktemp("mysql-history")
    with production() as prod:
        before_all = datetime.now(UTC)
        next_second()
        prod.insert(5)
        snapshots = root / "snapshots"
        dump = prod.dump(snapshots / "a.sql.gz")
        next_second()
        between = datetime.now(UTC)
        next_second()
        prod.flush()
        prod.insert(5)
        backup = prod.backup(snapshots / "b")
        prod.flush()
        prod.insert(5)
        next_second()
        mid = datetime.now(UTC)
        next_second()
        prod.insert(5)
        archive = prod.archive(root / "archive")
        yield History(prod, snapshots, dump, backup, archive, before_all, between, mid)


def _restore(h: History, target: RecoveryTarget, snapshot: Path | None = None) -> list[int]:
    request = RestoreRequest(snapshot or h.snapshots, h.archive, target, backend=MySqlOptions())
    with restored(request) as done:
        assert done.result.plan.ok
        replay = next(p for p in done.result.phases if p.name == "replay binlogs")
        if done.result.plan.binlog_range and done.result.plan.binlog_range.transactions:
            # every target kind: the server's parallel replication, not the pipe
            assert "parallel workers, optimistic)" in (replay.detail or "")
        return counter_rows(done.dsn(DB))


def test_time_target_uses_the_newest_snapshot_before_it(history: History) -> None:
    target = RecoveryTarget(kind="time", time=history.mid)
    request = RestoreRequest(history.snapshots, history.archive, target, backend=MySqlOptions())
    with restored(request) as done:
        assert counter_rows(done.dsn(DB)) == list(range(1, 16))
        result = done.result
        assert result.plan.snapshot is not None and result.plan.snapshot.kind == "mariabackup"
        names = [p.name for p in result.phases]
        assert names == [
            "plan",
            "provision",
            "restore base",
            "fetch binlogs",
            "replay binlogs",
            "promote/ready",
        ]
        replay = next(p for p in result.phases if p.name == "replay binlogs")
        assert replay.bytes and replay.bytes > 0 and replay.detail is not None
        assert replay.detail.startswith("5 transaction(s), server replication (")
        assert result.rpo_seconds is not None and 0 <= result.rpo_seconds < 3
        assert result.recovered_to_position is not None
        # the restore never writes a binlog
        conn_rows = done.sandbox.connect().rows("SELECT @@log_bin")
        assert int(conn_rows[0][0]) == 0


def test_time_target_from_the_dump(history: History) -> None:
    target = RecoveryTarget(kind="time", time=history.between_5_6)
    assert _restore(history, target) == [1, 2, 3, 4, 5]


def test_position_target(history: History) -> None:
    c12 = history.prod.commits[11]
    target = parse_target(position=f"{c12.file}:{c12.pos}", engine="mariadb")
    assert _restore(history, target) == list(range(1, 13))


def test_gtid_target_inclusive_and_exclusive(history: History) -> None:
    c13 = history.prod.commits[12]
    assert _restore(history, parse_target(gtid=c13.gtid, engine="mariadb")) == list(range(1, 14))
    exclusive = parse_target(gtid=c13.gtid, exclusive=True, engine="mariadb")
    assert _restore(history, exclusive) == list(range(1, 13))


def test_latest_verifies_and_is_never_taken_for_production(
    history: History, tmp_path: Path
) -> None:
    request = RestoreRequest(
        history.snapshots, history.archive, RecoveryTarget(kind="latest"), backend=MySqlOptions()
    )
    prod_dsn = history.prod.dsn()
    with restored(request) as done:
        restored_dsn = done.dsn(DB)
        assert counter_rows(restored_dsn) == list(range(1, 21))
        replay = next(p for p in done.result.phases if p.name == "replay binlogs")
        assert "parallel workers, optimistic)" in (replay.detail or "")
        report = verify(restored_dsn, prod_dsn)
        assert report.status == VerifyStatus.PASS
        # diff the sandbox against production, then point reapply at the sandbox: refused
        history.prod.run("UPDATE counter SET at = at + INTERVAL 1 SECOND WHERE n = 20", db=DB)
        try:
            document = diff(restored_dsn, prod_dsn, "counter", out=tmp_path / "d.json")
            assert document.counts.changed == 1
            with pytest.raises(ReapplyRefused, match="restored database of this diff"):
                reapply(tmp_path / "d.json", restored_dsn, ReapplyOptions(execute=True))
            done_report = reapply(tmp_path / "d.json", prod_dsn, ReapplyOptions(execute=True))
            assert done_report.updated == 1
        finally:
            history.prod.run("UPDATE counter SET at = at WHERE n = 20", db=DB)
        assert verify(restored_dsn, prod_dsn).status == VerifyStatus.PASS


def test_immediate_is_the_snapshot_alone(history: History) -> None:
    target = RecoveryTarget(kind="immediate")
    assert _restore(history, target, snapshot=history.dump) == [1, 2, 3, 4, 5]


# --- bad inputs fail in the plan ---------------------------------------------------------------


def _failure(h: History, target: RecoveryTarget, archive: Path | None = None) -> str:
    outcome = plan_mysql(h.snapshots, archive or h.archive, target)
    failure = outcome.plan.first_failure()
    assert failure is not None, outcome.plan.checks
    return f"{failure.name}: {failure.detail}"


def test_missing_binlog_mid_range_fails_in_the_plan(history: History, tmp_path: Path) -> None:
    archive = shutil.copytree(history.archive, tmp_path / "archive")
    files = sorted(p for p in archive.iterdir() if not p.name.endswith(".index"))
    assert len(files) >= 3
    files[1].unlink()
    message = _failure(history, RecoveryTarget(kind="latest"), archive)
    assert files[1].name in message and "missing" in message
    # a target before the gap still plans
    ok = plan_mysql(history.dump, archive, RecoveryTarget(kind="immediate"))
    assert ok.plan.ok


def test_truncated_binlog_fails_in_the_plan(history: History, tmp_path: Path) -> None:
    archive = shutil.copytree(history.archive, tmp_path / "archive")
    middle = sorted(p for p in archive.iterdir() if not p.name.endswith(".index"))[1]
    middle.write_bytes(middle.read_bytes()[:-7])
    assert read_binlog(middle).damage is not None
    assert "truncated" in _failure(history, RecoveryTarget(kind="latest"), archive)


def test_targets_outside_the_binlogs(history: History) -> None:
    late = RecoveryTarget(kind="time", time=datetime.now(UTC) + timedelta(hours=1))
    assert "after the archive head" in _failure(history, late)
    early = RecoveryTarget(kind="time", time=history.before_all)
    assert "snapshot" in _failure(history, early)
    last = history.prod.commits[-1]
    beyond = parse_target(position=f"{last.file[:-6]}999999:4", engine="mariadb")
    assert "outside the binlogs" in _failure(history, beyond)
    unknown = parse_target(gtid="0-1-999999", engine="mariadb")
    assert "not in the binlogs" in _failure(history, unknown)


def test_dump_without_coordinates(history: History, tmp_path: Path) -> None:
    dump = tmp_path / "plain.sql"
    dump.write_text("-- MariaDB dump\nCREATE DATABASE x;\n")
    outcome = plan_mysql(dump, history.archive, RecoveryTarget(kind="latest"))
    failure = outcome.plan.first_failure()
    assert failure is not None and "coordinates" in failure.detail


def test_failed_preflight_provisions_nothing(history: History) -> None:
    before = sorted(p.name for p in sandbox_root().iterdir() if not p.name.startswith("."))
    late = RecoveryTarget(kind="time", time=datetime.now(UTC) + timedelta(hours=1))
    request = RestoreRequest(history.snapshots, history.archive, late, backend=MySqlOptions())
    with pytest.raises(PreflightFailed), restored(request):
        pass
    after = sorted(p.name for p in sandbox_root().iterdir() if not p.name.startswith("."))
    assert after == before


def test_naive_time_and_foreign_targets_are_usage_errors() -> None:
    with pytest.raises(InvalidTarget, match="time zone"):
        parse_target(time="2026-01-01T00:00:00", engine="mariadb")
    with pytest.raises(InvalidTarget, match="MariaDB/MySQL target"):
        parse_target(position="mysql-bin.000001:4")
    with pytest.raises(InvalidTarget, match="PostgreSQL target"):
        parse_target(lsn="0/1", engine="mariadb")
    with pytest.raises(InvalidTarget, match="FILE:POS"):
        parse_target(position="nonsense", engine="mariadb")


def test_cli_plan(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["plan", "--engine", "mariadb", "--snapshot", str(history.snapshots)]
    base += ["--binlog-archive", str(history.archive)]
    code, out, _ = cli([*base, "--target", "latest", "--json"], capsys)
    assert code == 0
    plan = json.loads(out)
    assert plan["binlog_range"]["transactions"] == 10 and plan["snapshot"]["kind"] == "mariabackup"
    code, _, err = cli([*base, "--target-time", "2026-01-01T00:00:00"], capsys)
    assert code == 2 and "time zone" in err
    code, _, _ = cli([*base, "--target-time", "2099-01-01T00:00:00Z"], capsys)
    assert code == 1
    code, _, err = cli(["plan", "--engine", "mariadb", "--target", "latest"], capsys)
    assert code == 2 and "--snapshot" in err
    code, _, err = cli(["plan", "--target-position", "mysql-bin.000001:4"], capsys)
    assert code == 2 and "MariaDB/MySQL target" in err


def test_verify_dsn_that_does_not_connect(history: History) -> None:
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        verify("mysql://root:secret@127.0.0.1:1/drill", history.prod.dsn())
