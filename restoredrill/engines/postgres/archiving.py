"""A PostgreSQL cluster that archives its WAL into a directory, and base backups of it.

Used by the demo to build its "production", and by tests to build real archives."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from restoredrill.engines.postgres.sandbox_local import LocalPostgres
from restoredrill.errors import DatabaseUnavailable, SandboxError

BackupFormat = Literal["tar", "plain"]
BackupCompression = Literal["none", "gzip", "lz4", "zstd"]


def archiving_settings(archive_dir: Path) -> dict[str, str]:
    target = shlex.quote(str(archive_dir))
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        # cp-style archive_command that refuses to overwrite, as the PostgreSQL docs suggest
        "archive_command": f"test ! -f {target}/%f && cp %p {target}/%f",
        "max_wal_senders": "4",
    }


def start_archiving(
    cluster: LocalPostgres, archive_dir: Path, extra: Mapping[str, str] | None = None
) -> None:
    """initdb + start with WAL archiving into ``archive_dir`` (created, owned by the server);
    ``extra`` settings go on top."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    cluster.run_as.own(archive_dir)
    cluster.initdb()
    cluster.start(settings={**archiving_settings(archive_dir), **(extra or {})})


def base_backup(
    cluster: LocalPostgres,
    dest: Path,
    fmt: BackupFormat = "tar",
    compression: BackupCompression = "none",
    label: str = "restoredrill",
) -> Path:
    """Run pg_basebackup into ``dest`` (must not exist yet) and return it."""
    argv = [
        cluster.tools.path("pg_basebackup"),
        "-d",
        cluster.dsn(),
        "-D",
        str(dest),
        f"--format={'t' if fmt == 'tar' else 'p'}",
        "--checkpoint=fast",
        "--no-sync",
        f"--label={label}",
    ]
    if compression != "none":
        argv.append(f"--compress=client-{compression}")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SandboxError(f"pg_basebackup failed: {done.stderr.strip()}")
    return dest


def switch_and_wait_archived(cluster: LocalPostgres, timeout: float = 60.0) -> str:
    """Close the current WAL segment and wait until the archiver has copied it."""
    with cluster.connect() as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        wanted = str(row[0])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = conn.execute(
                "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver"
            ).fetchone()
            assert state is not None
            if state[0] is not None and str(state[0]) >= wanted:
                return wanted
            time.sleep(0.05)
    raise DatabaseUnavailable(f"WAL segment {wanted} was not archived within {timeout:.0f}s")
