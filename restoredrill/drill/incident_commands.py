"""The commands `incident find` prints, for both engines: the recover that puts back what one
transaction did, or a restore to just before it, kept running (a dropped table is copied from
there: recover cannot put rows back into a table production no longer has). The engine says
how its backup and its transaction are spelled."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from restoredrill import dsn as dsnlib
from restoredrill.drill.incident_models import FindRequest


def recover_command(
    request: FindRequest, backup: Sequence[str], incident: Sequence[str], tables: Sequence[str]
) -> str:
    """`restoredrill recover` of exactly the transaction ``incident`` names, on ``tables``."""
    argv = ["restoredrill", "recover", *backup, *incident]
    for table in tables or ["TABLE"]:
        argv += ["--table", table]
    argv += ["--to", dsnlib.redact(request.dsn) if request.dsn else "PRODUCTION_DSN"]
    return shlex.join(argv)


def restore_command(backup: Sequence[str], target: Sequence[str]) -> str:
    """A restore to just before the transaction ``target`` names, kept running."""
    return shlex.join(["restoredrill", "restore", *backup, *target, "--exclusive", "--keep"])


__all__ = ["recover_command", "restore_command"]
