"""What a playbook run produced (``restoredrill drill``): one document per run, also the
file a fleet job leaves in its results directory, and the source of the ledger's evidence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from restoredrill.checks.registry import CheckReport
from restoredrill.drill.drill_kind import kind_of
from restoredrill.drill.recover import RecoverResult
from restoredrill.lsn import format_lsn
from restoredrill.models import Frozen, PhaseTiming, RestoreResult, VerifyReport

# UNVERIFIED: everything that was checked held, but something the verdict rests on could not
# be checked (a base backup without backup_manifest). Not a pass; ranked below FAIL.
Verdict = Literal["PASS", "UNVERIFIED", "FAIL", "ERROR"]
VERDICT_RANK: dict[str, int] = {"PASS": 0, "UNVERIFIED": 1, "FAIL": 2, "ERROR": 3}
SlaStatus = Literal["MET", "BREACHED", "UNMEASURED"]
ObjectiveStatus = Literal["met", "breached", "unmeasured"]

RESULT_FORMAT = "restoredrill-drill/1"


class ObjectiveCheck(Frozen):
    name: Literal["rto", "rpo"]
    objective_seconds: float
    measured_seconds: float | None
    status: ObjectiveStatus
    measured: str  # what was measured, e.g. "provision → ready" or "incident → verified rows"


class AssertionCheck(Frozen):
    """One playbook assertion run on the restored copy."""

    name: str
    sql: str
    status: Literal["PASS", "FAIL", "ERROR"]  # FAIL: false; ERROR: did not run or no boolean
    detail: str
    seconds: float


class DatabaseOutcome(Frozen):
    database: str  # inside the restored cluster
    label: str  # how the ledger and reports name it
    verdict: Verdict
    verify: VerifyReport | None = None
    tolerated: list[str] = Field(default_factory=list)  # row counts within tolerance
    failures: list[str] = Field(default_factory=list)
    assertions: list[AssertionCheck] = Field(default_factory=list)
    ledger_id: int | None = None


class GameDayOutcome(Frozen):
    incident: str
    database: str
    table: str
    sql: str
    rows_affected: int | None
    recovery: Literal["reapply", "reload-table"]
    rows_recovered: int
    recovered_seconds: float  # incident → rows back
    verified_seconds: float  # incident → verification passed
    verify: VerifyReport
    phases: list[PhaseTiming]
    verdict: Verdict


class DrillResult(Frozen):
    format: Literal["restoredrill-drill/1"] = "restoredrill-drill/1"
    run_id: str
    playbook: str
    playbook_file: str
    description: str | None = None
    engine: str
    source: str
    target: str | None
    started_at: AwareDatetime
    finished_at: AwareDatetime
    seconds: float
    restore: RestoreResult | None = None
    databases: list[DatabaseOutcome]
    checks: CheckReport | None = None
    gameday: GameDayOutcome | None = None
    recover: RecoverResult | None = None
    objectives: list[ObjectiveCheck] = Field(default_factory=list)
    measured_rto_seconds: float | None = None
    measured_rpo_seconds: float | None = None  # see README: target (or drill start) - last commit
    verdict: Verdict
    sla: SlaStatus
    failures: list[str] = Field(default_factory=list)  # correctness: data, backups, configuration
    breaches: list[str] = Field(default_factory=list)  # SLA: RTO / RPO over their objectives
    error: str | None = None
    exit_code: int
    outputs: list[str] = Field(default_factory=list)
    notifications: list[str] = Field(default_factory=list)

    @property
    def rto_seconds(self) -> float | None:
        return self.measured_rto_seconds

    @property
    def rpo_seconds(self) -> float | None:
        return self.measured_rpo_seconds


class FleetResult(Frozen):
    """Several playbooks run together (``restoredrill drill A.yaml B.yaml --parallel N``)."""

    format: Literal["restoredrill-fleet/1"] = "restoredrill-fleet/1"
    drills: list[DrillResult]
    parallel: int
    seconds: float
    exit_code: int


def verdict_reasons(
    verdict: Verdict,
    failures: list[str],
    databases: list[DatabaseOutcome],
    error: str | None,
) -> list[str]:
    """The run's failures with each database's own and the error: a verdict other than PASS
    always carries at least one reason (the webhook and the summary print these)."""
    reasons = [*failures]
    for outcome in databases:
        reasons += outcome.failures
        if outcome.verdict != "PASS" and not outcome.failures:
            reasons.append(f"{outcome.label}: {outcome.verdict} without a recorded cause")
    if error is not None:
        reasons.append(error)
    reasons = list(dict.fromkeys(reasons))
    if verdict != "PASS" and not reasons:
        reasons.append(f"drill {verdict}: no step recorded why (report this as a bug)")
    return reasons


def evidence(result: DrillResult, outcome: DatabaseOutcome | None) -> dict[str, Any]:
    """The ledger ``details`` of one drill entry: everything an auditor asks — which backup,
    which target, how long, which checks, what differed, against which objectives."""
    restore = result.restore
    backup = restore.plan.base_backup if restore is not None else None
    wal = restore.plan.wal_range if restore is not None else None
    checks: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    if outcome is not None and outcome.verify is not None:
        for table in outcome.verify.tables:
            checks.append(
                {
                    "check": f"verify {table.table}",
                    "status": str(table.status),
                    "rows_restored": table.restored.rows if table.restored else None,
                    "rows_reference": table.reference.rows if table.reference else None,
                    "detail": table.detail,
                }
            )
            if str(table.status) != "PASS" or table.table in outcome.tolerated:
                differences.append(
                    {
                        "table": table.table,
                        "status": str(table.status),
                        "rows_restored": table.restored.rows if table.restored else None,
                        "rows_reference": table.reference.rows if table.reference else None,
                        "detail": table.detail,
                        "tolerated": table.table in outcome.tolerated,
                    }
                )
    if outcome is not None:
        for assertion in outcome.assertions:
            checks.append(
                {
                    "check": f"assert {assertion.name}",
                    "status": assertion.status,
                    "detail": assertion.detail,
                    "sql": assertion.sql,
                }
            )
    if result.checks is not None:
        for check in result.checks.checks:
            checks.append(
                {"check": check.rule, "status": str(check.status), "detail": check.detail}
            )
    if result.recover is not None:
        for summary in result.recover.tables:
            differences.append(
                {
                    "table": summary.table,
                    "status": "incident diff",
                    "lost": summary.counts.lost,
                    "new": summary.counts.new,
                    "changed": summary.counts.changed,
                }
            )
    details: dict[str, Any] = {
        "run_id": result.run_id,
        "playbook": result.playbook,
        "playbook_file": result.playbook_file,
        "engine": result.engine,
        "database_name": outcome.database if outcome is not None else None,
        "verdict": outcome.verdict if outcome is not None else result.verdict,
        "sla": result.sla,
        "failures": _own_failures(result, outcome),
        "breaches": result.breaches,
        "error": result.error,
        "objectives": [o.model_dump(mode="json") for o in result.objectives],
        "seconds": result.seconds,
        "target": result.target,
        "kind": kind_of(
            result.target,
            gameday=result.gameday is not None,
            recover=result.recover is not None,
            playbook=result.playbook,
        ),
        "backup": None,
        "wal": None,
        "recovered_to": None,
        "checks": checks,
        "differences": differences,
        "gameday": None,
        "reference": outcome.verify.reference if outcome and outcome.verify else None,
    }
    if backup is not None:
        details["backup"] = {
            "path": backup.path,
            "label": backup.label,
            "format": backup.format,
            "compression": backup.compression,
            "timeline": backup.timeline,
            "start_lsn": format_lsn(backup.start_lsn),
            "end_lsn": format_lsn(backup.end_lsn),
            "stop_time": backup.stop_time.isoformat() if backup.stop_time else None,
            "size_bytes": backup.size_bytes,
        }
    if wal is not None:
        details["wal"] = wal.model_dump(mode="json")
    if restore is not None:
        details["base_check"] = restore.base_check  # "none": the base was not checked
        details["warnings"] = restore.warnings
        details["recovered_to"] = {
            "lsn": format_lsn(restore.recovered_to_lsn) if restore.recovered_to_lsn else None,
            "last_transaction": (
                restore.last_replayed_xact_time.isoformat()
                if restore.last_replayed_xact_time
                else None
            ),
        }
    if result.gameday is not None:
        game = result.gameday
        details["gameday"] = {
            "incident": game.incident,
            "sql": game.sql,
            "rows_affected": game.rows_affected,
            "rows_recovered": game.rows_recovered,
            "recovered_seconds": game.recovered_seconds,
            "verified_seconds": game.verified_seconds,
            "verdict": game.verdict,
        }
    return details


def _own_failures(result: DrillResult, outcome: DatabaseOutcome | None) -> list[str]:
    """The run's failures less those of the playbook's other databases, then this one's."""
    others = {f for d in result.databases if d is not outcome for f in d.failures}
    own = outcome.failures if outcome is not None else []
    return list(dict.fromkeys([*(f for f in result.failures if f not in others), *own]))
