"""The dry run against a real archive with several base backups: which backup, which WAL,
what the restore will contain — and `restoredrill plan --json`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.plan import plan_restore
from restoredrill.engines.postgres.source_local import FileSource
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.lsn import format_lsn, segment_name, segment_of
from restoredrill.models import CheckStatus, RecoveryTarget, RestorePlan
from restoredrill.targets import parse_target
from tests.pgsetup import Production, cli, counter_rows, manual_backup, production

pytestmark = pytest.mark.slow
SEGMENT = 16 * 1024 * 1024


def _commit_early_in_a_second(prod: Production) -> None:
    """Commit one row just after a wall-clock second starts, so the backup that stops right
    after it records (in whole seconds) a stop time no later than this commit."""
    prod.next_second()
    prod.insert(1)


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """rows 1-3 · backup b1 (tar.gz) · rows 4-6 · switch · backup b2 (tar) · rows 7-9 ·
    restore point 'rp' · manual backup b3 with row 10 committed while it runs · rows 11-12 ·
    switch."""
    with production(pg_tools, tmp_path_factory.mktemp("plan-prod")) as made:
        made.insert(3)
        made.backup("b1", "tar", "gzip")
        made.next_second()
        made.insert(3)
        made.switch()
        made.backup("b2", "tar")
        made.next_second()
        made.insert(3)
        made.restore_point("rp")
        manual_backup(made, "b3", lambda: _commit_early_in_a_second(made))
        made.next_second()
        made.insert(2)
        made.switch()
        yield made


def plan_for(prod: Production, target: RecoveryTarget, tools: PgTools) -> RestorePlan:
    plan = plan_restore(FileSource(prod.backups, prod.archive), target, tools).plan
    assert plan.ok, plan.first_failure()
    return plan


def chosen(plan: RestorePlan) -> str:
    assert plan.base_backup is not None
    return Path(plan.base_backup.path).name


def test_catalogue_sees_every_backup_with_its_history(prod: Production) -> None:
    catalogue = FileSource(prod.backups, prod.archive).catalogue()
    assert [Path(b.path).name for b in catalogue.backups] == ["b1", "b2", "b3"]
    assert [(b.format, b.compression) for b in catalogue.backups] == [
        ("tar", "gzip"),
        ("tar", "none"),
        ("plain", "none"),
    ]
    for backup in catalogue.backups:
        assert backup.stop_time_source == "backup-history"
        assert backup.start_lsn < backup.end_lsn
        assert backup.pg_version in (None, "15")


@pytest.mark.parametrize(
    ("n", "expected"),
    [(2, None), (5, "b1"), (8, "b2"), (11, "b3")],
)
def test_time_target_chooses_newest_backup_ending_before_it(
    prod: Production, pg_tools: PgTools, n: int, expected: str | None
) -> None:
    target = parse_target(time=prod.commit(n).time.isoformat())
    outcome = plan_restore(FileSource(prod.backups, prod.archive), target, pg_tools)
    if expected is None:  # before the oldest backup ended
        failure = outcome.plan.first_failure()
        assert failure is not None and failure.name == "target after backup end"
        assert "before the end of the oldest base backup" in failure.detail
        assert outcome.segments == []
        return
    plan = outcome.plan
    assert plan.ok, plan.first_failure()
    assert chosen(plan) == expected
    assert plan.expected_last_commit_time == prod.commit(n).time


@pytest.mark.parametrize(("n", "expected"), [(5, "b1"), (8, "b2"), (11, "b3")])
def test_xid_and_lsn_targets_choose_newest_backup_ending_before_them(
    prod: Production, pg_tools: PgTools, n: int, expected: str
) -> None:
    commit = prod.commit(n)
    by_xid = plan_for(prod, parse_target(xid=str(commit.xid)), pg_tools)
    assert chosen(by_xid) == expected
    assert by_xid.expected_last_commit_time == commit.time
    by_lsn = plan_for(prod, parse_target(lsn=format_lsn(commit.lsn)), pg_tools)
    assert chosen(by_lsn) == expected


def test_restore_point_and_latest(prod: Production, pg_tools: PgTools) -> None:
    named = plan_for(prod, parse_target(name="rp"), pg_tools)
    assert chosen(named) == "b2"
    assert named.expected_last_commit_time == prod.commit(prod.restore_points["rp"]).time
    latest = plan_for(prod, parse_target(target="latest"), pg_tools)
    assert chosen(latest) == "b3"
    assert latest.expected_last_commit_time == prod.commit(prod.rows).time
    assert latest.archive_head_time == prod.commit(prod.rows).time
    assert latest.archive_head_lsn is not None and latest.archive_head_lsn > prod.commits[-1].lsn


def test_wal_range_runs_from_backup_start_past_the_stop(
    prod: Production, pg_tools: PgTools
) -> None:
    target = parse_target(time=prod.commit(5).time.isoformat())
    outcome = plan_restore(FileSource(prod.backups, prod.archive), target, pg_tools)
    plan, wal = outcome.plan, outcome.plan.wal_range
    assert plan.base_backup is not None and wal is not None
    # replay stops at the next commit (row 6): its segment must be in the range
    stop_segno = segment_of(prod.commit(6).lsn)
    assert wal.first == segment_name(1, segment_of(plan.base_backup.start_lsn))
    assert wal.first <= segment_name(1, stop_segno) <= wal.last
    assert (
        wal.segments
        == len(outcome.segments)
        == segment_of_name(wal.last) - segment_of_name(wal.first) + 1
    )
    assert wal.bytes == wal.segments * SEGMENT
    assert wal.timelines == [1]
    assert [s.name for s in outcome.segments] == [
        segment_name(1, n) for n in range(segment_of_name(wal.first), segment_of_name(wal.last) + 1)
    ]
    assert all(check.status != CheckStatus.FAILED for check in plan.checks)
    assert {c.name for c in plan.checks} >= {"base backup", "timeline", "WAL chain"}


def segment_of_name(name: str) -> int:
    return int(name[8:16], 16) * 0x100 + int(name[16:], 16)


def test_time_target_inside_a_backups_window_uses_an_older_backup(
    prod: Production, pg_tools: PgTools
) -> None:
    """b3's recorded stop time (whole seconds) is not after row 10, which committed while
    b3 was running; replay from b3 cannot stop before b3 is consistent, so b2 is used."""
    catalogue = FileSource(prod.backups, prod.archive).catalogue()
    b3 = catalogue.backups[-1]
    row10 = prod.commit(10)
    assert b3.stop_time is not None and b3.stop_time <= row10.time, "set-up: same second"
    assert b3.start_lsn < row10.lsn < b3.end_lsn
    target = parse_target(time=(row10.time - timedelta(microseconds=1)).isoformat())
    plan = plan_for(prod, target, pg_tools)
    assert chosen(plan) == "b2"
    assert plan.expected_last_commit_time == prod.commit(9).time
    with restored(RestoreRequest(prod.backups, prod.archive, target)) as done:
        assert counter_rows(done.dsn()) == list(range(1, 10))


def test_plan_json_is_one_document(prod: Production, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        [
            "plan",
            "--base-backups",
            str(prod.backups),
            "--wal-archive",
            str(prod.archive),
            "--target-xid",
            str(prod.commit(8).xid),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    document = json.loads(out)  # the whole of stdout is one JSON document
    assert Path(document["base_backup"]["path"]).name == "b2"
    assert document["target"] == {
        "kind": "xid",
        "time": None,
        "lsn": None,
        "xid": prod.commit(8).xid,
        "name": None,
        "inclusive": True,
    }
    assert document["wal_range"]["first"] <= document["wal_range"]["last"]
    assert datetime.fromisoformat(document["expected_last_commit_time"]) == prod.commit(8).time
    assert all(check["status"] != "failed" for check in document["checks"])
    assert isinstance(document["archive_head_lsn"], str) and "/" in document["archive_head_lsn"]


def test_plan_json_of_an_impossible_target_exits_1(
    prod: Production, capsys: pytest.CaptureFixture[str]
) -> None:
    late = prod.commit(prod.rows).time + timedelta(hours=1)
    code, out, _err = cli(
        [
            "plan",
            "--base-backups",
            str(prod.backups),
            "--wal-archive",
            str(prod.archive),
            "--target-time",
            late.isoformat(),
            "--json",
        ],
        capsys,
    )
    assert code == 1
    document = json.loads(out)
    failed = [c for c in document["checks"] if c["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["name"] == "target before archive head"
    assert prod.commit(prod.rows).time.isoformat() in failed[0]["detail"]


def test_plan_text_and_relative_paths(
    prod: Production, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative --base-backups / --wal-archive work (the WAL scan must not lose them)."""
    monkeypatch.chdir(prod.archive.parent)
    code, out, err = cli(
        [
            "plan",
            "--base-backups",
            os.path.relpath(prod.backups),
            "--wal-archive",
            prod.archive.name,
            "--target",
            "latest",
        ],
        capsys,
    )
    assert code == 0, err
    assert "Plan: ready to restore" in out
    assert f"last commit {prod.commit(prod.rows).time.isoformat()}" in out
    assert err == ""


