"""Faults injected into a real WAL archive that only a full read of the WAL finds: a segment
damaged in its body (first page intact), the same segment archived twice with different
contents, a later timeline whose .history file is missing. The plan names the file and
fails (exit 1) before anything is provisioned; a healthy archive plans with every record
read and says where replay must reach."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.archiving import archiving_settings
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.lsn import format_lsn, parse_lsn, segment_name, segment_of
from restoredrill.models import CheckStatus, RestorePlan, RestoreResult
from restoredrill.targets import parse_target
from tests.pgsetup import (
    Production,
    assert_nothing_left,
    cli,
    copy_source,
    private_sandbox_root,
    production,
    switch_wal,
)

pytestmark = pytest.mark.slow

SEGMENT = 16 * 1024 * 1024
PAGE = 8192
HEADER_PAGE = 40  # a page header well inside the filler's WAL
BODY_OFFSET = 60 * PAGE + 4000  # a byte inside a record's data, well inside the filler's WAL


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """rows 1-2 · backup 'tar' · rows 3-5 and a bulk load (~200 pages of WAL) · switch ·
    rows 6-8 · switch · rows 9-10 · restore point 'rp' · switch. Rows 3-5 sit before the
    bulk load, 6-8 and 9-10 in segments of their own after it."""
    with production(pg_tools, tmp_path_factory.mktemp("wal-faults-prod")) as made:
        made.insert(2)
        made.backup("tar", "tar")
        made.next_second()
        made.insert(3)
        with made.cluster.connect() as conn:
            conn.execute(
                "CREATE TABLE filler AS"
                " SELECT g, md5(g::text) AS h FROM generate_series(1, 30000) g"
            )
        made.switch()
        made.insert(3)
        made.switch()
        made.insert(2)
        made.restore_point("rp")
        made.switch()
        yield made


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        yield root


def bulk_segment(prod: Production) -> str:
    """The segment holding rows 3-5 and the bulk load."""
    return segment_name(1, segment_of(prod.commit(3).lsn))


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def plan_json(
    capsys: pytest.CaptureFixture[str], base: Path, archive: Path, *target: str
) -> tuple[int, RestorePlan]:
    code, out, err = cli(
        ["plan", "--base-backups", str(base), "--wal-archive", str(archive), "--json", *target],
        capsys,
    )
    assert err == "", err
    return code, RestorePlan.model_validate_json(out)


def failure(plan: RestorePlan) -> str:
    failed = plan.first_failure()
    assert failed is not None
    return failed.detail


def restore_line(
    capsys: pytest.CaptureFixture[str], base: Path, archive: Path, *args: str
) -> tuple[int, str]:
    code, out, err = cli(
        ["restore", "--base-backups", str(base), "--wal-archive", str(archive), *args], capsys
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert out == ""
    return code, lines[0]


TARGETS = {
    "time": lambda p: ["--target-time", p.commit(9).time.isoformat()],
    "xid": lambda p: ["--target-xid", str(p.commit(9).xid)],
    "name": lambda p: ["--target-name", "rp"],
    "latest": lambda p: ["--target", "latest"],
}


# --- a healthy archive: every record read, where replay must reach -----------------------


def test_healthy_archive_plans_with_every_record_read(
    prod: Production, capsys: pytest.CaptureFixture[str]
) -> None:
    base = prod.backups
    for kind, last in (("time", 9), ("xid", 9), ("name", 10)):
        code, plan = plan_json(capsys, base, prod.archive, *TARGETS[kind](prod))
        assert code == 0, plan.checks
        assert plan.logs_checked
        commit = prod.commit(last)
        assert plan.expected_end_lsn is not None
        # the end of that commit record: past its start, at most the insert position after it
        assert commit.lsn < plan.expected_end_lsn <= commit.end_lsn, kind
        assert plan.expected_last_commit_time == commit.time
    code, plan = plan_json(capsys, base, prod.archive, "--target", "latest")
    assert code == 0, plan.checks
    assert plan.logs_checked
    assert plan.expected_end_lsn is not None and plan.wal_range is not None
    # the archive head: the switch record closing the last archived segment
    assert plan.expected_end_lsn > prod.commit(10).end_lsn
    assert segment_name(1, segment_of(plan.expected_end_lsn)) == plan.wal_range.last
    assert plan.expected_last_commit_time == prod.commit(10).time
    records = [c for c in plan.checks if c.name == "WAL records"]
    assert [c.detail for c in records] == [
        f"every record from {plan.wal_range.first} to the archive head read intact"
    ]


# --- a segment damaged in its body --------------------------------------------------------


@pytest.mark.parametrize("where", ["page-header", "record"])
def test_damaged_segment_body_fails_the_plan(
    prod: Production, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    base, archive = copy_source(prod, tmp_path)
    bad = archive / bulk_segment(prod)
    offset = HEADER_PAGE * PAGE if where == "page-header" else BODY_OFFSET
    flip(bad, offset)
    start = segment_of(prod.commit(3).lsn) * SEGMENT
    for kind, target in TARGETS.items():
        code, plan = plan_json(capsys, base, archive, *target(prod))
        assert code == 1, kind
        detail = failure(plan)
        assert f"WAL segment {bad.name} is damaged at " in detail, detail
        assert str(bad) in detail
        lsn = parse_lsn(detail.split(" is damaged at ")[1].split(" ")[0])
        assert start < lsn <= start + offset, (kind, format_lsn(lsn))
        if where == "page-header":
            assert lsn == start + offset
        # the damage is the cause, not the target
        assert "after the archive head" not in detail and "not found" not in detail
        assert f"latest reachable time {prod.commit(5).time.isoformat()}" in detail
        assert not plan.logs_checked


def test_damaged_segment_body_fails_restore_before_provisioning(
    prod: Production, sandboxes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, archive = copy_source(prod, tmp_path)
    bad = archive / bulk_segment(prod)
    flip(bad, BODY_OFFSET)
    for target in (TARGETS["latest"](prod), TARGETS["xid"](prod)):
        code, line = restore_line(capsys, base / "tar", archive, *target)
        assert code == 1, line
        assert line.startswith("restoredrill: error: preflight failed (WAL segments): ")
        assert f"WAL segment {bad.name} is damaged at 0/" in line
        assert_nothing_left(sandboxes)


def test_damage_after_the_target_does_not_matter(
    prod: Production, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A time target before the bulk load is reached before the damaged part of the
    segment: nothing replay reads is damaged."""
    base, archive = copy_source(prod, tmp_path)
    flip(archive / bulk_segment(prod), BODY_OFFSET)
    code, plan = plan_json(capsys, base, archive, "--target-time", prod.commit(4).time.isoformat())
    assert code == 0, plan.checks
    assert plan.logs_checked
    assert plan.expected_last_commit_time == prod.commit(4).time


