"""Bad inputs through the real CLI: one clear line on stderr, the documented exit code, and
nothing left behind (no sandbox directory, no server process)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import restoredrill.engines.postgres.restore as restore_module
from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.plan import PlanOutcome, plan_restore
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import RecoveryIncomplete
from restoredrill.lsn import format_lsn, segment_name, segment_of
from restoredrill.targets import parse_target
from tests.pgsetup import (
    Production,
    assert_nothing_left,
    cli,
    copy_source,
    private_sandbox_root,
    production,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """rows 1-2 · backups 'tar' and 'gz' · rows 3-5 · switch · rows 6-8 · switch ·
    rows 9-10 · switch: rows 3-5, 6-8 and 9-10 each sit in a segment of their own."""
    with production(pg_tools, tmp_path_factory.mktemp("bad-inputs-prod")) as made:
        made.insert(2)
        made.backup("tar", "tar")
        made.backup("gz", "tar", "gzip")
        made.next_second()
        for rows in (3, 3, 2):
            made.insert(rows)
            made.switch()
        yield made


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        yield root


def run(
    capsys: pytest.CaptureFixture[str], base: Path, archive: Path, *target: str
) -> tuple[int, str]:
    """`restoredrill restore`; returns (exit code, the single stderr line)."""
    code, out, err = cli(
        ["restore", "--base-backups", str(base), "--wal-archive", str(archive), *target], capsys
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("restoredrill: error: "), err
    assert out == ""
    return code, lines[0]


def segment_holding(prod: Production, n: int) -> str:
    return segment_name(1, segment_of(prod.commit(n).lsn))


# --- usage and configuration: exit 2 ---------------------------------------------------


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (["--target-time", "2026-11-21 03:14:00"], "has no time zone"),
        (["--target-time", "yesterday"], "is not an ISO 8601 time"),
        (["--target-lsn", "16B3748"], "not an LSN"),
        (["--target-xid", "abc"], "is not a transaction id"),
        (["--target", "soonest"], "expected 'latest' or 'immediate'"),
        (["--target", "latest", "--exclusive"], "--exclusive does not apply"),
        (["--target-name", "rp", "--exclusive"], "--exclusive does not apply"),
        (["--target", "latest", "--target-xid", "800"], "give exactly one recovery target"),
        ([], "choose a recovery target"),
    ],
)
def test_bad_targets_are_usage_errors(
    prod: Production,
    sandboxes: Path,
    capsys: pytest.CaptureFixture[str],
    target: list[str],
    says: str,
) -> None:
    code, line = run(capsys, prod.backups / "tar", prod.archive, *target)
    assert code == 2
    assert says in line
    assert_nothing_left(sandboxes)


def test_missing_directories_are_config_errors(
    prod: Production, sandboxes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, line = run(capsys, tmp_path / "nope", prod.archive, "--target", "latest")
    assert code == 2
    assert f"--base-backups {tmp_path / 'nope'}: no such directory" in line
    code, line = run(capsys, prod.backups / "tar", tmp_path / "nowal", "--target", "latest")
    assert code == 2
    assert f"--wal-archive {tmp_path / 'nowal'}: no such directory" in line
    assert_nothing_left(sandboxes)


@pytest.mark.skipif(os.geteuid() != 0, reason="--os-user only matters when running as root")
def test_unknown_os_user_is_a_config_error(
    prod: Production, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, line = run(
        capsys, prod.backups / "tar", prod.archive, "--target", "latest", "--os-user", "nosuchuser"
    )
    assert code == 2
    assert "no OS user 'nosuchuser'" in line
    assert_nothing_left(sandboxes)


# --- the backups cannot reach the target: exit 1, nothing provisioned ---------------------


def test_target_before_the_base_backup_ends(
    prod: Production, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for target in (
        ["--target-time", prod.commit(1).time.isoformat()],
        ["--target-lsn", format_lsn(prod.commit(2).lsn)],
    ):
        code, line = run(capsys, prod.backups / "tar", prod.archive, *target)
        assert code == 1
        assert "preflight failed (target after backup end)" in line
        assert "before the end of the oldest base backup" in line
    assert_nothing_left(sandboxes)


def test_target_after_the_archive_head(
    prod: Production, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    last = prod.commit(prod.rows)
    for target in (
        ["--target-time", (last.time + timedelta(minutes=5)).isoformat()],
        ["--target-lsn", format_lsn(last.end_lsn + 64 * 1024 * 1024)],
        ["--target-xid", str(last.xid + 1000)],
    ):
        code, line = run(capsys, prod.backups / "tar", prod.archive, *target)
        assert code == 1
        assert "preflight failed" in line
        assert last.time.isoformat() in line  # the latest reachable time
    assert_nothing_left(sandboxes)


def test_missing_wal_segment_mid_range(
    prod: Production, sandboxes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, archive = copy_source(prod, tmp_path, ["tar"])
    gap = segment_holding(prod, 7)
    (archive / gap).unlink()
    for target in (
        ["--target-time", prod.commit(9).time.isoformat()],
        ["--target-xid", str(prod.commit(9).xid)],
        ["--target-lsn", format_lsn(prod.commit(9).lsn)],
        ["--target", "latest"],
    ):
        code, line = run(capsys, base / "tar", archive, *target)
        assert code == 1, line
        assert f"missing WAL segment {gap}" in line
        assert f"latest reachable time {prod.commit(5).time.isoformat()}" in line
    assert_nothing_left(sandboxes)


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "other-segment"])
def test_damaged_wal_segment_in_the_needed_range(
    prod: Production,
    sandboxes: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    base, archive = copy_source(prod, tmp_path, ["tar"])
    bad = archive / segment_holding(prod, 7)
    if damage == "empty":
        bad.write_bytes(b"")
    elif damage == "garbage":
        bad.write_bytes(os.urandom(16 * 1024 * 1024))
    elif damage == "truncated":
        bad.write_bytes(bad.read_bytes()[: 8 * 1024 * 1024])
    else:  # a real segment, but not this one (a mixed-up copy)
        bad.write_bytes((archive / segment_holding(prod, 4)).read_bytes())
    for target in (
        ["--target-time", prod.commit(9).time.isoformat()],
        ["--target-xid", str(prod.commit(9).xid)],
        ["--target", "latest"],
    ):
        code, line = run(capsys, base / "tar", archive, *target)
        assert code == 1, line
        assert f"WAL segment {bad.name} " in line
        assert f"latest reachable time {prod.commit(5).time.isoformat()}" in line
    assert_nothing_left(sandboxes)


@pytest.mark.parametrize("name", ["tar/base.tar", "gz/base.tar.gz", "gz/pg_wal.tar.gz"])
def test_truncated_base_backup(
    prod: Production,
    sandboxes: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    backup, _, member = name.partition("/")
    base, archive = copy_source(prod, tmp_path, [backup])
    damaged = base / backup / member
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    code, line = run(capsys, base / backup, archive, "--target", "latest")
    assert code == 1, line
    assert f"{member} is truncated or damaged" in line
    assert_nothing_left(sandboxes)


@pytest.mark.parametrize("damage", ["manifest-lsn", "manifest-json", "backup-history"])
def test_damaged_backup_metadata(
    prod: Production,
    sandboxes: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    base, archive = copy_source(prod, tmp_path, ["tar"])
    manifest = base / "tar" / "backup_manifest"
    if damage == "manifest-lsn":
        manifest.write_text(manifest.read_text().replace('"End-LSN": "', '"End-LSN": "x'))
        says = "unreadable backup_manifest"
    elif damage == "manifest-json":
        manifest.write_text(manifest.read_text()[:100])
        says = "unreadable backup_manifest"
    else:
        (archive / "000000010000000000000009.00000028.backup").write_text("STOP TIME: never\n")
        says = "000000010000000000000009.00000028.backup: unreadable backup history file"
    code, line = run(capsys, base / "tar", archive, "--target", "latest")
    assert code == 1, line
    assert says in line
    assert_nothing_left(sandboxes)


# --- PostgreSQL ending recovery early is a failure, never a quiet success -----------------


def test_recovery_ending_before_the_target_is_a_failure(
    prod: Production,
    sandboxes: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The plan accepts the target, then the WAL that leads to it is gone (as if the
    archive lost it after planning): the server replays what it has and ends recovery
    early. That must surface as RecoveryIncomplete (exit 1), not as a restore."""
    real_plan = plan_restore
    cut = segment_of(prod.commit(9).lsn)

    def plan_then_lose_wal(*args: object, **kwargs: object) -> PlanOutcome:
        outcome = real_plan(*args, **kwargs)  # type: ignore[arg-type]
        assert outcome.plan.ok and outcome.segments[-1].segno >= cut
        outcome.segments = [s for s in outcome.segments if s.segno < cut]
        return outcome

    monkeypatch.setattr(restore_module, "plan_restore", plan_then_lose_wal)
    target = parse_target(time=prod.commit(9).time.isoformat())
    with (
        pytest.raises(RecoveryIncomplete, match="ended recovery before reaching the target"),
        restored(RestoreRequest(prod.backups / "tar", prod.archive, target)),
    ):
        pytest.fail("a restore that missed its target was yielded")
    assert_nothing_left(sandboxes)

    code, line = run(
        capsys, prod.backups / "tar", prod.archive, "--target-xid", str(prod.commit(9).xid)
    )
    assert code == 1
    assert "PostgreSQL ended recovery before reaching the target" in line
    assert_nothing_left(sandboxes)


def test_wal_deleted_after_planning_is_a_failure(
    prod: Production,
    sandboxes: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, archive = copy_source(prod, tmp_path, ["tar"])
    real_plan = plan_restore
    gone = archive / segment_holding(prod, 7)

    def plan_then_delete(*args: object, **kwargs: object) -> PlanOutcome:
        outcome = real_plan(*args, **kwargs)  # type: ignore[arg-type]
        gone.unlink()
        return outcome

    monkeypatch.setattr(restore_module, "plan_restore", plan_then_delete)
    code, line = run(capsys, base / "tar", archive, "--target", "latest")
    assert code == 1
    assert gone.name in line
    assert_nothing_left(sandboxes)
