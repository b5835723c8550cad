"""The restore's own verdict on a real server: replay that stops short of the archive head at a
damaged WAL segment is RecoveryIncomplete (exit 1), a base backup without backup_manifest is
said to be unchecked (UNVERIFIED, not PASS), and a full sandbox disk is an infrastructure
error (exit 3), not a corrupt backup."""

from __future__ import annotations

import contextlib
import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from restoredrill.drill.run import ACCEPT_HINT, DrillOptions, run_drills
from restoredrill.engines.postgres import restore as restore_module
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.ledger import Ledger
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE, format_lsn, segment_name, segment_of
from tests.pgsetup import (
    Production,
    archived_segments,
    assert_nothing_left,
    cli,
    copy_source,
    private_sandbox_root,
    production,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """Rows 1-3 · tar backup · rows 4-5 · a few MB of filler · rows 6-7 · switch · rows 8-9 ·
    switch: the filler spreads records over the body of at least one whole segment."""
    with production(pg_tools, tmp_path_factory.mktemp("verdict-prod")) as made:
        made.insert(3)
        made.backup("tar")
        made.next_second()
        made.insert(2)
        with made.cluster.connect() as conn:
            conn.execute(
                "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad"
                " FROM generate_series(1, 40000) g"
            )
        made.insert(2)
        made.switch()
        made.insert(2)
        made.switch()
        yield made


@pytest.fixture
def sandbox_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        yield root


def damage_body(prod: Production, dest: Path, *, now: bool = True) -> tuple[Path, Path, str]:
    """A private copy of the source whose segment holding the filler gets 256 bytes flipped
    in its body (its first pages intact, later segments present); with ``now=False`` the
    bytes are flipped later by ``flip_body``. Returns (base backups, WAL archive, segment)."""
    base, archive = copy_source(prod, dest)
    name = segment_name(1, segment_of(_middle(prod)))
    assert (archive / name).is_file()
    if now:
        flip_body(prod, archive)
    return base, archive, name


def _middle(prod: Production) -> int:
    return (prod.commit(5).end_lsn + prod.commit(6).lsn) // 2


def flip_body(prod: Production, archive: Path) -> None:
    middle = _middle(prod)
    segno = segment_of(middle)
    offset = max(middle % DEFAULT_SEGMENT_SIZE, 4 * 8192)
    path = archive / segment_name(1, segno)
    assert (archive / segment_name(1, segno + 1)).is_file(), "later segments must be present"
    data = bytearray(path.read_bytes())
    data[offset : offset + 256] = bytes(b ^ 0xFF for b in data[offset : offset + 256])
    path.write_bytes(bytes(data))


def test_damaged_segment_body_latest_restore_exits_1(
    prod: Production,
    tmp_path: Path,
    sandbox_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The plan reads every record and would refuse this archive; the damage appears after
    planning (as a disk or a copy can damage it), so the post-replay comparison must catch it."""
    base, archive, damaged = damage_body(prod, tmp_path, now=False)
    real_plan = restore_module.plan_restore

    def plan_then_damage(*args: Any, **kwargs: Any) -> Any:
        outcome = real_plan(*args, **kwargs)
        flip_body(prod, archive)
        return outcome

    monkeypatch.setattr(restore_module, "plan_restore", plan_then_damage)
    args = ["restore", "--base-backups", str(base), "--wal-archive", str(archive)]
    code, out, err = cli([*args, "--target", "latest"], capsys)
    assert code == 1, out + err
    message = err.strip().splitlines()[-1]
    assert f"WAL segment {damaged} could not be read" in message
    assert "before the archive head" in message
    assert f"last transaction recovered {prod.commit(5).time.isoformat(sep=' ')}" in message
    assert_nothing_left(sandbox_root)
    with Ledger() as ledger:
        entry = ledger.entries()[0]
    assert entry.verdict == "ERROR: RecoveryIncomplete"


def test_drill_latest_over_damaged_segment_is_not_pass(
    prod: Production, tmp_path: Path, sandbox_root: Path
) -> None:
    base, archive, damaged = damage_body(prod, tmp_path)
    playbook = tmp_path / "damaged.yaml"
    playbook.write_text(
        f"name: damaged\nsource: {{kind: file, base_backups: {base}, wal_archive: {archive}}}\n"
        "target: {latest: true}\ndatabases: [{name: postgres}]\n"
    )
    fleet = run_drills([playbook], DrillOptions(ledger_path=tmp_path / "ledger.db"))
    result = fleet.drills[0]
    assert result.verdict == "FAIL"
    assert result.exit_code == 1
    assert any(damaged in failure for failure in result.failures), result.failures
    assert_nothing_left(sandbox_root)


def test_target_beyond_damaged_segment_names_the_segment(
    prod: Production, tmp_path: Path, sandbox_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL's own "recovery ended before configured recovery target was reached"
    gets the segment it could not read (whether the plan or the replay notices first)."""
    base, archive, damaged = damage_body(prod, tmp_path)
    args = ["restore", "--base-backups", str(base), "--wal-archive", str(archive)]
    target = format_lsn(prod.commit(7).end_lsn)
    code, out, err = cli([*args, "--target-lsn", target], capsys)
    assert code == 1, out + err
    message = err.strip().splitlines()[-1]
    assert f"WAL segment {damaged}" in message
    assert_nothing_left(sandbox_root)


def test_clean_latest_restore_reaches_the_archive_head(
    prod: Production, sandbox_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["restore", "--base-backups", str(prod.backups), "--wal-archive", str(prod.archive)]
    code, out, err = cli([*args, "--target", "latest", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["base_check"] == "manifest"
    assert result["warnings"] == []
    with Ledger() as ledger:
        assert ledger.entries()[0].verdict == "RESTORED"
    assert_nothing_left(sandbox_root)


# --- a base backup without backup_manifest --------------------------------------------------


def _no_manifest(prod: Production, dest: Path) -> tuple[Path, Path, Path]:
    base, archive = copy_source(prod, dest)
    (base / "tar" / "backup_manifest").unlink()
    return base, archive, base / "tar"


def test_base_without_manifest_is_said_unchecked(
    prod: Production, tmp_path: Path, sandbox_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, archive, backup = _no_manifest(prod, tmp_path)
    args = ["restore", "--base-backups", str(base), "--wal-archive", str(archive)]
    code, out, err = cli([*args, "--target", "latest", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    warning = f"base backup {backup} has no backup_manifest: not checked"
    assert result["base_check"] == "none"
    assert result["warnings"] == [warning]
    with Ledger() as ledger:
        entry = ledger.entries()[0]
        details = ledger.records()[0].details
    assert entry.verdict == "UNVERIFIED"
    assert details["base_check"] == "none" and details["warnings"] == [warning]
    code, out, err = cli([*args, "--target", "latest"], capsys)
    assert code == 0, err
    assert "not checked" in out and warning in " ".join(out.split())
    assert_nothing_left(sandbox_root)


def _drill(tmp_path: Path, base: Path, archive: Path, extra: str = "", name: str = "pb") -> Path:
    playbook = tmp_path / f"{name}.yaml"
    playbook.write_text(
        f"name: unverified\nsource: {{kind: file, base_backups: {base}, wal_archive: {archive}"
        f"{extra}}}\ntarget: {{latest: true}}\ndatabases: [{{name: postgres}}]\n"
    )
    return playbook


def test_drill_over_base_without_manifest_is_unverified(
    prod: Production, tmp_path: Path, sandbox_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, archive, backup = _no_manifest(prod, tmp_path)
    playbook = _drill(tmp_path, base, archive)
    ledger = tmp_path / "ledger.db"
    junit = tmp_path / "junit.xml"
    args = ["drill", str(playbook), "--ledger", str(ledger), "--junit", str(junit), "--json"]
    code, out, err = cli(args, capsys)
    assert code == 1, err
    result = json.loads(out)
    line = f"base backup {backup} has no backup_manifest: not checked"
    failure = ElementTree.parse(junit).find(".//testcase[@name='restore']/failure")
    assert failure is not None and failure.get("type") == "unverified"
    assert failure.get("message") == line
    assert result["verdict"] == "UNVERIFIED"
    assert result["failures"] == [f"{line} ({ACCEPT_HINT})"]
    assert result["restore"]["warnings"] == [line]
    with Ledger(ledger) as history:
        assert [e.verdict for e in history.entries()] == ["UNVERIFIED"]
        details = history.records()[0].details
    assert details["base_check"] == "none" and details["warnings"] == [line]
    code, out, err = cli(["drill", str(playbook), "--ledger", str(ledger)], capsys)
    assert code == 1
    assert "UNVERIFIED" in out
    assert_nothing_left(sandbox_root)


def test_drill_allowing_unverified_base_passes_with_the_warning(
    prod: Production, tmp_path: Path, sandbox_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, archive, backup = _no_manifest(prod, tmp_path)
    line = f"base backup {backup} has no backup_manifest: not checked"
    for playbook, flags in (
        (_drill(tmp_path, base, archive, ", allow_unverified_base: true", "opted-in"), []),
        (_drill(tmp_path, base, archive), ["--allow-unverified-base"]),
    ):
        ledger = tmp_path / "ledger.db"
        args = ["drill", str(playbook), "--ledger", str(ledger), "--json", *flags]
        code, out, err = cli(args, capsys)
        assert code == 0, out + err
        result = json.loads(out)
        assert result["verdict"] == "PASS"
        assert result["failures"] == []
        assert result["restore"]["warnings"] == [line]
    assert_nothing_left(sandbox_root)


# --- a full sandbox disk ------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs_sandbox_root(monkeypatch: pytest.MonkeyPatch, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes as the sandbox root (skips where mounting is not allowed)."""
    with private_sandbox_root() as root:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0711", "tmpfs", str(root)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
        try:
            monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
            yield root
        finally:
            subprocess.run(["umount", "-l", str(root)], check=False)


@pytest.fixture
def small_sandbox_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """12 MiB: smaller than the base backup."""
    with tmpfs_sandbox_root(monkeypatch, 12 << 20) as root:
        yield root


def test_full_sandbox_disk_is_an_infrastructure_error(
    prod: Production, small_sandbox_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--base-backups", str(prod.backups), "--wal-archive", str(prod.archive)]
    code, out, err = cli(["plan", *args, "--target", "latest", "--json"], capsys)
    assert code == 0, err
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["disk space"]["status"] == "warning"
    assert f"sandbox directory {small_sandbox_root} has" in checks["disk space"]["detail"]

    code, out, err = cli(["restore", *args, "--target", "latest"], capsys)
    assert code == 3, out + err
    message = err.strip().splitlines()[-1]
    assert f"sandbox directory {small_sandbox_root}/" in message
    assert "(No space left on device during restore base)" in message
    assert "needed about" in message and "free" in message
    assert "truncated or damaged" not in message
    assert_nothing_left(small_sandbox_root)


def test_sandbox_disk_filling_while_staging_wal_is_an_infrastructure_error(
    prod: Production,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Room for the unpacked base, not for the WAL copies next to it. The segments are
    gzip-compressed: plain ones are read in place (linked), which takes no room."""
    backup = prod.backups / "tar"
    unpacked = sum(p.stat().st_size for p in backup.iterdir() if p.name.endswith(".tar"))
    backups, archive = copy_source(prod, tmp_path, ["tar"])
    for segment in archived_segments(archive):
        packed = segment.with_name(segment.name + ".gz")
        packed.write_bytes(gzip.compress(segment.read_bytes(), compresslevel=1))
        segment.unlink()
    with tmpfs_sandbox_root(monkeypatch, unpacked + (10 << 20)) as root:
        args = ["--base-backups", str(backups), "--wal-archive", str(archive)]
        code, out, err = cli(["restore", *args, "--target", "latest"], capsys)
        assert code == 3, out + err
        message = err.strip().splitlines()[-1]
        assert f"sandbox directory {root}/" in message
        assert "(No space left on device during fetch WAL)" in message
        assert "needed about" in message
        assert_nothing_left(root)


def test_sandbox_disk_filling_during_replay_is_an_infrastructure_error(
    prod: Production, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Room for the base (the WAL is read in place: staging takes no room), not for the
    segment the server's restore_command copies into pg_wal: PostgreSQL takes the failed
    copy for the end of the archive; the server log says why, and that is what we report."""
    backup = prod.backups / "tar"
    unpacked = sum(p.stat().st_size for p in backup.iterdir() if p.name.endswith(".tar"))
    with tmpfs_sandbox_root(monkeypatch, unpacked + (4 << 20)) as root:
        args = ["--base-backups", str(prod.backups), "--wal-archive", str(prod.archive)]
        code, out, err = cli(["restore", *args, "--target", "latest"], capsys)
        message = err.strip().splitlines()[-1] if err.strip() else out
        assert code == 3, out + err
        assert f"sandbox directory {root}/" in message
        assert "(No space left on device during replay WAL)" in message
        assert_nothing_left(root)
