"""Point-in-time restores of a real production cluster: every target type lands exactly on
the committed state it names, from every base backup format, from compressed WAL, and
across a timeline switch."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.archiving import archiving_settings
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.lsn import format_lsn
from restoredrill.models import RecoveryTarget, RestoreResult
from restoredrill.targets import parse_target
from tests.pgsetup import Production, archived_segments, counter_rows, production, switch_wal

pytestmark = pytest.mark.slow

FORMATS = {
    "tar": ("tar", "none"),
    "tar.gz": ("tar", "gzip"),
    "tar.lz4": ("tar", "lz4"),
    "tar.zst": ("tar", "zstd"),
    "plain": ("plain", "none"),
}


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """Rows 1-3, then one base backup per format, then rows 4-6 · switch · rows 7-8 ·
    restore point 'after-8' · rows 9-10 · rows 11-12 as two-phase commits · switch.
    Production keeps running (read only)."""
    with production(pg_tools, tmp_path_factory.mktemp("restore-prod")) as made:
        made.insert(3)
        for name, (fmt, compression) in FORMATS.items():
            made.backup(name, fmt, compression)  # type: ignore[arg-type]
        made.next_second()
        made.insert(3)
        made.switch()
        made.insert(2)
        made.restore_point("after-8")
        made.insert(2)
        made.insert(2, prepared=True)
        made.switch()
        yield made


def restore_rows(
    prod: Production, target: RecoveryTarget, backup: str = "tar", archive: Path | None = None
) -> tuple[list[int], RestoreResult]:
    request = RestoreRequest(prod.backups / backup, archive or prod.archive, target)
    with restored(request) as done:
        rows = counter_rows(done.dsn())
        assert done.sandbox.is_running()
        return rows, done.result


def upto(n: int) -> list[int]:
    return list(range(1, n + 1))


# --- target types --------------------------------------------------------------------


def test_target_time_inclusive_stops_after_that_commit(prod: Production) -> None:
    commit = prod.commit(5)
    rows, result = restore_rows(prod, parse_target(time=commit.time.isoformat()))
    assert rows == upto(5)
    assert result.last_replayed_xact_time == commit.time
    assert result.plan.expected_last_commit_time == commit.time
    assert result.rpo_seconds == 0.0
    assert {p.name for p in result.phases} >= {"provision", "restore base", "replay WAL"}
    assert result.rto_seconds > 0


def test_target_time_exclusive_stops_before_that_commit(prod: Production) -> None:
    commit = prod.commit(5)
    rows, result = restore_rows(prod, parse_target(time=commit.time.isoformat(), exclusive=True))
    assert rows == upto(4)
    assert result.last_replayed_xact_time == prod.commit(4).time
    assert result.plan.expected_last_commit_time == prod.commit(4).time


def test_target_time_between_commits_in_another_zone(prod: Production) -> None:
    earlier, later = prod.commit(8), prod.commit(9)
    between = earlier.time + (later.time - earlier.time) / 2
    offset = between.astimezone(timezone(timedelta(hours=-5)))
    rows, result = restore_rows(prod, parse_target(time=offset.isoformat()))
    assert rows == upto(8)
    assert result.rpo_seconds == pytest.approx((between - earlier.time).total_seconds())


@pytest.mark.parametrize(("exclusive", "expected"), [(False, 7), (True, 6)])
def test_target_lsn_of_a_commit_record(prod: Production, exclusive: bool, expected: int) -> None:
    target = parse_target(lsn=format_lsn(prod.commit(7).lsn), exclusive=exclusive)
    rows, result = restore_rows(prod, target)
    assert rows == upto(expected)
    assert result.recovered_to_lsn is not None


def test_target_lsn_returned_by_pg_switch_wal(prod: Production) -> None:
    """The LSN pg_switch_wal() returns ends its segment; the next record (and so the stop)
    is in the next segment, which the restore must therefore fetch too."""
    switch_lsn, rows_before = prod.switches[0]
    rows, _ = restore_rows(prod, parse_target(lsn=format_lsn(switch_lsn)))
    assert rows == upto(rows_before)


@pytest.mark.parametrize(("exclusive", "expected"), [(False, 6), (True, 5)])
def test_target_xid(prod: Production, exclusive: bool, expected: int) -> None:
    target = parse_target(xid=str(prod.commit(6).xid), exclusive=exclusive)
    rows, result = restore_rows(prod, target)
    assert rows == upto(expected)
    assert result.last_replayed_xact_time == prod.commit(expected).time
    assert result.plan.expected_last_commit_time == prod.commit(expected).time


@pytest.mark.parametrize(("exclusive", "expected"), [(False, 11), (True, 10)])
def test_target_xid_of_a_prepared_transaction(
    prod: Production, exclusive: bool, expected: int
) -> None:
    """COMMIT PREPARED is logged by another session (record xid 0); recovery_target_xid
    matches the prepared transaction's xid, and so must the plan."""
    target = parse_target(xid=str(prod.commit(11).xid), exclusive=exclusive)
    rows, result = restore_rows(prod, target)
    assert rows == upto(expected)
    assert result.plan.expected_last_commit_time == prod.commit(expected).time


