"""The figures of an SLA report: per database and per kind of drill, a pass rate that
counts SLA breaches, restore-time percentiles, days since the last success, and the
headline a manager reads first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from restoredrill.drill.drill_kind import KINDS
from restoredrill.report.sla_gather import Item, breaches_of
from restoredrill.report.sla_models import DatabaseSummary, KindSummary, TrendPoint

_FAILED = ("FAIL", "UNVERIFIED")


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


def is_success(item: Item) -> bool:
    """A pass for the SLA: verified (PASS) and no objective breached. A verified restore
    that took longer than the RTO still leaves the business waiting too long."""
    return item.verdict == "PASS" and not breaches_of(item)


def _objective(items: Sequence[Item], name: str) -> float | None:
    for item in reversed(items):
        for objective in item.details.get("objectives") or []:
            if objective.get("name") == name:
                return float(objective["objective_seconds"])
    return None


def _kind_order(kind: str) -> tuple[int, str]:
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), kind)


def kind_summary(kind: str, items: list[Item]) -> KindSummary:
    restore_times = [i.rto for i in items if i.rto is not None]
    breaches = [b for i in items for b in breaches_of(i)]
    successes = [i.when for i in items if is_success(i)]
    passed = len(successes)
    return KindSummary(
        kind=kind,
        drills=len(items),
        passed=passed,
        breached=sum(1 for i in items if breaches_of(i)),
        failed=sum(1 for i in items if i.verdict in _FAILED),
        errors=sum(1 for i in items if i.verdict not in ("PASS", *_FAILED)),
        pass_rate=passed / len(items) if items else None,
        rto_objective_seconds=_objective(items, "rto"),
        restore_p50_seconds=percentile(restore_times, 0.5),
        restore_p95_seconds=percentile(restore_times, 0.95),
        restore_max_seconds=max(restore_times, default=None),
        rto_breaches=sum(1 for b in breaches if b.objective == "rto"),
        rpo_breaches=sum(1 for b in breaches if b.objective == "rpo"),
        last_drill_at=max((i.when for i in items), default=None),
        last_success_at=max(successes, default=None),
    )


def database_summary(database: str, items: list[Item], now: datetime) -> DatabaseSummary:
    by_kind: dict[str, list[Item]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    kinds = [kind_summary(k, by_kind[k]) for k in sorted(by_kind, key=_kind_order)]
    whole = kind_summary("all", items)
    rpos = [i.rpo for i in items if i.rpo is not None]
    has_rto = any(k.rto_objective_seconds is not None for k in kinds)
    return DatabaseSummary(
        database=database,
        drills=whole.drills,
        passed=whole.passed,
        failed=whole.failed,
        errors=whole.errors,
        pass_rate=whole.pass_rate,
        rto_objective_seconds=whole.rto_objective_seconds,
        rpo_objective_seconds=_objective(items, "rpo"),
        restore_p50_seconds=whole.restore_p50_seconds,
        restore_p95_seconds=whole.restore_p95_seconds,
        restore_max_seconds=whole.restore_max_seconds,
        rpo_max_seconds=max(rpos, default=None),
        rpo_last_seconds=rpos[-1] if rpos else None,
        rto_breaches=whole.rto_breaches,
        rpo_breaches=whole.rpo_breaches,
        last_drill_at=whole.last_drill_at,
        last_success_at=whole.last_success_at,
        trend=[
            TrendPoint(
                when=i.when,
                rto_seconds=i.rto,
                verdict=i.verdict,
                run_id=i.details.get("run_id"),
                kind=i.kind,
            )
            for i in items
            if i.rto is not None
        ],
        verified=sum(1 for i in items if i.verdict == "PASS"),
        breached=whole.breached,
        days_since_success=(
            (now - whole.last_success_at).total_seconds() / 86400
            if whole.last_success_at is not None
            else None
        ),
        rto_status=("breached" if whole.rto_breaches else ("met" if has_rto else "no objective")),
        kinds=kinds,
        demo=any(i.demo for i in items),
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def headline(databases: Sequence[DatabaseSummary], demo_runs: int = 0) -> str:
    """``4 of 6 databases within their RTO; 2 breached`` — over the report's window: a
    database breached when any of its drills in the window took longer than its RTO."""
    if not databases and demo_runs:
        return (
            f"No drills in this window besides {_count(demo_runs, 'demo run')} "
            "(--include-demo counts them)."
        )
    if not databases:
        return "No drills recorded in this window."
    within = sum(1 for s in databases if s.rto_status == "met")
    breached = sum(1 for s in databases if s.rto_status == "breached")
    unset = len(databases) - within - breached
    if within + breached:
        parts = [
            f"{within} of {_count(within + breached, 'database')} within their RTO",
            f"{breached} breached",
        ]
        if unset:
            parts.append(f"{unset} more without an RTO objective")
    else:
        parts = [f"{_count(unset, 'database')} drilled, none with an RTO objective"]
    failing = sum(1 for s in databases if s.failed or s.errors)
    if failing:
        parts.append(f"{failing} with failed drills")
    return "; ".join(parts)
