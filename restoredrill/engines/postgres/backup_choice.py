"""Which base backup a restore starts from, and how the plan names it."""

from __future__ import annotations

from datetime import timedelta

from restoredrill.engines.postgres.wal_verify import fmt_time
from restoredrill.lsn import format_lsn
from restoredrill.models import BaseBackup, RecoveryTarget

STOP_TIME_RESOLUTION = timedelta(seconds=1)


def choose_backup(
    target: RecoveryTarget, backups: list[BaseBackup], target_lsn: int | None
) -> BaseBackup | None:
    """The newest backup that ends before the target."""
    candidates: list[BaseBackup]
    if target.kind == "time":
        assert target.time is not None
        # Stop times are recorded in whole seconds: a backup stopped at 12:00:00 may have
        # ended at 12:00:00.9, and everything it contains is restored whatever the target.
        # Only a backup whose recorded second is over before the target surely precedes it.
        candidates = [
            b
            for b in backups
            if b.stop_time is not None and b.stop_time + STOP_TIME_RESOLUTION <= target.time
        ]
    elif target_lsn is not None:
        candidates = [b for b in backups if b.end_lsn <= target_lsn]
    else:
        candidates = list(backups)
    return max(candidates, key=lambda b: b.end_lsn, default=None)


def backup_detail(backup: BaseBackup) -> str:
    fmt = backup.format if backup.compression == "none" else f"{backup.format}.{backup.compression}"
    return (
        f"{backup.path} ({fmt}, label {backup.label!r}, timeline {backup.timeline}, "
        f"ends at {format_lsn(backup.end_lsn)} / {fmt_time(backup.stop_time)})"
    )


__all__ = ["STOP_TIME_RESOLUTION", "backup_detail", "choose_backup"]
