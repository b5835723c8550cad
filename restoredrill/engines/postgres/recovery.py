"""PostgreSQL restore mechanics: recovery settings, the recovery signal file, and reading
what the server says about its recovery."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import BackupCorrupt
from restoredrill.lsn import format_lsn
from restoredrill.models import RecoveryTarget
from restoredrill.osuser import RunAs

# Log lines that mark the end of WAL replay (PostgreSQL 12+).
REPLAY_DONE_MARKERS = ("redo done at", "recovery stopping", "redo is not required")
# The line the server logs for each WAL file its restore_command delivered.
RESTORED_SEGMENT = 'restored log file "'
_STOPPED = re.compile(r"recovery stopping (?:before|after) (.*)")
_MAX_PREPARED = re.compile(r"^max_prepared_xacts setting:\s+(\d+)\s*$", re.MULTILINE)
# Replaying PREPARE TRANSACTION needs free prepared-transaction slots. Production's own value
# is often not in the data directory (Debian keeps postgresql.conf in /etc) and may have been
# raised after the backup, so the sandbox gets at least this many.
MIN_PREPARED_TRANSACTIONS = 64


def quote_setting(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def recovery_settings(
    target: RecoveryTarget,
    target_timeline: int | None,
    wal_staging: Path,
    restore_command: str | None = None,
) -> dict[str, str]:
    """Settings for postgresql.auto.conf. restore_command only reads the sandbox's own
    staging directory (unless the source brings its own read-only fetch command, e.g.
    pgBackRest's archive-get or restoredrill wal-fetch); archive_mode stays off so the copy
    never archives anywhere."""
    settings = {
        "restore_command": restore_command or f"cp {wal_staging}/%f %p",
        "recovery_target_action": "promote",
        "recovery_target_timeline": str(target_timeline) if target_timeline else "latest",
        "archive_mode": "off",
        "archive_command": "",
    }
    inclusive = "on" if target.inclusive else "off"
    if target.kind == "time" and target.time is not None:
        settings["recovery_target_time"] = target.time.isoformat()
        settings["recovery_target_inclusive"] = inclusive
    elif target.kind == "lsn" and target.lsn is not None:
        settings["recovery_target_lsn"] = format_lsn(target.lsn)
        settings["recovery_target_inclusive"] = inclusive
    elif target.kind == "xid" and target.xid is not None:
        settings["recovery_target_xid"] = str(target.xid)
        settings["recovery_target_inclusive"] = inclusive
    elif target.kind == "name" and target.name is not None:
        settings["recovery_target_name"] = target.name
    elif target.kind == "immediate":
        settings["recovery_target"] = "immediate"
    return settings


def replay_settings(tools: PgTools, datadir: Path) -> dict[str, str]:
    """Server settings replay of production's WAL needs, read from the restored pg_control."""
    done = subprocess.run(
        [tools.path("pg_controldata"), str(datadir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LC_ALL": "C", "LANGUAGE": "C"},
    )
    match = _MAX_PREPARED.search(done.stdout) if done.returncode == 0 else None
    production = int(match.group(1)) if match else 0
    return {"max_prepared_transactions": str(max(production, MIN_PREPARED_TRANSACTIONS))}


def write_recovery(datadir: Path, settings: dict[str, str], run_as: RunAs) -> None:
    auto_conf = datadir / "postgresql.auto.conf"
    lines = ["", "# --- restoredrill: point-in-time recovery of a throwaway copy ---"]
    lines += [f"{key} = {quote_setting(value)}" for key, value in settings.items()]
    with auto_conf.open("a") as handle:
        handle.write("\n".join(lines) + "\n")
    (datadir / "standby.signal").unlink(missing_ok=True)
    signal = datadir / "recovery.signal"
    signal.touch()
    for path in (auto_conf, signal):
        run_as.own(path)


def verify_base(tools: PgTools, datadir: Path, manifest: Path) -> None:
    """Check the unpacked files against backup_manifest (sizes and checksums)."""
    argv = [tools.path("pg_verifybackup"), "--no-parse-wal", "-m", str(manifest)]
    if (datadir / "tablespace_map").is_file():  # rewritten to the sandbox's tablespaces
        argv += ["--ignore", "tablespace_map"]
    done = subprocess.run(
        [*argv, str(datadir)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        raise BackupCorrupt(
            f"base backup does not match its manifest: {lines[0] if lines else 'failed'}"
        )


def recovery_stop_reason(log: str) -> str | None:
    match = _STOPPED.search(log)
    return match.group(1).strip() if match else None
