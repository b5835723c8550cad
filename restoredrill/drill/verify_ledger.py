"""Recording a verify in the ledger (kind "verify")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from restoredrill import dsn as dsnlib
from restoredrill.ledger import Ledger
from restoredrill.models import PhaseTiming, VerifyReport, VerifyStatus


def ledger_details(report: VerifyReport) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for check in report.tables:
        tables[check.table] = {
            "status": str(check.status),
            "rows_restored": check.restored.rows if check.restored else None,
            "rows_reference": check.reference.rows if check.reference else None,
            "predicate": check.predicate,
            "detail": check.detail,
        }
    return {"seconds": report.seconds, "tables": tables}


def record_verify(
    restored_dsn: str,
    reference: str | Path,
    report: VerifyReport | None,
    ledger_path: Path | None = None,
    error: str | None = None,
) -> int:
    """Record a verify in the ledger (kind "verify"); with no report, an ERROR with ``error``."""
    is_file = isinstance(reference, Path) or Path(reference).is_file()
    source = str(reference) if is_file else dsnlib.redact(str(reference))
    with Ledger(ledger_path) as ledger:
        if report is None:
            return ledger.record(
                kind="verify",
                database=dsnlib.describe(restored_dsn),
                source=source,
                target="-",
                verdict=str(VerifyStatus.ERROR),
                details={"error": error},
            )
        return ledger.record(
            kind="verify",
            database=dsnlib.describe(restored_dsn),
            source=source,
            target=f"as of {report.as_of.isoformat()}" if report.as_of else "-",
            verdict=str(report.status),
            phases=[PhaseTiming(name="verify", seconds=report.seconds)],
            details=ledger_details(report),
        )
