"""SLA and audit reports from the ledger (``restoredrill report``): per database the drill
count, pass rate, restore time p50/p95/max against the RTO, RPO against its objective, SLA
breaches listed apart from correctness failures, a trend of restore time per drill, and an
evidence pack (which backup, which target, how long, which checks, what differed).

Drill results left in a directory by fleet jobs (``--from DIR``) are merged in; a run that
is in both (same run id and database) counts once."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, ValidationError

from restoredrill.drill.result import VERDICT_RANK, DrillResult, evidence
from restoredrill.durations import parse_duration
from restoredrill.errors import ConfigError
from restoredrill.ledger import Ledger
from restoredrill.models import Frozen, PhaseTiming

REPORT_FORMAT = "restoredrill-report/1"


class TrendPoint(Frozen):
    when: AwareDatetime
    rto_seconds: float
    verdict: str
    run_id: str | None = None


class Breach(Frozen):
    database: str
    when: AwareDatetime
    playbook: str | None
    run_id: str | None
    ledger_id: int | None
    objective: Literal["rto", "rpo"]
    measured_seconds: float | None
    objective_seconds: float


class Failure(Frozen):
    database: str
    when: AwareDatetime
    playbook: str | None
    run_id: str | None
    ledger_id: int | None
    verdict: str
    reasons: list[str]


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


class DatabaseSummary(Frozen):
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


class SlaReport(Frozen):
    format: Literal["restoredrill-report/1"] = "restoredrill-report/1"
    generated_at: AwareDatetime
    since: AwareDatetime | None
    databases_filter: list[str] | None
    sources: list[str]
    databases: list[DatabaseSummary]
    breaches: list[Breach]
    failures: list[Failure]
    evidence: list[Evidence]

    @property
    def has_problems(self) -> bool:
        return bool(self.breaches or self.failures)


@dataclass(frozen=True)
class ReportRequest:
    ledger_path: Path | None = None
    since: datetime | None = None
    databases: Sequence[str] | None = None
    from_dir: Path | None = None
    now: datetime | None = None


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30d`` / ``12h`` (ago), ``2026-01-01`` (UTC midnight) or an ISO time with a zone."""
    current = now or datetime.now(UTC)
    try:
        return current - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(0), UTC)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r}: expected a duration (30d, 12h), a date or an ISO time"
        ) from None
    if value.tzinfo is None:
        raise ConfigError(f"--since {text!r} has no time zone (add +00:00 or Z)")
    return value


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- gathering ----------------------------------------------------------------------------------


@dataclass
class _Item:
    database: str
    when: datetime
    verdict: str
    source: str
    target: str
    rto: float | None
    rpo: float | None
    phases: list[PhaseTiming]
    details: dict[str, Any]
    ledger_id: int | None
    origin: str
    key: tuple[str, str] | None = field(default=None)


def _from_ledger(request: ReportRequest) -> list[_Item]:
    with Ledger(request.ledger_path) as ledger:
        records = ledger.records(since=request.since, database=request.databases, kind="drill")
    items = []
    for record in records:
        when = (
            record.started_at if record.started_at.tzinfo else record.started_at.replace(tzinfo=UTC)
        )
        run_id = record.details.get("run_id")
        items.append(
            _Item(
                database=record.database,
                when=when,
                verdict=record.verdict,
                source=record.source,
                target=record.target,
                rto=record.rto_seconds,
                rpo=record.rpo_seconds,
                phases=record.phases,
                details=record.details,
                ledger_id=record.id,
                origin="ledger",
                key=(run_id, record.database) if run_id else None,
            )
        )
    return items


def load_results(directory: Path) -> list[tuple[Path, DrillResult]]:
    if not Path(directory).is_dir():
        raise ConfigError(f"--from {directory}: no such directory")
    found = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("format") != "restoredrill-drill/1":
            continue
        try:
            found.append((path, DrillResult.model_validate(data)))
        except ValidationError as exc:
            raise ConfigError(
                f"{path}: not a valid drill result ({exc.errors()[0]['msg']})"
            ) from exc
    return found


def _from_results(request: ReportRequest) -> list[_Item]:
    assert request.from_dir is not None
    items = []
    for path, result in load_results(request.from_dir):
        if request.since is not None and result.started_at < request.since:
            continue
        for outcome in result.databases:
            if request.databases and outcome.label not in request.databases:
                continue
            phases = list(result.restore.phases) if result.restore is not None else []
            details = evidence(result, outcome)
            verdict = max(outcome.verdict, result.verdict, key=lambda v: VERDICT_RANK[v])
            items.append(
                _Item(
                    database=outcome.label,
                    when=result.started_at,
                    verdict=verdict,
                    source=result.source,
                    target=result.target or "-",
                    rto=result.rto_seconds,
                    rpo=result.rpo_seconds,
                    phases=phases,
                    details=details,
                    ledger_id=None,
                    origin=str(path),
                    key=(result.run_id, outcome.label),
                )
            )
    return items


