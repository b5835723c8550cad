"""Builders for real "production" clusters with known history, shared by the restore tests.

A production archives its WAL into a directory and has a table ``counter`` whose rows are
inserted one per transaction. For every commit we record what PostgreSQL itself recorded:
the xid, the commit timestamp (track_commit_timestamp), the LSN of the commit record
(pg_walinspect) and the insert position right after it — so a test can aim a recovery
target at any commit and know exactly which rows the restore must contain.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from restoredrill.engines.postgres.archiving import (
    BackupCompression,
    BackupFormat,
    archiving_settings,
    base_backup,
)
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.lsn import parse_lsn

_SEGMENT = re.compile(r"[0-9A-F]{24}(\.gz|\.lz4|\.zst)?")
REPO = Path(__file__).resolve().parent.parent
CLI = REPO / ".venv" / "bin" / "restoredrill"


@dataclass(frozen=True)
class Commit:
    n: int  # the row this transaction inserted into counter (rows 1..n exist after it)
    xid: int
    time: datetime  # the commit record's timestamp
    lsn: int  # start of the commit record
    end_lsn: int  # insert position right after the commit


@dataclass
class Production:
    cluster: LocalPostgres
    archive: Path
    backups: Path
    commits: list[Commit] = field(default_factory=list)
    restore_points: dict[str, int] = field(default_factory=dict)  # name -> rows before it
    backup_rows: dict[str, int] = field(default_factory=dict)  # backup dir -> rows before it
    switches: list[tuple[int, int]] = field(default_factory=list)  # (switch LSN, rows before)

    @property
    def rows(self) -> int:
        return len(self.commits)

    def commit(self, n: int) -> Commit:
        return self.commits[n - 1]

    def insert(self, count: int, prepared: bool = False) -> list[Commit]:
        """Insert ``count`` rows, one transaction each (two-phase commits if ``prepared``)."""
        made = [_insert_one(self.cluster, self.rows + 1 + i, prepared) for i in range(count)]
        self.commits.extend(made)
        return made

    def restore_point(self, name: str) -> None:
        with self.cluster.connect() as conn:
            conn.execute("SELECT pg_create_restore_point(%s)", (name,))
        self.restore_points[name] = self.rows

    def next_second(self) -> None:
        """Sleep into the next wall-clock second. Backup stop times are recorded in whole
        seconds; commits after this are surely later than the last backup's end."""
        now = datetime.now(UTC)
        time.sleep(1.01 - now.microsecond / 1_000_000)

    def switch(self) -> int:
        """Close the current segment, wait until it is archived; returns what
        pg_switch_wal() returned (the end of the switch record)."""
        end = switch_wal(self.cluster)
        self.switches.append((end, self.rows))
        return end

    def backup(
        self, name: str, fmt: BackupFormat = "tar", compression: BackupCompression = "none"
    ) -> Path:
        dest = base_backup(self.cluster, self.backups / name, fmt=fmt, compression=compression)
        self.backup_rows[name] = self.rows
        return dest


def manual_backup(prod: Production, name: str, during: Callable[[], object]) -> Path:
    """A plain backup taken with the low-level API (pg_backup_start / copy / pg_backup_stop),
    calling ``during`` between the copy and the stop: what it commits lies inside the
    backup's window, before the backup is consistent."""
    datadir = prod.cluster.datadir
    dest = prod.backups / name

    def skip(directory: str, names: list[str]) -> list[str]:
        if Path(directory) == datadir:
            return [n for n in names if n in ("postmaster.pid", "postmaster.opts")]
        if Path(directory) == datadir / "pg_wal":
            return [n for n in names if n != "archive_status"]
        if Path(directory) == datadir / "pg_wal" / "archive_status":
            return names
        return []

    with prod.cluster.connect() as conn:
        conn.execute("SELECT pg_backup_start(%s, true)", (name,))
        shutil.copytree(datadir, dest, ignore=skip)
        during()
        row = conn.execute("SELECT labelfile FROM pg_backup_stop(true)").fetchone()
    assert row is not None
    (dest / "backup_label").write_text(str(row[0]))
    prod.backup_rows[name] = prod.rows
    return dest


def start_production(
    cluster: LocalPostgres, archive: Path, backups: Path, settings: dict[str, str] | None = None
) -> Production:
    """initdb + start archiving into ``archive``, with commit timestamps and pg_walinspect."""
    archive.mkdir(parents=True, exist_ok=True)
    cluster.run_as.own(archive)
    backups.mkdir(parents=True, exist_ok=True)
    cluster.initdb()
    cluster.start(
        settings={
            **archiving_settings(archive),
            "track_commit_timestamp": "on",
            "max_prepared_transactions": "4",
            **(settings or {}),
        }
    )
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION pg_walinspect")
        conn.execute("CREATE TABLE counter (n int PRIMARY KEY, xid bigint NOT NULL)")
    return Production(cluster, archive, backups)


@contextlib.contextmanager
def production(
    tools: PgTools,
    root: Path,
    purpose: str = "test-production",
    settings: dict[str, str] | None = None,
) -> Iterator[Production]:
    """A running production cluster. Its backups go to ``root``; its archive lives in the
    cluster's own directory, which the server user can reach (pytest's tmp dirs are 0700)."""
    with local_postgres(purpose, tools=tools) as cluster:
        yield start_production(cluster, cluster.root / "archive", root / "backups", settings)


