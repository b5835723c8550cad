"""SLA and audit reports from the ledger (``restoredrill report``): a headline, per database
and per kind of drill the drill count, pass rate (SLA breaches are not passes), restore time
p50/p95/max against that kind's RTO, RPO against its objective, days since the last success,
SLA breaches listed apart from correctness failures, a trend of restore time per drill, and
an evidence pack (which backup, which target, how long, which checks, what differed).

Drill results left in a directory by fleet jobs (``--from DIR``) are merged in; a run that
is in both (same run id and database) counts once. Runs recorded by ``restoredrill demo``
are listed apart and kept out of the figures unless ``include_demo``.

The parts: report/sla_models.py (the document), report/sla_gather.py (ledger and result
files), report/sla_summary.py (the figures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from restoredrill.durations import parse_duration
from restoredrill.errors import ConfigError
from restoredrill.report.sla_gather import (
    Item,
    breaches_of,
    evidence_of,
    items_from_ledger,
    items_from_results,
    load_results,
)
from restoredrill.report.sla_models import (
    REPORT_FORMAT,
    Breach,
    DatabaseSummary,
    Evidence,
    Failure,
    KindSummary,
    SlaReport,
    TrendPoint,
)
from restoredrill.report.sla_summary import database_summary, headline, percentile

__all__ = [
    "REPORT_FORMAT",
    "Breach",
    "DatabaseSummary",
    "Evidence",
    "Failure",
    "KindSummary",
    "ReportRequest",
    "SlaReport",
    "TrendPoint",
    "build_report",
    "load_results",
    "parse_since",
    "percentile",
]


@dataclass(frozen=True)
class ReportRequest:
    ledger_path: Path | None = None
    since: datetime | None = None
    databases: Sequence[str] | None = None
    from_dir: Path | None = None
    now: datetime | None = None
    include_demo: bool = False


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


def _failure(item: Item) -> Failure:
    return Failure(
        database=item.database,
        when=item.when,
        playbook=item.details.get("playbook"),
        run_id=item.details.get("run_id"),
        ledger_id=item.ledger_id,
        verdict=item.verdict,
        reasons=(item.details.get("failures") or [])
        + ([item.details["error"]] if item.details.get("error") else []),
        kind=item.kind,
    )


def _summaries(items: list[Item], now: datetime) -> list[DatabaseSummary]:
    databases: dict[str, list[Item]] = {}
    for item in items:
        databases.setdefault(item.database, []).append(item)
    return [database_summary(name, group, now) for name, group in sorted(databases.items())]


def build_report(request: ReportRequest) -> SlaReport:
    items = items_from_ledger(request.ledger_path, request.since, request.databases)
    sources = [f"ledger {request.ledger_path or 'default'}"]
    if request.from_dir is not None:
        seen = {i.key for i in items if i.key is not None}
        extra = items_from_results(request.from_dir, request.since, request.databases)
        items += [i for i in extra if i.key not in seen]
        sources.append(f"results {request.from_dir}")
    items.sort(key=lambda i: i.when)
    now = request.now or datetime.now(UTC)
    counted = items if request.include_demo else [i for i in items if not i.demo]
    demo = [] if request.include_demo else [i for i in items if i.demo]
    databases = _summaries(counted, now)
    return SlaReport(
        generated_at=now,
        since=request.since,
        databases_filter=list(request.databases) if request.databases else None,
        sources=sources,
        headline=headline(databases, demo_runs=len(demo)),
        include_demo=request.include_demo,
        databases=databases,
        demo=_summaries(demo, now),
        breaches=[b for i in counted for b in breaches_of(i)],
        failures=[_failure(i) for i in counted if i.verdict != "PASS"],
        evidence=[evidence_of(i) for i in counted],
    )
