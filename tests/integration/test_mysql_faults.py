"""Faults injected into real MariaDB backups (a real mariadbd's binlogs and mariadb-dump
files), run through the CLI: a binlog event with a wrong CRC32, binlogs written with
checksums off, a dump cut cleanly between two tables (plain, and re-gzipped: valid gzip), a
truncated gzip dump — locally and in S3 (moto). Each is named in one line with the exit code
the docs promise, before anything is provisioned, and leaves nothing running."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from restoredrill.drill.run import DrillOptions, run_drills
from restoredrill.engines.mysql import source_storage as mysql_s3
from restoredrill.engines.mysql.binlog_crc import event_name
from tests.awshelp import new_bucket, s3_client
from tests.mysqlsetup import DB, Commit, MysqlProduction, counter_rows, production
from tests.pgsetup import cli, private_sandbox_root, sandbox_dirs

pytestmark = pytest.mark.slow

MARKER = b"MARKER-ROW-0003"
WRITE_ROWS = (23, 30)  # MariaDB / MySQL v2 Write_rows
_HEADER = struct.Struct("<IBIIIH")


@dataclass
class Backups:
    prod: MysqlProduction
    dump_gz: Path  # mariadb-dump --master-data=2, gzipped
    dump_sql: Path  # the same, plain
    archive: Path
    commits: list[Commit]


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backups]:
    """counter, filler (enough rows that a gzip dump is more than its header) and notes,
    dumped; then rows 1-3 into notes, one transaction each, in the archived binlogs."""
    root = tmp_path_factory.mktemp("mysql-faults")
    with production("test-mysql-faults-production") as prod:
        prod.run(
            f"CREATE TABLE {DB}.filler (id INT PRIMARY KEY, body VARCHAR(200) NOT NULL)",
            f"CREATE TABLE {DB}.notes (id INT PRIMARY KEY, body VARCHAR(100) NOT NULL)",
            f"INSERT INTO {DB}.filler SELECT seq, SHA2(seq, 256) FROM seq_1_to_3000",
            f"INSERT INTO {DB}.notes VALUES (0, 'before the dump')",
            db=DB,  # seq_1_to_N (the Sequence engine) lives in every database
        )
        prod.insert(3)
        dump_gz = prod.dump(root / "gz" / "a.sql.gz")
        dump_sql = prod.dump(root / "sql" / "a.sql", compress=False)
        prod.flush()
        prod.insert(2)
        for n in (1, 2, 3, 4):
            prod.run(f"INSERT INTO {DB}.notes VALUES ({n}, 'MARKER-ROW-000{n}')")
        prod.insert(2)
        archive = prod.archive(root / "archive")
        yield Backups(prod, dump_gz, dump_sql, archive, list(prod.commits))


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        try:
            yield root
        finally:
            for pid in mariadbd_pids_under(root):
                os.kill(pid, 9)


def mariadbd_pids_under(root: Path) -> list[int]:
    """PIDs of live mariadbd / mysqld processes whose arguments name a path under ``root``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().split(") ", 1)[-1]
        except OSError:
            continue
        if state.startswith("Z") or not argv or not argv[0].endswith((b"mariadbd", b"mysqld")):
            continue
        if any(str(root).encode() in a for a in argv):
            pids.append(int(proc.name))
    return pids


def assert_nothing_left(root: Path) -> None:
    assert [p for p in sandbox_dirs(root) if not p.name.startswith(".")] == []
    assert mariadbd_pids_under(root) == []


def one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("restoredrill: error: "), err
    return lines[0]


def _args(snapshot: Path | str, archive: Path | str) -> list[str]:
    return ["--engine", "mariadb", "--snapshot", str(snapshot), "--binlog-archive", str(archive)]


def binlogs(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if not p.name.endswith(".index"))


def row_event(archive: Path, marker: bytes) -> tuple[Path, int]:
    """The binlog file and position of the Write_rows event holding ``marker``."""
    for path in binlogs(archive):
        data = path.read_bytes()
        pos = 4
        while pos < len(data):
            _, kind, _, length, _, _ = _HEADER.unpack_from(data, pos)
            if kind in WRITE_ROWS and data.find(marker, pos, pos + length) >= 0:
                return path, pos
            pos += length
    raise AssertionError(f"no Write_rows event holds {marker!r}")


