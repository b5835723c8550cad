"""The commands `incident find` prints on PostgreSQL (drill/incident_commands.py), spelled
with the base backups, the WAL archive and a transaction id."""

from __future__ import annotations

from collections.abc import Sequence

from restoredrill.drill import incident_commands as commands
from restoredrill.drill.incident_models import FindRequest


def _backup(request: FindRequest) -> list[str]:
    base = str(request.base_backups or "BASE_BACKUPS_DIR")
    return ["--base-backups", base, "--wal-archive", str(request.wal_archive)]


def recover_command(request: FindRequest, xid: int, tables: Sequence[str]) -> str:
    """`restoredrill recover` of exactly what transaction ``xid`` did to ``tables``."""
    return commands.recover_command(request, _backup(request), ["--incident-xid", str(xid)], tables)


def restore_command(request: FindRequest, xid: int) -> str:
    """A restore to just before transaction ``xid``, kept running."""
    return commands.restore_command(_backup(request), ["--target-xid", str(xid)])


__all__ = ["recover_command", "restore_command"]
