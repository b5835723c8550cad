"""What ``restoredrill report`` produces: the SLA report document (``restoredrill-report/1``)
and its parts. Built by report/sla.py, rendered by report/*.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from restoredrill.models import Frozen, PhaseTiming

REPORT_FORMAT = "restoredrill-report/1"


class TrendPoint(Frozen):
    when: AwareDatetime
    rto_seconds: float
    verdict: str
    run_id: str | None = None
    kind: str | None = None


class Breach(Frozen):
    database: str
    when: AwareDatetime
    playbook: str | None
    run_id: str | None
    ledger_id: int | None
    objective: Literal["rto", "rpo"]
    measured_seconds: float | None
    objective_seconds: float
    kind: str | None = None


class Failure(Frozen):
    database: str
    when: AwareDatetime
    playbook: str | None
    run_id: str | None
    ledger_id: int | None
    verdict: str
    reasons: list[str]
    kind: str | None = None


class Evidence(Frozen):
    """One drill, as an auditor reads it."""

    database: str
    when: AwareDatetime
    ledger_id: int | None
    run_id: str | None
    playbook: str | None
    origin: str  # "ledger" or the results file
    verdict: str
    sla: str | None
    source: str
    target: str
    backup: dict[str, Any] | None
    wal: dict[str, Any] | None
    recovered_to: dict[str, Any] | None
    rto_seconds: float | None
    rpo_seconds: float | None
    phases: list[PhaseTiming]
    objectives: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    differences: list[dict[str, Any]]
    gameday: dict[str, Any] | None
    failures: list[str]
    error: str | None
    kind: str | None = None
    demo: bool = False


class KindSummary(Frozen):
    """One database's drills of one kind (a restore to a point in time, a check of
    ``latest``, a game day, an incident recovery): each kind has its own RTO, so its restore
    times are summarised apart."""

    kind: str
    drills: int
    passed: int  # verified PASS and every objective met
    breached: int  # drills that breached an objective (whatever their verdict)
    failed: int  # FAIL or UNVERIFIED
    errors: int
    pass_rate: float | None
    rto_objective_seconds: float | None
    restore_p50_seconds: float | None
    restore_p95_seconds: float | None
    restore_max_seconds: float | None
    rto_breaches: int
    rpo_breaches: int
    last_drill_at: AwareDatetime | None
    last_success_at: AwareDatetime | None


class DatabaseSummary(Frozen):
    """One database over the window. ``passed`` and ``pass_rate`` count a drill as a pass
    only when it verified (PASS) and met every objective: a verified restore that took longer
    than the RTO is an SLA failure, not a pass. ``verified`` counts PASS verdicts alone."""

    database: str
    drills: int
    passed: int
    failed: int
    errors: int
    pass_rate: float | None
    rto_objective_seconds: float | None
    rpo_objective_seconds: float | None
    restore_p50_seconds: float | None
    restore_p95_seconds: float | None
    restore_max_seconds: float | None
    rpo_max_seconds: float | None
    rpo_last_seconds: float | None
    rto_breaches: int
    rpo_breaches: int
    last_drill_at: AwareDatetime | None
    last_success_at: AwareDatetime | None
    trend: list[TrendPoint]
    verified: int = 0
    breached: int = 0
    days_since_success: float | None = None
    rto_status: Literal["met", "breached", "no objective"] = "no objective"
    kinds: list[KindSummary] = Field(default_factory=list)
    demo: bool = False


class SlaReport(Frozen):
    format: Literal["restoredrill-report/1"] = "restoredrill-report/1"
    generated_at: AwareDatetime
    since: AwareDatetime | None
    databases_filter: list[str] | None
    sources: list[str]
    headline: str = ""
    include_demo: bool = False
    databases: list[DatabaseSummary]
    # runs recorded by `restoredrill demo`, kept out of the figures above by default
    demo: list[DatabaseSummary] = Field(default_factory=list)
    breaches: list[Breach]
    failures: list[Failure]
    evidence: list[Evidence]

    @property
    def has_problems(self) -> bool:
        return bool(self.breaches or self.failures)