def test_server_logging_in_an_ambiguous_time_zone(
    pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """backup_label and backup history times carry the server's log_timezone abbreviation:
    'CST' is Chicago, Shanghai or Havana. The label's own mtime settles which."""
    chicago = {"log_timezone": "America/Chicago", "timezone": "America/Chicago"}
    root = tmp_path_factory.mktemp("chicago")
    with production(pg_tools, root, "test-chicago", chicago) as made:
        made.insert(2)
        made.backup("tar", "tar")
        made.next_second()
        made.insert(3)
        made.switch()
        (history,) = [p for p in made.archive.iterdir() if p.name.endswith(".backup")]
        assert "STOP TIME: " in history.read_text()
        assert history.read_text().count(" CST\n") + history.read_text().count(" CDT\n") == 2
        target = parse_target(time=made.commit(4).time.isoformat())
        plan = plan_for(made, target, pg_tools)
        backup = plan.base_backup
        assert backup is not None and backup.stop_time is not None
        assert made.commit(2).time - timedelta(seconds=1) <= backup.stop_time
        assert backup.stop_time <= made.commit(3).time
        assert plan.expected_last_commit_time == made.commit(4).time
        with restored(RestoreRequest(made.backups, made.archive, target)) as done:
            assert counter_rows(done.dsn()) == [1, 2, 3, 4]
