"""Terminal rendering of `incident find`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.drill.incident import IncidentReport


def incidents_table(report: IncidentReport, title: str = "biggest first") -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    ident = "GTID" if report.engine != "postgres" else "xid"
    for column in (ident, "committed at", "table", "inserted", "updated", "deleted"):
        table.add_column(column, justify="right" if column != "table" else "left")
    for incident in report.incidents:
        for n, change in enumerate(incident.tables):
            first = n == 0
            table.add_row(
                str(incident.xid if incident.xid is not None else incident.gtid) if first else "",
                incident.commit_time.isoformat() if first else "",
                Text(change.table, style="dim" if change.toast else ""),
                f"{change.inserted:,}",
                f"{change.updated:,}",
                f"{change.deleted:,}",
            )
    return table


def render_incidents(console: Console, report: IncidentReport) -> None:
    window = ""
    if report.since or report.until:
        since = report.since.isoformat() if report.since else "…"
        until = report.until.isoformat() if report.until else "…"
        window = f", committed {since} to {until}"
    console.print(
        f"{'WAL' if report.engine == 'postgres' else 'binlogs'} {report.first_segment} … "
        f"{report.last_segment} ({report.segments_scanned} files{window}): "
        f"{report.transactions} committed "
        f"transaction(s) changed rows",
        markup=False,
    )
    if not report.incidents:
        console.print("no committed transaction changed rows here", markup=False)
    else:
        console.print(incidents_table(report))
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    if report.recover_command is not None:
        biggest = report.incidents[0]
        what = f"xid {biggest.xid}" if biggest.xid is not None else f"GTID {biggest.gtid}"
        console.print(f"to put back what {what} did ({biggest.rows:,} rows):", markup=False)
        console.print(f"  {report.recover_command}", markup=False)
