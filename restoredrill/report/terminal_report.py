"""Rich rendering of the SLA report summary (the full evidence is in --format md/html/json).

Readable at 80 columns: a headline, then per database one line (its RTO status, last
success, pass rate) and a small table of its kinds of drill; identifiers never wrap or get
cut (the table holds figures only). Wider consoles get the max and RPO columns too."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.durations import format_age
from restoredrill.durations import format_duration as fd
from restoredrill.report.sla import DatabaseSummary, SlaReport

WIDE = 110  # from this width on, the kind tables carry max, RPO and last success too
_STATUS = {"met": ("RTO met", "green"), "breached": ("RTO breached", "bold red")}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _heading(summary: DatabaseSummary) -> list[Text]:
    label, style = _STATUS.get(summary.rto_status, ("no RTO objective", "yellow"))
    name = Text(summary.database, style="bold")
    name.append("  ")
    name.append(label, style=style)
    age = None if summary.days_since_success is None else summary.days_since_success * 86400
    facts = Text(
        f"  last success {format_age(age)} · {summary.passed} of {_drills(summary.drills)} "
        f"passed ({_pct(summary.pass_rate)}"
    )
    if summary.verified > summary.passed:
        facts.append(f"; {summary.verified - summary.passed} verified but over an objective")
    facts.append(")")
    return [name, facts]


def _kinds(summary: DatabaseSummary, wide: bool) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
    table.add_column("  kind", no_wrap=True, min_width=12)
    for name in ("drills", "pass", "p50", "p95"):
        table.add_column(name, justify="right", no_wrap=True)
    if wide:
        table.add_column("max", justify="right", no_wrap=True)
    table.add_column("RTO", justify="right", no_wrap=True)
    table.add_column("breaches", justify="right", no_wrap=True)
    if wide:
        for name in ("RPO last", "RPO obj.", "last success"):
            table.add_column(name, justify="right", no_wrap=True)
    for k in summary.kinds:
        breaches = k.rto_breaches + k.rpo_breaches
        row: list[str | Text] = [
            f"  {k.kind}",
            str(k.drills),
            _pct(k.pass_rate),
            fd(k.restore_p50_seconds),
            fd(k.restore_p95_seconds),
        ]
        if wide:
            row.append(fd(k.restore_max_seconds))
        row += [
            fd(k.rto_objective_seconds),
            Text(str(breaches), style="red" if breaches else ""),
        ]
        if wide:
            row += [
                fd(summary.rpo_last_seconds),
                fd(summary.rpo_objective_seconds),
                k.last_success_at.strftime("%Y-%m-%d %H:%M") if k.last_success_at else "never",
            ]
        table.add_row(*row)
    return table


def _problems(report: SlaReport, database: str) -> list[Text]:
    """The database's SLA breaches and failures, one short line each (reasons on their own
    indented lines, so nothing wraps inside a duration or a date)."""
    lines = []
    for breach in (b for b in report.breaches if b.database == database):
        line = Text("  SLA breach ", style="red")
        line.append(
            f"{breach.when:%Y-%m-%d %H:%M} {breach.kind or '-'}: {breach.objective.upper()} "
            f"{fd(breach.measured_seconds)} > {fd(breach.objective_seconds)}"
        )
        lines.append(line)
    for failure in (f for f in report.failures if f.database == database):
        line = Text("  failure ", style="magenta")
        line.append(f"{failure.when:%Y-%m-%d %H:%M} {failure.kind or '-'}: {failure.verdict}")
        lines.append(line)
        lines += [Text(f"    {reason}") for reason in failure.reasons]
    return lines


def render_report(console: Console, report: SlaReport) -> None:
    # soft_wrap off: rich wraps long lines between words, never inside a value
    console.print(Text(report.headline, style="bold"), soft_wrap=False)
    wide = console.width >= WIDE
    for summary in report.databases:
        console.print()
        for line in _heading(summary):
            console.print(line, soft_wrap=False)
        console.print(_kinds(summary, wide))
        for line in _problems(report, summary.database):
            console.print(line, soft_wrap=False)
    if report.demo:
        console.print()
        console.print(
            Text("Demo runs (not counted above; --include-demo counts them):"), soft_wrap=False
        )
        for summary in report.demo:
            console.print(
                Text(
                    f"  {summary.database}: {_drills(summary.drills)}, {summary.verified} "
                    f"verified, last {format_age(_age(report, summary))}"
                ),
                soft_wrap=False,
            )


def _age(report: SlaReport, summary: DatabaseSummary) -> float | None:
    if summary.last_drill_at is None:
        return None
    return (report.generated_at - summary.last_drill_at).total_seconds()


def _drills(n: int) -> str:
    return "1 drill" if n == 1 else f"{n} drills"
