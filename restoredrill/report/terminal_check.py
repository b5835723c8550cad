"""Rich rendering of backup-configuration checks."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.checks.registry import CheckReport
from restoredrill.models import CheckStatus

STYLE = {CheckStatus.OK: "green", CheckStatus.WARNING: "yellow", CheckStatus.FAILED: "bold red"}


def render_checks(console: Console, report: CheckReport) -> None:
    subjects = {check.subject for check in report.checks}
    # One subject (the usual live check) is named once in the title, not on every row.
    shared = len(subjects) == 1
    title = "Backup configuration" + (f" of {next(iter(subjects))}" if shared else "")
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("status", no_wrap=True)
    if not shared:
        table.add_column("subject", overflow="fold")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        cells: list[str | Text] = [check.rule, Text(str(check.status), style=STYLE[check.status])]
        if not shared:
            cells.append(Text(check.subject))
        table.add_row(*cells, Text(check.detail))
    console.print(table)
    failed = len(report.failures)
    verdict = Text(
        f"{failed} rule(s) failed" if failed else "configuration ok",
        style="bold red" if failed else "bold green",
    )
    console.print(verdict)