# --- building -----------------------------------------------------------------------------------


def _objective(items: Sequence[_Item], name: str) -> float | None:
    for item in reversed(items):
        for objective in item.details.get("objectives") or []:
            if objective.get("name") == name:
                return float(objective["objective_seconds"])
    return None


def _breaches(item: _Item) -> list[Breach]:
    found = []
    for objective in item.details.get("objectives") or []:
        if objective.get("status") != "breached":
            continue
        found.append(
            Breach(
                database=item.database,
                when=item.when,
                playbook=item.details.get("playbook"),
                run_id=item.details.get("run_id"),
                ledger_id=item.ledger_id,
                objective=objective["name"],
                measured_seconds=objective.get("measured_seconds"),
                objective_seconds=objective["objective_seconds"],
            )
        )
    return found


def _evidence(item: _Item) -> Evidence:
    d = item.details
    return Evidence(
        database=item.database,
        when=item.when,
        ledger_id=item.ledger_id,
        run_id=d.get("run_id"),
        playbook=d.get("playbook"),
        origin=item.origin,
        verdict=item.verdict,
        sla=d.get("sla"),
        source=item.source,
        target=item.target,
        backup=d.get("backup"),
        wal=d.get("wal"),
        recovered_to=d.get("recovered_to"),
        rto_seconds=item.rto,
        rpo_seconds=item.rpo,
        phases=item.phases,
        objectives=d.get("objectives") or [],
        checks=d.get("checks") or [],
        differences=d.get("differences") or [],
        gameday=d.get("gameday"),
        failures=d.get("failures") or [],
        error=d.get("error"),
    )


def _summary(database: str, items: list[_Item]) -> DatabaseSummary:
    restore_times = [i.rto for i in items if i.rto is not None]
    rpos = [i.rpo for i in items if i.rpo is not None]
    passed = sum(1 for i in items if i.verdict == "PASS")
    failed = sum(1 for i in items if i.verdict in ("FAIL", "UNVERIFIED"))
    errors = sum(1 for i in items if i.verdict not in ("PASS", "FAIL", "UNVERIFIED"))
    breaches = [b for i in items for b in _breaches(i)]
    successes = [i.when for i in items if i.verdict == "PASS"]
    return DatabaseSummary(
        database=database,
        drills=len(items),
        passed=passed,
        failed=failed,
        errors=errors,
        pass_rate=passed / len(items) if items else None,
        rto_objective_seconds=_objective(items, "rto"),
        rpo_objective_seconds=_objective(items, "rpo"),
        restore_p50_seconds=percentile(restore_times, 0.5),
        restore_p95_seconds=percentile(restore_times, 0.95),
        restore_max_seconds=max(restore_times, default=None),
        rpo_max_seconds=max(rpos, default=None),
        rpo_last_seconds=rpos[-1] if rpos else None,
        rto_breaches=sum(1 for b in breaches if b.objective == "rto"),
        rpo_breaches=sum(1 for b in breaches if b.objective == "rpo"),
        last_drill_at=max((i.when for i in items), default=None),
        last_success_at=max(successes, default=None),
        trend=[
            TrendPoint(
                when=i.when, rto_seconds=i.rto, verdict=i.verdict, run_id=i.details.get("run_id")
            )
            for i in items
            if i.rto is not None
        ],
    )


def build_report(request: ReportRequest) -> SlaReport:
    items = _from_ledger(request)
    sources = [f"ledger {request.ledger_path or 'default'}"]
    if request.from_dir is not None:
        seen = {i.key for i in items if i.key is not None}
        extra = [i for i in _from_results(request) if i.key not in seen]
        items += extra
        sources.append(f"results {request.from_dir}")
    items.sort(key=lambda i: i.when)
    databases: dict[str, list[_Item]] = {}
    for item in items:
        databases.setdefault(item.database, []).append(item)
    failures = [
        Failure(
            database=i.database,
            when=i.when,
            playbook=i.details.get("playbook"),
            run_id=i.details.get("run_id"),
            ledger_id=i.ledger_id,
            verdict=i.verdict,
            reasons=(i.details.get("failures") or [])
            + ([i.details["error"]] if i.details.get("error") else []),
        )
        for i in items
        if i.verdict != "PASS"
    ]
    return SlaReport(
        generated_at=request.now or datetime.now(UTC),
        since=request.since,
        databases_filter=list(request.databases) if request.databases else None,
        sources=sources,
        databases=[_summary(name, group) for name, group in sorted(databases.items())],
        breaches=[b for i in items for b in _breaches(i)],
        failures=failures,
        evidence=[_evidence(i) for i in items],
    )
