"""Terminal rendering of `incident find`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.drill.incident import IncidentReport
from restoredrill.drill.incident_models import StorageIncident
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


def _what(found: StorageIncident) -> str:
    named = ", ".join(found.tables)
    files = f"{found.files_dropped} relation file(s)"
    if found.kind == "drop database":
        return f"DROP DATABASE: {named}" + (" (its name is not in WAL)" if found.xid else "")
    if found.kind == "drop":
        if named:
            return f"DROP TABLE: {named}"
        return f"DROP TABLE: {files} removed (the table's name is not in WAL)"
    if found.kind == "truncate":
        if named:
            return f"TRUNCATE: {named} emptied"
        return f"TRUNCATE: {files} removed, the table left empty (--dsn names it)"
    rewritten = "rewritten (VACUUM FULL, CLUSTER, ALTER TABLE, or a table replaced)"
    return f"{rewritten}: {named}" if named else rewritten


def storage_lines(report: IncidentReport) -> list[tuple[Text, bool]]:
    """The transactions that dropped or emptied whole tables: first, and apart from the row
    counts (they have none, and would never rank there). Each line with whether it is a
    command (printed on one line, however long: newlines would paste as several commands)."""
    if not report.storage:
        return []
    title = Text("whole tables dropped or emptied (no row counts for these)", style="bold red")
    lines = [(title, False)]
    for found in report.storage:
        head = Text(f"xid {found.xid}" if found.xid is not None else f"GTID {found.gtid}")
        head.stylize("bold")
        head.append(f"  committed {found.commit_time.isoformat()}")
        what = Text(f"    {_what(found)}", style="dim" if found.kind == "rewrite" else "")
        lines += [(head, False), (what, False)]
        if found.command is not None:
            back = found.kind == "truncate" and found.tables
            how = "put its rows back" if back else "restore a copy from just before it"
            lines.append((Text(f"    to {how}: {found.command}"), True))
    return lines


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
        f"transaction(s) changed rows"
        + (f"; {len(report.storage)} dropped or emptied tables" if report.storage else ""),
        markup=False,
    )
    for line, command in storage_lines(report):
        console.print(line, soft_wrap=command)
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
        # one line however long (the terminal folds it): a command cut by newlines pastes
        # as several commands
        console.print(f"  {report.recover_command}", markup=False, soft_wrap=True)
