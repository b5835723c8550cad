"""Real MariaDB "production" servers for the MariaDB/MySQL tests: a mariadbd with log-bin on
a free port in its own sandbox directory (never the machine's own service on 3306), with a
``counter`` table whose rows are inserted one per transaction; for every commit we record
the GTID and the binlog position right after it, as the server reports them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from restoredrill.engines.mysql import archiving
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from tests.pgsetup import private_sandbox_root

DB = "drill"


@dataclass(frozen=True)
class Commit:
    n: int
    gtid: str
    file: str  # binlog position right after the commit
    pos: int
    time: datetime


@dataclass
class MysqlProduction:
    server: LocalMySQL
    binlogs: Path
    commits: list[Commit] = field(default_factory=list)

    def dsn(self, db: str = DB) -> str:
        return self.server.dsn(db)

    def run(self, *statements: str, db: str = "") -> None:
        conn = self.server.connect(db)
        try:
            for statement in statements:
                conn.run(statement)
        finally:
            conn.close()

    def insert(self, count: int) -> list[Commit]:
        made = []
        conn = self.server.connect(DB)
        try:
            for _ in range(count):
                n = len(self.commits) + 1
                conn.run(f"INSERT INTO counter (n, at) VALUES ({n}, UTC_TIMESTAMP(6))")
                gtid = str(conn.scalar("SELECT @@gtid_binlog_pos")).split(",")[-1]
                file, pos = conn.rows("SHOW MASTER STATUS")[0][:2]
                commit = Commit(n, gtid, str(file), int(pos), datetime.now(UTC))
                self.commits.append(commit)
                made.append(commit)
        finally:
            conn.close()
        return made

    def flush(self) -> None:
        self.run("FLUSH BINARY LOGS")

    def archive(self, dest: Path) -> Path:
        return archiving.archive_binlogs(self.server, self.binlogs, dest)

    def dump(self, dest: Path, compress: bool = True) -> Path:
        return archiving.dump(self.server, dest, [DB], compress=compress)

    def backup(self, dest: Path) -> Path:
        if self.server.tools.backup is None:
            # Skip, never error: a machine without the package cannot take a physical backup.
            pytest.skip("mariadb-backup is not installed (scripts/test installs it as root)")
        return archiving.physical_backup(self.server, dest)


def next_second() -> None:
    """Binlog events are stamped to the second: move into the next one."""
    now = time.time()
    time.sleep(1.02 - (now - int(now)))


@contextlib.contextmanager
def production(purpose: str = "test-mysql-production") -> Iterator[MysqlProduction]:
    with local_mysql(purpose) as server:
        binlogs = archiving.start_production(server)
        prod = MysqlProduction(server, binlogs)
        prod.run(
            f"CREATE DATABASE {DB} CHARACTER SET utf8mb4",
            f"CREATE TABLE {DB}.counter (n INT PRIMARY KEY, at DATETIME(6) NOT NULL)",
        )
        yield prod


def counter_rows(dsn: str) -> list[int]:
    conn = my.connect(dsn)
    try:
        return [int(r[0]) for r in conn.rows("SELECT n FROM counter ORDER BY n")]
    finally:
        conn.close()


def copy_dir(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


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


@contextlib.contextmanager
def mysql_sandbox_root() -> Iterator[Path]:
    """A private sandbox directory (for RESTOREDRILL_SANDBOX_DIR); a server a failing test
    leaves there is killed."""
    with private_sandbox_root() as root:
        try:
            yield root
        finally:
            for pid in mariadbd_pids_under(root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def assert_no_mysql_left(root: Path) -> None:
    """No sandbox directory and no mariadbd under ``root``."""
    assert [p for p in root.iterdir() if not p.name.startswith(".")] == []
    assert mariadbd_pids_under(root) == []


def run_pinned(dsn: str, *statements: str) -> None:
    """Run statements on a new connection with reapply's pinned session settings."""
    conn = my.connect(dsn)
    try:
        my.pin_session(conn)
        for statement in statements:
            conn.run(statement)
    finally:
        conn.close()
