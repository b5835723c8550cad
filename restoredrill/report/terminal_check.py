"""Rich rendering of backup-configuration checks."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.checks.registry import CheckReport
from restoredrill.models import CheckStatus

STYLE = {CheckStatus.OK: "green", CheckStatus.WARNING: "yellow", CheckStatus.FAILED: "bold red"}


def render_checks(console: Console, report: CheckReport) -> None:
    table = Table(title="Backup configuration", title_justify="left", show_edge=False)
    table.add_column("rule")
    table.add_column("status")
    table.add_column("subject", overflow="fold")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        table.add_row(
            check.rule,
            Text(str(check.status), style=STYLE[check.status]),
            Text(check.subject),
            Text(check.detail),
        )
    console.print(table)
    failed = len(report.failures)
    verdict = Text(
        f"{failed} rule(s) failed" if failed else "configuration ok",
        style="bold red" if failed else "bold green",
    )
    console.print(verdict)
