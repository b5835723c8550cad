"""Writes to production, kept in the ledger beside the drills: an executing reapply (and a
recover) changes production, so what it wrote, to which server, from which diff, and how it
ended is on record. The SLA report reads only ``drill`` entries; ``history`` shows these."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from restoredrill.dsn import describe
from restoredrill.ledger import Ledger
from restoredrill.models import PhaseTiming, ReapplyReport

WriteKind = Literal["reapply", "recover"]


def reapply_verdict(report: ReapplyReport) -> str:
    """APPLIED, or CONFLICTS when rows were skipped because production changed them since."""
    return "CONFLICTS" if report.conflict_count else "APPLIED"


def reapply_details(report: ReapplyReport) -> dict[str, Any]:
    return {
        "executed": report.executed,
        "inserted": report.inserted,
        "updated": report.updated,
        "already": report.already,
        "conflicts": report.conflict_count,
        "batches": report.batches,
        "resumed": report.resumed,
        "tables": [t.table for t in report.tables],
        "sql_file": report.sql_file,
    }


def record_write(
    kind: WriteKind,
    ledger_path: Path | None,
    target: str,
    diff_file: Path | str,
    verdict: str,
    details: dict[str, Any],
    phases: list[PhaseTiming] | None = None,
) -> None:
    """``target`` is the redacted DSN of production; history shows it as host:port/db, with
    the diff file whose rows were put back."""
    with Ledger(ledger_path) as ledger:
        ledger.record(
            kind,
            database=describe(target),
            source=str(diff_file),
            target=f"rows of {Path(diff_file).name}",
            verdict=verdict,
            phases=phases or (),
            details=details,
        )