def switch_wal(cluster: LocalPostgres, timeout: float = 60.0) -> int:
    """pg_switch_wal() and wait until the archiver has copied the closed segment."""
    with cluster.connect() as conn:
        row = conn.execute("SELECT pg_switch_wal()::text").fetchone()
        assert row is not None
        end = str(row[0])
        named = conn.execute("SELECT pg_walfile_name(%s::pg_lsn)", (end,)).fetchone()
        assert named is not None
        wanted = str(named[0])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            if state is not None and state[0] is not None and str(state[0]) >= wanted:
                return parse_lsn(end)
            time.sleep(0.02)
    raise AssertionError(f"WAL segment {wanted} was not archived within {timeout:.0f}s")


def _insert_one(cluster: LocalPostgres, n: int, prepared: bool = False) -> Commit:
    with cluster.connect() as conn:
        before = _lsn(conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone())
        conn.execute("BEGIN")
        row = conn.execute(
            "INSERT INTO counter (n, xid) VALUES (%s, pg_current_xact_id()::text::bigint)"
            " RETURNING xid",
            (n,),
        ).fetchone()
        assert row is not None
        xid = int(str(row[0]))
        if prepared:  # the COMMIT PREPARED record names the xid in its description only
            gid = sql.Literal(f"counter-{n}")
            conn.execute(sql.SQL("PREPARE TRANSACTION {}").format(gid))
            conn.execute(sql.SQL("COMMIT PREPARED {}").format(gid))
            kind, match = "COMMIT_PREPARED", f"{xid}: %"
        else:
            conn.execute("COMMIT")
            kind, match = "COMMIT", "%"
        facts = conn.execute(
            "SELECT pg_xact_commit_timestamp(%s::text::xid), pg_current_wal_insert_lsn()::text",
            (xid,),
        ).fetchone()
        assert facts is not None and isinstance(facts[0], datetime)
        record = conn.execute(
            # bounded by the flush position: a background record (bgwriter's running-xacts)
            # may be inserted after the commit and not flushed yet, which pg_walinspect
            # refuses as a "future end LSN"; the commit itself was flushed
            "SELECT start_lsn::text FROM pg_get_wal_records_info(%s::pg_lsn,"
            " LEAST(%s::pg_lsn, pg_current_wal_flush_lsn()))"
            " WHERE resource_manager = 'Transaction' AND record_type = %s"
            " AND (xid = %s::text::xid OR %s <> 'COMMIT') AND description LIKE %s",
            (_text(before), facts[1], kind, xid, kind, match),
        ).fetchone()
    assert record is not None, f"commit record of xid {xid} not found"
    return Commit(n, xid, facts[0], parse_lsn(str(record[0])), parse_lsn(str(facts[1])))


def _lsn(row: tuple[object, ...] | None) -> int:
    assert row is not None
    return parse_lsn(str(row[0]))


def _text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


# --- looking at restores ------------------------------------------------------------------


def counter_rows(dsn: str) -> list[int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT n FROM counter ORDER BY n").fetchall()
    return [int(str(r[0])) for r in rows]


def copy_source(
    prod: Production, dest: Path, backups: list[str] | None = None
) -> tuple[Path, Path]:
    """A private copy of the archive and (some of) the backups, for tests that damage them.
    Returns (base backups dir, WAL archive dir)."""
    archive = dest / "archive"
    shutil.copytree(prod.archive, archive)
    base = dest / "backups"
    base.mkdir()
    for name in backups if backups is not None else sorted(prod.backup_rows):
        shutil.copytree(prod.backups / name, base / name)
    return base, archive


@contextlib.contextmanager
def private_sandbox_root() -> Iterator[Path]:
    """A sandbox directory of one's own (for RESTOREDRILL_SANDBOX_DIR), reachable by the
    server user; whatever a failing test leaves there is stopped and removed afterwards."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="restoredrill-test-sb-", dir="/tmp"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        for pid in postgres_pids_under(root):
            kill_quietly(pid)
        shutil.rmtree(root, ignore_errors=True)


def cli_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Run the CLI in-process with --json; it must exit 0: its document."""
    code, stdout, stderr = cli([*args, "--json"], capsys)
    assert code == 0, stderr
    document: dict[str, Any] = json.loads(stdout)
    return document


def assert_nothing_left(root: Path) -> None:
    """No sandbox directory and no server process of a sandbox under ``root``."""
    assert sandbox_dirs(root) == []
    assert postgres_pids_under(root) == []


def archived_segments(archive: Path) -> list[Path]:
    """WAL segment files in the archive, in name order (no .history / .backup files)."""
    return sorted(p for p in archive.iterdir() if _SEGMENT.fullmatch(p.name))


def sandbox_dirs(root: Path) -> list[Path]:
    """What is in ``root``, but for directories a detached ``rm`` is still deleting (a
    torn-down sandbox, renamed away at once: see labels.remove_sandbox_dir)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".removing-"))


def postgres_pids_under(root: Path) -> list[int]:
    """PIDs of running postgres processes whose data directory lies below ``root``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if stat.split(") ", 1)[-1].startswith("Z"):
            continue
        if argv and argv[0].endswith(b"postgres") and any(str(root).encode() in a for a in argv):
            pids.append(int(proc.name))
    return pids


# What an interrupted reapply prints (either engine): one line, with how to resume.
INTERRUPTED_LINE = re.compile(
    r"^restoredrill: error: interrupted \(SIGINT\): 1 batch\(es\) committed, the batch in "
    r"flight was rolled back; the checkpoint \S+ lets a rerun resume: restoredrill reapply .+$"
)


def run_cli(
    args: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,  # where files a command writes by default land (recover's script)
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from restoredrill.cli.app import main

    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def sandboxes_of(stdout: str) -> list[dict[str, Any]]:
    """The sandboxes of a `sandbox list/gc/rm --json` document."""
    document = json.loads(stdout)
    assert document["format"] == "restoredrill-sandboxes/1", document
    return list(document["sandboxes"])
