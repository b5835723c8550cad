"""Recording a restore's outcome in the ledger, the same way for every backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restoredrill.dsn import describe
from restoredrill.errors import RestoreDrillError
from restoredrill.ledger import Ledger
from restoredrill.models import RestoreResult


def unverified_base(result: RestoreResult) -> str | None:
    """Why something the restore rests on went unchecked, or None: a physical base backup
    nothing checked (PostgreSQL's without backup_manifest), or a log range we replayed whose
    records could not all be checked (binlogs written without checksums). Logical and RDS
    restores have no base backup or log range of ours to check."""
    plan = result.plan
    backup = plan.base_backup
    if backup is not None and result.base_check == "none":
        return f"base backup {backup.path} has no backup_manifest: not checked"
    replayed = plan.wal_range is not None or (
        plan.binlog_range is not None and plan.binlog_range.files > 0
    )
    if replayed and not plan.logs_checked:
        why = next((w for w in result.warnings if "not verified" in w), None)
        return why or "the replayed log records could not all be checked (CRCs / checksums)"
    return None


def restore_verdict(result: RestoreResult) -> str:
    """RESTORED, or UNVERIFIED when the base could not be checked: the history must not
    show such a restore as a clean one."""
    return "UNVERIFIED" if unverified_base(result) else "RESTORED"


def recorded_restore(
    ledger: Ledger | None,
    source: str,
    target: str,
    attempt: Callable[[], RestoreResult],
    details: Callable[[RestoreResult], dict[str, Any]],
) -> RestoreResult:
    """Run ``attempt`` and record it: RESTORED with its phases, RTO and RPO, or the error
    that ended it (failed restores belong in the SLA history too)."""
    try:
        result = attempt()
    except RestoreDrillError as exc:
        if ledger is not None:
            ledger.record(
                "restore",
                database="(restore)",
                source=source,
                target=target,
                verdict=f"ERROR: {type(exc).__name__}",
                details={"error": str(exc)},
            )
        raise
    if ledger is not None:
        ledger.record(
            "restore",
            database=describe(result.dsn or ""),
            source=source,
            target=target,
            verdict=restore_verdict(result),
            phases=result.phases,
            rto_seconds=result.rto_seconds,
            rpo_seconds=result.rpo_seconds,
            details={
                **details(result),
                "base_check": result.base_check,
                "warnings": result.warnings,
            },
        )
    return result
