"""A MariaDB "production" with binary logging into its own directory, its snapshots (a dump
with the binlog coordinates, or a mariabackup) and a binlog archive copied the way a backup
job copies closed binlogs. Used by the demo and by the tests."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

from restoredrill.engines.mysql.binlog import scan_binlog_archive
from restoredrill.engines.mysql.sandbox_local import LocalMySQL
from restoredrill.errors import SandboxError

BINLOG_BASE = "mysql-bin"


def start_production(server: LocalMySQL, server_id: int = 1) -> Path:
    """Initialise and start with log-bin (ROW format) in the sandbox's own ``binlog``
    directory; returns that directory."""
    binlogs = server.root / "binlog"
    binlogs.mkdir(mode=0o700)
    server.run_as.own(binlogs)
    server.init_datadir()
    server.start(log_bin=binlogs / BINLOG_BASE, server_id=server_id, init_file=False)
    return binlogs


def dump(server: LocalMySQL, dest: Path, databases: list[str], compress: bool = False) -> Path:
    """mariadb-dump --single-transaction --master-data=2 (--gtid) of ``databases``."""
    argv = [
        server.tools.need("dump"),
        "--no-defaults",
        f"--socket={server.socket}",
        f"--user={server.user}",
        "--single-transaction",
        "--master-data=2" if server.tools.mariadb else "--source-data=2",
        "--hex-blob",
        "--routines",
        "--triggers",
        "--events",
        "--databases",
        *databases,
    ]
    if server.tools.mariadb:
        argv.insert(-1 - len(databases), "--gtid")
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if compress else open
    with opener(dest, "wb") as out:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            out.write(chunk)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise SandboxError(f"mariadb-dump failed: {stderr.strip()}")
    return dest


def physical_backup(server: LocalMySQL, dest: Path) -> Path:
    """mariabackup --backup of the running server into ``dest`` (not prepared)."""
    argv = [
        server.tools.need("backup"),
        "--no-defaults",
        "--backup",
        f"--target-dir={dest}",
        f"--socket={server.socket}",
        f"--user={server.user}",
        f"--datadir={server.datadir}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise SandboxError(f"mariabackup --backup failed: {lines[-1] if lines else '?'}")
    return dest


def archive_binlogs(server: LocalMySQL, binlogs: Path, archive: Path, flush: bool = True) -> Path:
    """FLUSH BINARY LOGS, then copy every closed binlog (and the index) into ``archive``."""
    archive.mkdir(parents=True, exist_ok=True)
    conn = server.connect()
    try:
        if flush:
            conn.run("FLUSH BINARY LOGS")
        active = str(conn.rows("SHOW MASTER STATUS")[0][0])
    finally:
        conn.close()
    source = scan_binlog_archive(binlogs, BINLOG_BASE)
    for path in source.files.values():
        if path.name != active and not (archive / path.name).exists():
            shutil.copyfile(path, archive / path.name)
    index = binlogs / f"{BINLOG_BASE}.index"
    if index.is_file():
        shutil.copyfile(index, archive / index.name)
    return archive
