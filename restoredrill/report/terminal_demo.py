"""Terminal rendering of the demo's story."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from restoredrill.drill.demo import DemoResult
from restoredrill.report.terminal import duration, render_restore
from restoredrill.report.terminal_verify import render_verify_report


def render_demo(console: Console, result: DemoResult) -> None:
    console.rule("[bold]restoredrill demo[/bold]")
    console.print(f"Production (throwaway, WAL archiving on): {result.production}")
    console.print(f"The cleanup job was meant to run:  {result.incident_intent}")
    console.print(f"What it actually ran:               [red]{result.incident_sql}[/red]")
    console.print(f"Incident at {result.incident_time.isoformat()}; traffic went on afterwards.")
    console.print()
    console.rule("Restore to just before the incident")
    render_restore(console, result.restore)
    console.print()
    console.rule(f"Verify against the manifest taken at restore point {result.restore_point!r}")
    render_verify_report(result.verify, console)
    console.print()
    console.rule("What the incident cost (restored vs production now, rows created before it)")
    table = Table(show_edge=False)
    for column in ("table", "rows before", "rows now", "rows lost"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for loss in result.incident_cost:
        style = "red" if loss.rows_lost else "green"
        table.add_row(
            loss.table,
            f"{loss.rows_before:,}",
            f"{loss.rows_now:,}",
            f"[{style}]{loss.rows_lost:,}[/{style}]",
        )
    console.print(table)
    console.print()
    console.print(
        f"Drill recorded in the ledger (id {result.ledger_id}); the whole demo took "
        f"{duration(result.drill_seconds)}. Everything it started has been removed."
    )
    console.print("[bold]Next:[/bold]")
    for step in result.next_steps:
        console.print(f"  {step}")