def test_target_name(prod: Production) -> None:
    rows, result = restore_rows(prod, parse_target(name="after-8"))
    assert rows == upto(prod.restore_points["after-8"])
    assert result.plan.expected_last_commit_time == prod.commit(8).time


def test_target_latest(prod: Production) -> None:
    rows, result = restore_rows(prod, parse_target(target="latest"))
    assert rows == upto(12)
    assert result.last_replayed_xact_time == prod.commit(12).time
    assert result.plan.expected_last_commit_time == prod.commit(12).time


def test_target_immediate(prod: Production) -> None:
    rows, result = restore_rows(prod, parse_target(target="immediate"))
    assert rows == upto(prod.backup_rows["tar"])
    assert result.plan.base_backup is not None
    assert result.recovered_to_lsn is not None
    assert result.recovered_to_lsn <= prod.commit(4).lsn


# --- base backup formats and compressed WAL ------------------------------------------------


@pytest.mark.parametrize("backup", list(FORMATS))
def test_every_base_backup_format_restores(prod: Production, backup: str) -> None:
    rows, result = restore_rows(prod, parse_target(time=prod.commit(9).time.isoformat()), backup)
    assert rows == upto(9)
    plan = result.plan
    assert plan.base_backup is not None
    assert (plan.base_backup.format, plan.base_backup.compression) == FORMATS[backup]
    base = next(p for p in result.phases if p.name == "restore base")
    assert base.detail == "checked against backup_manifest"
    assert base.bytes is not None and base.bytes > 1_000_000


def compress(segment: Path, how: str) -> None:
    """Compress an archived segment in place, as a compressing archive_command would."""
    if how == "gzip":
        with segment.open("rb") as raw, gzip.open(f"{segment}.gz", "wb", compresslevel=1) as gz:
            shutil.copyfileobj(raw, gz)
    else:
        suffix, argv = {"lz4": (".lz4", ["lz4", "-q", "-1"]), "zstd": (".zst", ["zstd", "-q"])}[how]
        with open(f"{segment}{suffix}", "wb") as sink:
            subprocess.run([*argv, "-c", str(segment)], stdout=sink, check=True)
    segment.unlink()


@pytest.mark.parametrize("how", ["gzip", "lz4", "zstd"])
def test_compressed_wal_segments_restore(prod: Production, tmp_path: Path, how: str) -> None:
    if how != "gzip" and shutil.which(how) is None:
        pytest.skip(f"the {how} tool is not installed on this machine")
    archive = tmp_path / "archive"
    shutil.copytree(prod.archive, archive)
    segments = archived_segments(archive)
    for segment in segments[-3:]:
        compress(segment, how)
    target = parse_target(time=prod.commit(9).time.isoformat())
    rows, result = restore_rows(prod, target, archive=archive)
    assert rows == upto(9)
    assert result.plan.wal_range is not None
    assert result.plan.wal_range.last == segments[-1].name
    fetched = next(p for p in result.phases if p.name == "fetch WAL")
    assert fetched.bytes == result.plan.wal_range.bytes  # staged uncompressed


# --- timelines -----------------------------------------------------------------------------


def test_restore_follows_a_timeline_switch(prod: Production) -> None:
    """Restore production to row 8 and promote it (timeline 2), archive from that copy into
    a copy of the archive, then restore again: the new timeline is followed, and production's
    own rows 9-10 (timeline 1 after the fork) are not replayed."""
    archive = prod.cluster.root / "timeline-archive"  # the server user must write here
    shutil.copytree(prod.archive, archive)
    target = parse_target(xid=str(prod.commit(8).xid))
    with restored(RestoreRequest(prod.backups / "tar", prod.archive, target)) as fork:
        sandbox = fork.sandbox
        sandbox.stop()
        sandbox.run_as.own(archive)
        history = sandbox.datadir / "pg_wal" / "00000002.history"
        shutil.copy(history, archive / history.name)  # archive_mode was off at promotion
        sandbox.start(settings=archiving_settings(archive))
        with sandbox.connect() as conn:
            for n in (101, 102):
                conn.execute("INSERT INTO counter (n, xid) VALUES (%s, 0)", (n,))
            last = conn.execute("SELECT max(n) FROM counter").fetchone()
        assert last == (102,)
        switch_wal(sandbox)

    rows, result = restore_rows(prod, parse_target(target="latest"), archive=archive)
    assert rows == [*upto(8), 101, 102]
    assert result.plan.target_timeline == 2
    assert result.plan.wal_range is not None
    assert result.plan.wal_range.timelines == [1, 2]
