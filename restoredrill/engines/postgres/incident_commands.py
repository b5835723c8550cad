"""The commands `incident find` prints on PostgreSQL: the recover that puts back what one
transaction did, or a restore to just before it (a dropped table is copied from there)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from restoredrill import dsn as dsnlib
from restoredrill.drill.incident_models import FindRequest


def _source(request: FindRequest) -> list[str]:
    return [
        "--base-backups",
        str(request.base_backups or "BASE_BACKUPS_DIR"),
        "--wal-archive",
        str(request.wal_archive),
    ]


def recover_command(request: FindRequest, xid: int, tables: Sequence[str]) -> str:
    """`restoredrill recover` of exactly what transaction ``xid`` did to ``tables``."""
    argv = ["restoredrill", "recover", *_source(request), "--incident-xid", str(xid)]
    for table in tables or ["TABLE"]:
        argv += ["--table", table]
    argv += ["--to", dsnlib.redact(request.dsn) if request.dsn else "PRODUCTION_DSN"]
    return shlex.join(argv)


def restore_command(request: FindRequest, xid: int) -> str:
    """A restore to just before transaction ``xid``, kept running: what a table it dropped
    held is there to dump (recover cannot put back a table production no longer has)."""
    argv = ["restoredrill", "restore", *_source(request), "--target-xid", str(xid)]
    return shlex.join([*argv, "--exclusive", "--keep"])


__all__ = ["recover_command", "restore_command"]
