"""Rich rendering of the SLA report summary (the full evidence is in --format md/html/json)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from restoredrill.drill.report import SlaReport
from restoredrill.durations import format_duration as fd


def render_report(console: Console, report: SlaReport) -> None:
    table = Table(title="Restore drills per database", title_justify="left", show_edge=False)
    for column in (
        "database",
        "drills",
        "pass",
        "p50",
        "p95",
        "max",
        "RTO obj.",
        "RPO last",
        "RPO obj.",
        "breaches",
        "last success",
    ):
        table.add_column(column)
    for s in report.databases:
        table.add_row(
            s.database,
            str(s.drills),
            "-" if s.pass_rate is None else f"{s.pass_rate * 100:.0f}%",
            fd(s.restore_p50_seconds),
            fd(s.restore_p95_seconds),
            fd(s.restore_max_seconds),
            fd(s.rto_objective_seconds),
            fd(s.rpo_last_seconds),
            fd(s.rpo_objective_seconds),
            str(s.rto_breaches + s.rpo_breaches),
            s.last_success_at.strftime("%Y-%m-%d %H:%M") if s.last_success_at else "never",
        )
    console.print(table if report.databases else "No drills recorded in this window.")
    for breach in report.breaches:
        console.print(
            f"[red]SLA breach[/red] {breach.when:%Y-%m-%d %H:%M} {breach.database}: "
            f"{breach.objective.upper()} {fd(breach.measured_seconds)} > "
            f"{fd(breach.objective_seconds)}"
        )
    for failure in report.failures:
        console.print(
            f"[magenta]failure[/magenta] {failure.when:%Y-%m-%d %H:%M} {failure.database}: "
            f"{failure.verdict} {'; '.join(failure.reasons)}",
            highlight=False,
        )
