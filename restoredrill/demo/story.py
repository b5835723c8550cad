"""The engine-independent half of the demo: what the incident cost, the incident's exact
effect (restore before vs restore just after), the reapply dry run, the repair and its check,
and the ledger entry. demo/postgres.py (PostgreSQL) and demo/mysql.py (MariaDB) build
their production and incident differently, then tell this part the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from restoredrill.drill.diff import write_diff
from restoredrill.drill.reapply import ReapplyOptions, reapply_document
from restoredrill.drill.recover import incident_diff, production_identity
from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.drill.verify import verify
from restoredrill.ledger import Ledger
from restoredrill.models import (
    Frozen,
    ReapplyReport,
    RecoveryTarget,
    RestoreResult,
    RowDiffSummary,
    VerifyReport,
    VerifyStatus,
)
from restoredrill.timing import PhaseClock, ProgressListener

SQL_EXCERPT_LINES = 8
# Statements worth showing from the reapply script (the session settings differ per engine).
_EXCERPT_PREFIXES = ("--", "BEGIN", "SET LOCAL", "SET SESSION", "SELECT", "INSERT", "UPDATE")

CountSince = Callable[[str, str, datetime], int]
"""(dsn, table, moment) → rows of ``table`` created after ``moment``."""


class TableLoss(Frozen):
    table: str
    rows_before: int
    rows_now: int
    rows_lost: int


class RepairCheck(Frozen):
    """Production after ``demo --repair``, per table: rows created before the incident are
    back (count, and checksum equal to the restore's), rows created since are untouched."""

    table: str
    rows_before_incident: int  # in the restore, created before the incident
    rows_now: int  # in production after the repair, created before the incident
    status: VerifyStatus  # verify of those rows: restore vs repaired production
    rows_since_before_repair: int  # created after the incident, before the repair
    rows_since_after_repair: int

    @property
    def ok(self) -> bool:
        return (
            self.status == VerifyStatus.PASS
            and self.rows_now == self.rows_before_incident
            and self.rows_since_after_repair == self.rows_since_before_repair
        )


class IncidentOutcome(Frozen):
    summaries: list[RowDiffSummary]
    reapply: ReapplyReport
    sql_excerpt: list[str]
    repair: ReapplyReport | None = None
    repair_again: ReapplyReport | None = None
    repair_check: list[RepairCheck] | None = None


def incident_losses(cost: VerifyReport) -> list[TableLoss]:
    """Rows created before the incident: in the restore vs in production now."""
    return [
        TableLoss(
            table=check.table,
            rows_before=check.restored.rows,
            rows_now=check.reference.rows,
            rows_lost=check.restored.rows - check.reference.rows,
        )
        for check in cost.tables
        if check.restored is not None and check.reference is not None
    ]


def sql_excerpt(sql_file: str | None) -> list[str]:
    """The first batch of the reapply script, long lines cut."""
    if not sql_file:
        return []
    lines = Path(sql_file).read_text(encoding="utf-8").splitlines()
    first = next((n for n, line in enumerate(lines) if line == "BEGIN;"), len(lines))
    excerpt: list[str] = []
    for line in lines[max(0, first - 1) :]:
        if line.startswith(_EXCERPT_PREFIXES):
            excerpt.append(line if len(line) <= 120 else line[:119] + "…")
        if len(excerpt) >= SQL_EXCERPT_LINES or line == "COMMIT;":
            break
    return excerpt


def incident_step(
    before_dsn: str,
    target_dsn: str,
    after_request: RestoreRequest,
    tables: Sequence[str],
    incident_at: datetime,
    workdir: Path,
    repair: bool,
    listener: ProgressListener,
    count_since: CountSince,
    dbname: str | None = None,
) -> IncidentOutcome:
    """Restore just after the incident, diff it against the restore just before (the
    incident's exact effect), reapply as a dry run, and with ``repair`` for real."""
    listener.note(f"drill: restore to {after_request.target.describe()} (just after the incident)")
    with restored(after_request, listener) as after:
        listener.note("diff: restore before the incident vs restore just after it")
        document = incident_diff(
            before_dsn, after.dsn(dbname), production_identity(target_dsn), list(tables), listener
        )
    diff_file = workdir / "incident.diff.json"
    write_diff(document, diff_file, force=True)  # the demo's own working file
    dry = reapply_document(document, diff_file, target_dsn, ReapplyOptions(), listener)
    outcome = IncidentOutcome(
        summaries=[RowDiffSummary.of(t, sample=3) for t in document.tables],
        reapply=dry,
        sql_excerpt=sql_excerpt(dry.sql_file),
    )
    if not repair:
        return outcome
    since_before = {t: count_since(target_dsn, t, incident_at) for t in tables}
    listener.note("[bold]repair[/bold]: reapply --execute")
    execute = ReapplyOptions(execute=True)
    done = reapply_document(document, diff_file, target_dsn, execute, listener)
    again = reapply_document(document, diff_file, target_dsn, execute, listener)
    check = verify(
        before_dsn,
        target_dsn,
        tables=list(tables),
        as_of_columns={t: "created_at" for t in tables},
        as_of=incident_at,
    )
    checks = [
        RepairCheck(
            table=c.table,
            rows_before_incident=c.restored.rows if c.restored else -1,
            rows_now=c.reference.rows if c.reference else -1,
            status=c.status,
            rows_since_before_repair=since_before[c.table],
            rows_since_after_repair=count_since(target_dsn, c.table, incident_at),
        )
        for c in check.tables
    ]
    return outcome.model_copy(
        update={"repair": done, "repair_again": again, "repair_check": checks}
    )


def record_demo(
    ledger: Ledger | None,
    engine: str,
    source: str,
    target: RecoveryTarget,
    report: VerifyReport,
    restore: RestoreResult,
    clock: PhaseClock,
    details: dict[str, Any],
) -> int:
    """One "drill" ledger entry; 0 when there is no ledger."""
    if ledger is None:
        return 0
    return ledger.record(
        "drill",
        database=f"demo ({engine})",  # stable: one SLA series, not the throwaway's path
        source=source,
        target=target.describe(),
        verdict=str(report.status),
        phases=[*restore.phases, *clock.phases],
        rto_seconds=restore.rto_seconds,
        rpo_seconds=restore.rpo_seconds,
        details={"demo": True, **details},
    )
