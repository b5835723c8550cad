"""Rich rendering of verify reports and manifests for the terminal."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.durations import format_duration
from restoredrill.lsn import format_lsn
from restoredrill.models import Manifest, PhaseTiming, TableCheck, VerifyReport, VerifyStatus
from restoredrill.report.terminal_layout import fits, natural_width

STATUS_STYLES: dict[VerifyStatus, str] = {
    VerifyStatus.PASS: "bold green",
    VerifyStatus.FAIL: "bold red",
    VerifyStatus.ERROR: "bold magenta",
    VerifyStatus.INCONCLUSIVE: "bold yellow",
}


def status_text(status: VerifyStatus) -> Text:
    return Text(str(status), style=STATUS_STYLES[status])


def _rows(check: TableCheck, side: str) -> str:
    fingerprint = check.restored if side == "restored" else check.reference
    return "-" if fingerprint is None else f"{fingerprint.rows:,}"


def _checksum(check: TableCheck) -> Text:
    if check.restored is None or check.reference is None:
        return Text("-", style="dim")
    if check.restored.checksum == check.reference.checksum:
        return Text("match", style="green")
    return Text("differs", style="red")


def _note(check: TableCheck) -> str:
    parts = [p for p in (check.predicate, check.detail) if p]
    return "; ".join(parts)


DETAIL_MIN = 40


def _verify_table(report: VerifyReport, details: bool) -> Table:
    table = Table(title=f"verify against {report.reference}", title_justify="left")
    table.add_column("table", no_wrap=True, min_width=12)
    table.add_column("status", no_wrap=True)
    table.add_column("restored", justify="right", no_wrap=True)
    table.add_column("reference", justify="right", no_wrap=True)
    table.add_column("checksum", no_wrap=True)
    if details:
        table.add_column("predicate / detail", overflow="fold")
    for check in report.tables:
        row = [
            Text(check.table),
            status_text(check.status),
            Text(_rows(check, "restored")),
            Text(_rows(check, "reference")),
            _checksum(check),
        ]
        table.add_row(*row, *([Text(_note(check))] if details else []))
    return table


def render_verify_report(report: VerifyReport, console: Console) -> None:
    """Row counts per table; the predicates and details in their own column when the whole
    table fits the console, else stacked under it (one paragraph per table, wrapped between
    words), so table names and figures are never folded at 80 columns."""
    table = _verify_table(report, details=True)
    compact = _verify_table(report, details=False)
    # the detail column is free text: worth a column when it gets DETAIL_MIN columns or more
    stacked = not fits(console, table) and (
        natural_width(console, compact) + DETAIL_MIN > console.width
    )
    console.print(compact if stacked else table)
    if stacked:
        for check in report.tables:
            note = _note(check)
            if note:
                line = Text(f"{check.table}: ", style="bold")
                line.append(note)
                console.print(line, soft_wrap=False)
    summary = Text("verdict: ")
    summary.append_text(status_text(report.status))
    counts = {s: sum(1 for c in report.tables if c.status == s) for s in VerifyStatus}
    detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    summary.append(f"  ({detail}; {format_duration(report.seconds)}")
    if report.as_of is not None:
        summary.append(f"; as of {report.as_of.isoformat()}")
    summary.append(")")
    console.print(summary, soft_wrap=False)


def render_manifest(manifest: Manifest, path: Path | None, console: Console) -> None:
    table = Table(
        title=f"manifest of {manifest.database}" + (f" → {path}" if path else ""),
        title_justify="left",
    )
    table.add_column("table", no_wrap=True, min_width=12)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("checksum", overflow="fold")
    for name, fingerprint in manifest.tables.items():
        table.add_row(Text(name), f"{fingerprint.rows:,}", fingerprint.checksum)
    console.print(table)
    snapshot = manifest.snapshot_lsn
    line = f"snapshot at {'-' if snapshot is None else format_lsn(snapshot)}"
    if manifest.restore_point is not None:
        lsn = manifest.restore_point_lsn
        point = "-" if lsn is None else format_lsn(lsn)
        line += f"; restore point {manifest.restore_point!r} at {point}"
    console.print(Text(line))


class ConsoleProgress:
    """A ProgressListener that prints short lines to a (stderr) console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def phase_started(self, name: str) -> None:
        self.console.print(Text(f"{name} …", style="dim"))

    def phase_finished(self, timing: PhaseTiming) -> None:
        detail = f" ({timing.detail})" if timing.detail else ""
        done = f"{timing.name} done in {format_duration(timing.seconds)}{detail}"
        self.console.print(Text(done, "dim"))

    def note(self, message: str) -> None:
        self.console.print(Text(f"  {message}", style="dim"))
