"""Terminal rendering of `incident find`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.drill.incident import IncidentReport
from restoredrill.report.terminal_layout import fits


def incidents_table(report: IncidentReport, title: str = "biggest first") -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    ident = "GTID" if report.engine != "postgres" else "xid"
    for column in (ident, "committed at", "table", "inserted", "updated", "deleted"):
        table.add_column(column, justify="right" if column != "table" else "left", no_wrap=True)
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


def incidents_list(report: IncidentReport, title: str = "biggest first") -> list[Text]:
    """The narrow form of incidents_table: one line per transaction with its exact commit
    time, then one per table with the counts that are not zero."""
    lines = [Text(title, style="italic")] if title else []
    ident = "GTID" if report.engine != "postgres" else "xid"
    for incident in report.incidents:
        which = incident.xid if incident.xid is not None else incident.gtid
        head = Text(f"{ident} {which}", style="bold")
        head.append(f"  committed {incident.commit_time.isoformat()}")
        lines.append(head)
        for change in incident.tables:
            counts = [
                f"{n:,} {what}"
                for n, what in (
                    (change.inserted, "inserted"),
                    (change.updated, "updated"),
                    (change.deleted, "deleted"),
                )
                if n
            ]
            line = Text(f"    {change.table}", style="dim" if change.toast else "")
            line.append(f": {', '.join(counts) or 'no rows'}")
            lines.append(line)
    return lines


def print_incidents(console: Console, report: IncidentReport, title: str = "biggest first") -> None:
    """The table when it fits the console, else the list: no commit time cut short."""
    table = incidents_table(report, title)
    if fits(console, table):
        console.print(table)
        return
    for line in incidents_list(report, title):
        console.print(line, soft_wrap=False)


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
        print_incidents(console, report)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    if report.recover_command is not None:
        biggest = report.incidents[0]
        what = f"xid {biggest.xid}" if biggest.xid is not None else f"GTID {biggest.gtid}"
        console.print(f"to put back what {what} did ({biggest.rows:,} rows):", markup=False)
        console.print(f"  {report.recover_command}", markup=False)
