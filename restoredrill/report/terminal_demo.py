"""Terminal rendering of the demo's story."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.demo.postgres import DemoResult, RepairCheck
from restoredrill.report.terminal import duration, render_restore
from restoredrill.report.terminal_diff import render_reapply, render_summary
from restoredrill.report.terminal_incident import print_incidents
from restoredrill.report.terminal_verify import render_verify_report


def render_demo(console: Console, result: DemoResult) -> None:
    console.rule("[bold]restoredrill demo[/bold]")
    logging = "WAL archiving" if result.engine == "postgres" else "binary logging"
    console.print(f"Production (throwaway, {logging} on): {result.production}")
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
    console.rule("What the incident cost (restored vs production, rows created before it)")
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
    _render_found(console, result)
    _render_incident(console, result)
    console.print(
        f"Drill recorded in the ledger (id {result.ledger_id}); the whole demo took "
        f"{duration(result.drill_seconds)}. Everything it started has been removed."
    )
    console.print("[bold]Next:[/bold]")
    for step in result.next_steps:
        console.print(f"  {step}")


def _which(result: DemoResult) -> tuple[str, str]:
    """How the biggest found transaction is named, and the recover option that takes it."""
    assert result.found is not None and result.found.incidents
    biggest = result.found.incidents[0]
    if biggest.xid is not None:
        return f"xid {biggest.xid}", f"--incident-xid {biggest.xid}"
    return f"GTID {biggest.gtid}", f"--incident-gtid {biggest.gtid}"


def _render_found(console: Console, result: DemoResult) -> None:
    """The incident as `incident find` sees it in the archive, no restore needed."""
    if result.found is None or not result.found.incidents:
        return
    archive = "WAL" if result.found.engine == "postgres" else "binlog"
    console.rule(f"Found in the {archive} archive: the transactions changing most rows")
    print_incidents(console, result.found, title="")
    biggest = result.found.incidents[0]
    name, option = _which(result)
    console.print(
        Text(
            f"The biggest, {name} ({biggest.rows:,} rows, committed "
            f"{biggest.commit_time.isoformat()}), is the incident: `restoredrill incident "
            f"find` finds it, `recover {option}` puts back what it did."
        )
    )
    console.print()


def _render_incident(console: Console, result: DemoResult) -> None:
    """The rows the incident destroyed, the reapply dry run, and (--repair) the repair."""
    if result.incident_diff is None or result.reapply is None:
        return
    after = result.incident_after_time.isoformat() if result.incident_after_time else "?"
    if result.found is not None and result.found.incidents:
        after = f"{_which(result)[0]}, inclusive"
    console.rule(f"Exactly what the incident did: restore before vs at {after}")
    for summary in result.incident_diff:
        columns = [*summary.key]
        if summary.lost_sample:
            columns += [c for c in summary.lost_sample[0] if c not in summary.key]
        render_summary(console, summary, columns)
    console.print()
    console.rule("Reapply the lost rows to production: dry run")
    render_reapply(console, result.reapply, samples=False)
    if result.sql_excerpt:
        console.print(Text("SQL script (excerpt; the file is removed with the demo):"))
        for line in result.sql_excerpt:
            console.print(Text(f"  {line}", style="dim"))
    console.print()
    if result.repair is None:
        console.print("Run [bold]restoredrill demo --repair[/bold] to carry it through.")
        console.print()
        return
    console.rule("Repair: reapply --execute")
    render_reapply(console, result.repair, samples=False)
    if result.repair_again is not None:
        again = result.repair_again
        console.print(
            Text(
                f"Second run: {again.inserted} inserted, {again.updated} updated "
                f"({again.already:,} already in place): idempotent."
            )
        )
    if result.repair_check:
        _render_repair_check(console, result.repair_check)
    verdict = "[green]repaired[/green]" if result.repair_ok else "[red]repair check failed[/red]"
    console.print(f"Production after the repair: {verdict}")
    console.print()


def _render_repair_check(console: Console, checks: list[RepairCheck]) -> None:
    table = Table(
        title="Production after the repair (created before the incident / since)",
        title_justify="left",
        show_edge=False,
    )
    for column in ("table", "before incident", "now", "verify", "since: before", "since: after"):
        table.add_column(column, justify="left" if column in ("table", "verify") else "right")
    for check in checks:
        style = "green" if check.ok else "red"
        table.add_row(
            check.table,
            f"{check.rows_before_incident:,}",
            f"[{style}]{check.rows_now:,}[/{style}]",
            f"[{style}]{check.status}[/{style}]",
            f"{check.rows_since_before_repair:,}",
            f"{check.rows_since_after_repair:,}",
        )
    console.print(table)