def flip_in_row_event(archive: Path, marker: bytes) -> tuple[str, int]:
    """Flip one bit of ``marker`` inside the Write_rows event that holds it (the event's
    length and checksum untouched); returns (file name, event position)."""
    for path in binlogs(archive):
        data = bytearray(path.read_bytes())
        pos = 4
        while pos < len(data):
            _, kind, _, length, _, _ = _HEADER.unpack_from(data, pos)
            at = data.find(marker, pos, pos + length)
            if kind in WRITE_ROWS and at >= 0:
                data[at + len(marker) - 1] ^= 0x01  # ...0003 -> ...0002: still plausible
                path.write_bytes(bytes(data))
                return path.name, pos
            pos += length
    raise AssertionError(f"no Write_rows event holds {marker!r}")


# --- binlog event checksums ------------------------------------------------------------------


def test_intact_binlogs_are_checked_in_the_plan(
    backups: Backups, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        ["plan", *_args(backups.dump_gz, backups.archive), "--target", "latest", "--json"],
        capsys,
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["logs_checked"] is True
    check = next(c for c in plan["checks"] if c["name"] == "binlog checksum")
    assert check["status"] == "ok" and "match their CRC32" in check["detail"]


def test_bad_event_checksum_fails_the_plan_before_provisioning(
    backups: Backups, tmp_path: Path, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = shutil.copytree(backups.archive, tmp_path / "archive")
    name, pos = flip_in_row_event(archive, MARKER)
    args = _args(backups.dump_gz, archive)
    code, out, err = cli(["restore", *args, "--target", "latest"], capsys)
    line = one_error(err)
    assert code == 1 and out == ""
    assert line == (
        f"restoredrill: error: preflight failed (binlog checksum): binlog {name}: the "
        f"{event_name(WRITE_ROWS[0])} event at position {pos} "
        + line.split(f"at position {pos} ", 1)[1]
    )
    assert "fails its CRC32 checksum" in line and "damaged" in line
    assert_nothing_left(sandboxes)

    code, out, err = cli(["plan", *args, "--target", "latest", "--json"], capsys)
    assert code == 1
    plan = json.loads(out)
    assert plan["logs_checked"] is False
    failed = [c for c in plan["checks"] if c["status"] == "failed"]
    assert [c["name"] for c in failed] == ["binlog checksum"]
    assert f"binlog {name}" in failed[0]["detail"] and f"position {pos} " in failed[0]["detail"]

    # only the events replay reads are needed: a target before the damaged one still plans
    earlier = backups.commits[-3].gtid  # the last counter row before the notes rows
    code, out, err = cli(["plan", *args, "--target-gtid", earlier, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["logs_checked"] is True
    assert_nothing_left(sandboxes)


@pytest.mark.parametrize("fault", ["size-bit-0", "size-bit-4", "checksum-algorithm"])
def test_damaged_event_header_is_named_by_its_checksum(
    backups: Backups,
    tmp_path: Path,
    sandboxes: Path,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    """A bit flipped in an event's size sends the header walk astray (garbage events, or an
    event "past the end"); one in the Format_description_event's checksum algorithm would
    say "checksums off". Either way the message names the damaged event."""
    archive = shutil.copytree(backups.archive, tmp_path / "archive")
    path, pos = row_event(archive, MARKER)
    data = bytearray(path.read_bytes())
    kind = "Write_rows"
    if fault.startswith("size-bit-"):
        data[pos + 9] ^= 1 << int(fault[-1])  # the low byte of the event size
    else:
        _, _, _, length, _, _ = _HEADER.unpack_from(data, 4)
        assert data[4 + length - 5] == 1  # CRC32
        data[4 + length - 5] = 0  # "off"
        pos, kind = 4, "Format_description"
    path.write_bytes(bytes(data))
    code, out, err = cli(
        ["restore", *_args(backups.dump_gz, archive), "--target", "latest"], capsys
    )
    line = one_error(err)
    assert code == 1 and out == ""
    assert f"binlog {path.name}: the {kind} event at position {pos} " in line
    assert "fails its CRC32 checksum" in line
    assert_nothing_left(sandboxes)


def test_binlogs_without_checksums_are_a_warning_not_a_check(
    tmp_path: Path, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with production("test-mysql-faults-nocrc") as prod:
        prod.run("SET GLOBAL binlog_checksum = 'NONE'")  # rotates: new files carry none
        prod.insert(2)
        dump = prod.dump(tmp_path / "a.sql.gz")
        prod.insert(3)
        archive = prod.archive(tmp_path / "archive")
    args = _args(dump, archive)
    code, out, err = cli(["plan", *args, "--target", "latest", "--json"], capsys)
    assert code == 0, err
    plan = json.loads(out)
    assert plan["logs_checked"] is False
    check = next(c for c in plan["checks"] if c["name"] == "binlog checksum")
    assert check["status"] == "warning" and "binlog_checksum is off" in check["detail"]
    # still restorable (replay's --verify-binlog-checksum accepts files without checksums)
    code, out, err = cli(["restore", *args, "--target", "latest", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["plan"]["logs_checked"] is False
    assert result["base_check"] == "dump-footer"
    assert any("binlog_checksum is off" in w for w in result["warnings"])
    assert_nothing_left(sandboxes)
    # a drill over logs it could not check is not PASS, unless that is accepted explicitly
    playbook = tmp_path / "nocrc.yaml"
    playbook.write_text(
        "name: nocrc\nengine: mariadb\n"
        f"source: {{kind: mysql, snapshot: {dump}, binlog_archive: {archive}}}\n"
        "sandbox: {os_user: mysql}\ntarget: {latest: true}\n"
        f"databases: [{{name: {DB}}}]\n"
    )
    options = DrillOptions(ledger_path=tmp_path / "ledger.db")
    (drill,) = run_drills([playbook], options).drills
    assert (drill.verdict, drill.exit_code) == ("UNVERIFIED", 1)
    assert any("binlog_checksum is off" in f for f in drill.failures), drill.failures
    accepted = DrillOptions(ledger_path=tmp_path / "ledger.db", allow_unverified_base=True)
    (drill,) = run_drills([playbook], accepted).drills
    assert (drill.verdict, drill.exit_code) == ("PASS", 0)
    assert_nothing_left(sandboxes)


# --- incomplete and damaged dumps -------------------------------------------------------------


def cut_before_table(text: bytes, table: str) -> bytes:
    """The dump up to (not including) ``table``'s section: a clean cut between tables."""
    at = text.index(f"-- Table structure for table `{table}`".encode())
    return text[: text.rindex(b"--\n", 0, at)]


def test_dump_cut_between_tables_is_a_corrupt_backup(
    backups: Backups, tmp_path: Path, sandboxes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = cut_before_table(gzip.decompress(backups.dump_gz.read_bytes()), "notes")
    dump = tmp_path / "cut.sql.gz"
    dump.write_bytes(gzip.compress(cut))  # valid gzip: only the footer tells
    code, out, err = cli(
        ["restore", *_args(dump, backups.archive), "--target", "immediate"], capsys
    )
    line = one_error(err)
    assert code == 1 and out == ""
    assert f"snapshot {dump} is incomplete" in line and "'-- Dump completed' footer" in line
    assert_nothing_left(sandboxes)
    # the plan says it too, for a plain dump cut the same way
    plain = tmp_path / "cut.sql"
    plain.write_bytes(cut_before_table(backups.dump_sql.read_bytes(), "notes"))
    code, out, err = cli(["plan", *_args(plain, backups.archive), "--target", "latest"], capsys)
    assert code == 1 and f"snapshot {plain} is incomplete" in one_error(err)
    # and for one cut in the middle of a statement (loading it would fail on a syntax error)
    text = backups.dump_sql.read_bytes()
    middle = tmp_path / "mid.sql"
    middle.write_bytes(text[: text.index(b"INSERT INTO `filler`") + 5000])
    code, out, err = cli(["plan", *_args(middle, backups.archive), "--target", "latest"], capsys)
    assert code == 1 and f"snapshot {middle} is incomplete" in one_error(err)


@pytest.mark.parametrize("fault", ["truncated", "bit-flipped", "zstd-truncated"])
def test_damaged_compressed_dump_is_a_corrupt_backup(
    backups: Backups,
    tmp_path: Path,
    sandboxes: Path,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    whole = bytearray(backups.dump_gz.read_bytes())
    assert len(whole) > 64 << 10  # the header is readable; the damage is further on
    kind = "gzip"
    dump = tmp_path / "a.sql.gz"
    if fault == "truncated":
        dump.write_bytes(whole[: len(whole) * 3 // 4])
    elif fault == "bit-flipped":
        whole[len(whole) * 3 // 4] ^= 0x08
        dump.write_bytes(bytes(whole))
    else:
        if shutil.which("zstd") is None:
            pytest.skip("zstd is not installed")
        kind, dump = "zstd", tmp_path / "a.sql.zst"
        plain = tmp_path / "a.sql"
        plain.write_bytes(gzip.decompress(bytes(whole)))
        subprocess.run(["zstd", "-q", "-f", str(plain), "-o", str(dump)], check=True)
        packed = dump.read_bytes()
        dump.write_bytes(packed[: len(packed) * 3 // 4])
    code, out, err = cli(
        ["restore", *_args(dump, backups.archive), "--target", "immediate"], capsys
    )
    line = one_error(err)
    assert code == 1 and out == ""
    assert f"snapshot {dump}: the {kind} stream is truncated or damaged" in line
    assert_nothing_left(sandboxes)


def test_complete_dump_restores(backups: Backups, sandboxes: Path) -> None:
    """The footer check does not refuse a good dump (immediate: the dump alone)."""
    from restoredrill.drill.restore import RestoreRequest, restored
    from restoredrill.engines.mysql.restore_options import MySqlOptions
    from restoredrill.models import RecoveryTarget

    request = RestoreRequest(
        backups.dump_gz, backups.archive, RecoveryTarget(kind="immediate"), backend=MySqlOptions()
    )
    with restored(request) as done:
        assert counter_rows(done.dsn(DB)) == [1, 2, 3]
        assert done.result.plan.logs_checked is True
        assert done.result.base_check == "dump-footer" and done.result.warnings == []
    assert_nothing_left(sandboxes)


# --- the same faults in S3 --------------------------------------------------------------------


def test_faults_in_s3(
    backups: Backups,
    tmp_path: Path,
    aws_env: str,
    sandboxes: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(mysql_s3, "WHOLE_BYTES", 0)  # the header/tail path of large dumps
    client = s3_client(aws_env)
    bucket = new_bucket(aws_env)
    cut = cut_before_table(backups.dump_sql.read_bytes(), "notes")
    client.put_object(Bucket=bucket, Key="plain/a.sql", Body=cut)
    client.put_object(Bucket=bucket, Key="gz/a.sql.gz", Body=gzip.compress(cut))
    client.put_object(Bucket=bucket, Key="good/a.sql", Body=backups.dump_sql.read_bytes())
    whole = bytearray(backups.dump_gz.read_bytes())
    client.put_object(Bucket=bucket, Key="trunc/a.sql.gz", Body=bytes(whole[: len(whole) // 2]))
    whole[len(whole) * 3 // 4] ^= 0x08
    client.put_object(Bucket=bucket, Key="flip/a.sql.gz", Body=bytes(whole))
    archive = shutil.copytree(backups.archive, tmp_path / "archive")
    name, pos = flip_in_row_event(archive, MARKER)
    for path in sorted(backups.archive.iterdir()):
        client.upload_file(str(path), bucket, f"binlogs/{path.name}")
        client.upload_file(str(archive / path.name), bucket, f"bad-binlogs/{path.name}")
    s3 = f"s3://{bucket}"
    for prefix in ("plain/a.sql", "gz/a.sql.gz"):
        args = _args(f"{s3}/{prefix}", f"{s3}/binlogs")
        code, out, err = cli(["restore", *args, "--target", "immediate"], capsys)
        line = one_error(err)
        assert code == 1, line
        assert f"snapshot {s3}/{prefix} is incomplete" in line and "footer" in line
    for prefix in ("trunc/a.sql.gz", "flip/a.sql.gz"):
        args = _args(f"{s3}/{prefix}", f"{s3}/binlogs")
        code, out, err = cli(["plan", *args, "--target", "immediate"], capsys)
        line = one_error(err)
        assert code == 1, line
        assert f"snapshot {s3}/{prefix}: the gzip stream is " in line, line
    args = _args(f"{s3}/good/a.sql", f"{s3}/bad-binlogs")
    code, out, err = cli(["restore", *args, "--target", "latest"], capsys)
    line = one_error(err)
    assert code == 1 and f"binlog {name}: " in line and f"at position {pos} " in line
    code, out, err = cli(
        ["plan", *_args(f"{s3}/good/a.sql", f"{s3}/binlogs"), "--target", "latest", "--json"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["logs_checked"] is True
    assert_nothing_left(sandboxes)
