"""Rich rendering of drill results (one playbook or a fleet of them)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from restoredrill.drill.result import DrillResult, FleetResult
from restoredrill.durations import format_duration as fd

STYLE = {
    "PASS": "bold green",
    "UNVERIFIED": "bold yellow",
    "FAIL": "bold red",
    "ERROR": "bold magenta",
}
SLA_STYLE = {"MET": "green", "BREACHED": "bold red", "UNMEASURED": "dim"}


def render_drill(console: Console, result: DrillResult) -> None:
    style = STYLE[result.verdict]
    console.print(
        f"[bold]Drill {result.playbook}[/bold]: [{style}]{result.verdict}[/{style}], "
        f"SLA [{SLA_STYLE[result.sla]}]{result.sla}[/{SLA_STYLE[result.sla]}] "
        f"in {fd(result.seconds)}"
    )
    console.print(f"  source {result.source}; target {result.target or '-'}")
    if result.restore is not None:
        backup = result.restore.plan.base_backup
        console.print(
            f"  restored from {backup.path if backup else '?'} in {fd(result.restore.rto_seconds)}"
        )
        for warning in result.restore.warnings:
            console.print(f"  [yellow]warning[/yellow]: {warning}", highlight=False)
    if result.checks is not None:
        console.print(
            f"  config checks: {len(result.checks.checks)} run, "
            f"{len(result.checks.failures)} failed"
        )
    table = Table(show_edge=False, title_justify="left")
    for column in ("database", "verdict", "verify", "tables", "ledger"):
        table.add_column(column)
    for outcome in result.databases:
        verify = outcome.verify
        table.add_row(
            outcome.label,
            f"[{STYLE[outcome.verdict]}]{outcome.verdict}[/{STYLE[outcome.verdict]}]",
            str(verify.status) if verify else "-",
            str(len(verify.tables)) if verify else "-",
            f"#{outcome.ledger_id}" if outcome.ledger_id else "-",
        )
    if result.databases:
        console.print(table)
    for outcome in result.databases:
        held = sum(1 for a in outcome.assertions if a.status == "PASS")
        if outcome.assertions:
            console.print(f"  assertions on {outcome.label}: {held}/{len(outcome.assertions)} held")
    if result.gameday is not None:
        g = result.gameday
        console.print(
            f"  game day [red]{g.sql}[/red]: {g.rows_affected} rows hit; {g.rows_recovered} "
            f"recovered ({g.recovery}) after {fd(g.recovered_seconds)}, verified after "
            f"{fd(g.verified_seconds)}: {g.verdict}",
            markup=True,
        )
    if result.recover is not None:
        counts = [
            f"{t.table} {t.counts.lost} lost/{t.counts.changed} changed"
            for t in result.recover.tables
        ]
        console.print(f"  incident recovery (dry run): {', '.join(counts)}")
    for objective in result.objectives:
        mark = {"met": "green", "breached": "bold red", "unmeasured": "dim"}[objective.status]
        console.print(
            f"  {objective.name.upper()} {fd(objective.measured_seconds)} / objective "
            f"{fd(objective.objective_seconds)}: [{mark}]{objective.status}[/{mark}] "
            f"[dim]({objective.measured})[/dim]"
        )
    for failure in result.failures:
        console.print(f"  [red]failure[/red]: {failure}", markup=True, highlight=False)
    if result.error and result.error not in result.failures:
        console.print(f"  [magenta]error[/magenta]: {result.error}")
    for path in result.outputs:
        console.print(f"  wrote {path}")
    for note in result.notifications:
        console.print(f"  {note}")


def render_fleet(console: Console, fleet: FleetResult) -> None:
    for result in fleet.drills:
        render_drill(console, result)
    if len(fleet.drills) > 1:
        passed = sum(1 for r in fleet.drills if r.verdict == "PASS")
        console.print(
            f"[bold]{passed}/{len(fleet.drills)} drills passed[/bold] "
            f"({fleet.parallel} at a time, {fd(fleet.seconds)})"
        )