def test_newest_segment_partly_written_is_the_end_not_damage(
    prod: Production, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The archive's newest segment filled only up to a record boundary (a copy taken from
    pg_wal of a crashed primary): zeros there are the end of the WAL, not damage — while the
    same zeros in a segment followed by more archived WAL are."""
    base, archive = copy_source(prod, tmp_path)
    head = archive / segment_name(1, segment_of(prod.commit(10).lsn))
    cut = prod.commit(10).lsn % SEGMENT
    data = head.read_bytes()
    head.write_bytes(data[:cut] + bytes(len(data) - cut))
    code, plan = plan_json(capsys, base, archive, "--target", "latest")
    assert code == 0, plan.checks
    assert plan.logs_checked
    assert plan.expected_last_commit_time == prod.commit(9).time
    assert plan.expected_end_lsn is not None and plan.expected_end_lsn <= prod.commit(10).lsn
    # the same in the segment before it: rows 9-10 follow, so that is damage
    middle = archive / segment_name(1, segment_of(prod.commit(7).lsn))
    cut = prod.commit(7).lsn % SEGMENT
    data = middle.read_bytes()
    middle.write_bytes(data[:cut] + bytes(len(data) - cut))
    code, plan = plan_json(capsys, base, archive, "--target", "latest")
    assert code == 1
    assert f"WAL segment {middle.name} is damaged at {format_lsn(prod.commit(7).lsn)}" in (
        failure(plan)
    )


# --- the same segment twice ---------------------------------------------------------------


def test_same_segment_twice_with_different_contents_is_refused(
    prod: Production, sandboxes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, archive = copy_source(prod, tmp_path)
    plain = archive / segment_name(1, segment_of(prod.commit(7).lsn))
    packed = archive / f"{plain.name}.gz"
    data = bytearray(plain.read_bytes())
    data[BODY_OFFSET] ^= 0xFF
    packed.write_bytes(gzip.compress(bytes(data), compresslevel=1))
    code, plan = plan_json(capsys, base, archive, "--target", "latest")
    assert code == 1
    detail = failure(plan)
    assert f"WAL segment {plain.name} is archived twice with different contents" in detail
    assert str(plain) in detail and str(packed) in detail
    code, line = restore_line(capsys, base / "tar", archive, "--target", "latest")
    assert code == 1 and str(packed) in line
    assert_nothing_left(sandboxes)


def test_same_segment_twice_with_identical_contents_is_fine(
    prod: Production, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, archive = copy_source(prod, tmp_path)
    plain = archive / segment_name(1, segment_of(prod.commit(7).lsn))
    (archive / f"{plain.name}.gz").write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    code, plan = plan_json(capsys, base, archive, "--target", "latest")
    assert code == 0, plan.checks
    assert plan.logs_checked


# --- a later timeline without its .history ------------------------------------------------


@pytest.fixture(scope="module")
def forked(prod: Production) -> Iterator[Path]:
    """A copy of the archive holding a real timeline 2 (production restored to row 8,
    promoted, rows 101-102 archived) — with 00000002.history removed."""
    archive = prod.cluster.root / "orphan-archive"  # the server user must write here
    shutil.copytree(prod.archive, archive)
    target = parse_target(xid=str(prod.commit(8).xid))
    with restored(RestoreRequest(prod.backups / "tar", prod.archive, target)) as fork:
        sandbox = fork.sandbox
        sandbox.stop()
        sandbox.run_as.own(archive)
        sandbox.start(settings=archiving_settings(archive))
        with sandbox.connect() as conn:
            for n in (101, 102):
                conn.execute("INSERT INTO counter (n, xid) VALUES (%s, 0)", (n,))
        switch_wal(sandbox)
    (archive / "00000002.history").unlink(missing_ok=True)  # archive_mode was off at promotion
    assert any(p.name.startswith("00000002") for p in archive.iterdir())
    yield archive
    shutil.rmtree(archive, ignore_errors=True)


def test_later_timeline_without_history_fails_the_plan(
    prod: Production, forked: Path, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, plan = plan_json(capsys, prod.backups, forked, "--target", "latest")
    assert code == 1
    detail = failure(plan)
    assert "timeline 2 has WAL segments in the archive" in detail
    assert "no 00000002.history" in detail and "--timeline 1" in detail
    code, line = restore_line(capsys, prod.backups / "tar", forked, "--target", "latest")
    assert code == 1
    assert "preflight failed (timeline): timeline 2 has WAL segments" in line
    assert_nothing_left(sandboxes)


def test_explicit_timeline_follows_the_old_one(
    prod: Production, forked: Path, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, plan = plan_json(capsys, prod.backups, forked, "--target", "latest", "--timeline", "1")
    assert code == 0, plan.checks
    assert plan.target_timeline == 1
    assert plan.logs_checked
    assert plan.expected_last_commit_time == prod.commit(10).time
    assert all(c.status != CheckStatus.FAILED for c in plan.checks)
    code, plan = plan_json(capsys, prod.backups, forked, "--target", "latest", "--timeline", "2")
    assert code == 1
    assert "--timeline 2 cannot be reached" in failure(plan)
    code, out, err = cli(
        [
            "restore", "--base-backups", str(prod.backups / "tar"), "--wal-archive", str(forked),
            "--target", "latest", "--timeline", "1", "--json",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    result = RestoreResult.model_validate_json(out)
    assert result.plan.target_timeline == 1
    assert result.last_replayed_xact_time == prod.commit(10).time
    assert_nothing_left(sandboxes)
