"""The SLA report's tables as plain strings, shared by the Markdown and HTML renderers so
both say the same thing in the same words: per database, per kind of drill, demo runs."""

from __future__ import annotations

from datetime import datetime

from restoredrill.durations import format_age
from restoredrill.durations import format_duration as fd
from restoredrill.report.sla import DatabaseSummary, SlaReport

Rows = tuple[list[str], list[list[str]]]
RTO_STATUS = {"met": "met", "breached": "breached", "no objective": "no objective set"}


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M %Z") if value is not None else "never"


def _since(report: SlaReport, value: datetime | None) -> str:
    if value is None:
        return "never"
    return format_age((report.generated_at - value).total_seconds())


def database_rows(report: SlaReport, summaries: list[DatabaseSummary] | None = None) -> Rows:
    header = [
        "database",
        "RTO",
        "drills",
        "pass rate",
        "verified, over an objective",
        "SLA breaches",
        "RPO last / max",
        "RPO objective",
        "last success",
    ]
    rows = [
        [
            s.database,
            RTO_STATUS[s.rto_status],
            str(s.drills),
            pct(s.pass_rate),
            str(s.verified - s.passed),
            str(s.rto_breaches + s.rpo_breaches),
            f"{fd(s.rpo_last_seconds)} / {fd(s.rpo_max_seconds)}",
            fd(s.rpo_objective_seconds),
            _since(report, s.last_success_at),
        ]
        for s in (report.databases if summaries is None else summaries)
    ]
    return header, rows


def kind_rows(report: SlaReport) -> Rows:
    header = [
        "database",
        "kind of drill",
        "drills",
        "pass rate",
        "restore p50",
        "restore p95",
        "restore max",
        "RTO objective",
        "RTO breaches",
        "last success",
    ]
    rows = [
        [
            s.database,
            k.kind,
            str(k.drills),
            pct(k.pass_rate),
            fd(k.restore_p50_seconds),
            fd(k.restore_p95_seconds),
            fd(k.restore_max_seconds),
            fd(k.rto_objective_seconds),
            str(k.rto_breaches),
            _since(report, k.last_success_at),
        ]
        for s in report.databases
        for k in s.kinds
    ]
    return header, rows


def demo_rows(report: SlaReport) -> Rows:
    header = ["database", "drills", "verified", "last run"]
    rows = [
        [s.database, str(s.drills), str(s.verified), _since(report, s.last_drill_at)]
        for s in report.demo
    ]
    return header, rows


DEMO_NOTE = (
    "Runs recorded by `restoredrill demo`, not counted in the figures above "
    "(`restoredrill report --include-demo` counts them)."
)
