"""Terminal rendering (rich) of plans, restore results, history and sandboxes, plus the
progress listener the CLI hands to library calls."""

from __future__ import annotations

import humanize
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.status import Status
from rich.table import Table
from rich.text import Text

from restoredrill.durations import format_duration
from restoredrill.lsn import format_lsn
from restoredrill.models import (
    CheckStatus,
    LedgerEntry,
    PhaseTiming,
    RestorePlan,
    RestoreResult,
)
from restoredrill.report.terminal_layout import fits
from restoredrill.sandboxes.labels import SandboxState

BASE_CHECKS = {
    "manifest": "against backup_manifest (pg_verifybackup)",
    "pgbackrest": "by pgBackRest (file checksums)",
    "dump-footer": "dump complete (footer present)",
    "mariabackup": "by mariabackup --prepare",
    "none": "[yellow]not checked[/yellow]",
}
_CHECK_STYLE = {CheckStatus.OK: "green", CheckStatus.WARNING: "yellow", CheckStatus.FAILED: "red"}


def duration(seconds: float | None) -> str:
    """Every duration the terminal shows, in the one style of durations.format_duration."""
    return format_duration(seconds)


def size(num_bytes: int | None) -> str:
    return "-" if num_bytes is None else humanize.naturalsize(num_bytes, binary=True)


def phase_line(timing: PhaseTiming) -> str:
    text = f"{timing.name:<24} {duration(timing.seconds):>12}"
    if timing.bytes is not None:
        text += f"  {size(timing.bytes)}"
        if timing.rate_mib_s is not None and timing.seconds >= 0.001:
            text += f" ({timing.rate_mib_s:,.1f} MiB/s)"
    if timing.detail:
        text += f"  [dim]{timing.detail}[/dim]"
    return text


class RichProgress:
    """Shows the running phase as a spinner, or as a bar with bytes done / total and the
    time left once the phase reports progress; prints each finished phase (on stderr)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def phase_started(self, name: str) -> None:
        self._stop()
        self._status = self.console.status(f"{name} …")
        self._status.start()

    def phase_progress(self, name: str, done: int, total: int | None) -> None:
        if self._bar is None:
            self._stop()
            self._bar = Progress(
                TextColumn("  {task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._bar.add_task(name, total=total)
            self._bar.start()
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=total)

    def phase_finished(self, timing: PhaseTiming) -> None:
        self._stop()
        self.console.print(f"  [green]✓[/green] {phase_line(timing)}")

    def note(self, message: str) -> None:
        self.console.print(message)

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None


def render_plan(console: Console, plan: RestorePlan) -> None:
    console.print(f"[bold]Restore plan[/bold] — target {plan.target.describe()}")
    console.print(f"  source:       {plan.source}")
    if plan.base_backup:
        backup = plan.base_backup
        console.print(
            f"  base backup:  {backup.path} ({backup.format}, {backup.compression}, "
            f"{size(backup.size_bytes)}), ends {format_lsn(backup.end_lsn)}"
            f" at {backup.stop_time.isoformat() if backup.stop_time else 'unknown time'}"
        )
    if plan.wal_range:
        wal = plan.wal_range
        console.print(
            f"  WAL needed:   {wal.first} … {wal.last} ({wal.segments} segment(s), "
            f"{size(wal.bytes)}, timeline(s) {', '.join(map(str, wal.timelines))})"
        )
    if plan.snapshot is not None:  # MariaDB/MySQL
        snap = plan.snapshot
        at = f"{snap.binlog_file}:{snap.binlog_pos}" if snap.binlog_file else "no coordinates"
        when = f", last transaction {snap.time.isoformat()}" if snap.time else ""
        console.print(
            f"  snapshot:     {snap.path} ({snap.kind}, {size(snap.size_bytes)}), at {at}{when}"
        )
    if plan.binlog_range is not None:
        rng = plan.binlog_range
        stop = f":{rng.stop_position}" if rng.stop_position is not None else " (to its end)"
        console.print(
            f"  binlogs:      {rng.first}:{rng.start_position} … {rng.last}{stop} "
            f"({rng.files} file(s), {size(rng.bytes)}, {rng.transactions} transaction(s))"
        )
    if plan.archive_head_position is not None:
        head_time = plan.archive_head_time.isoformat() if plan.archive_head_time else "unknown"
        console.print(f"  archive head: {plan.archive_head_position} (last commit {head_time})")
    if plan.archive_head_lsn is not None:
        head_time = plan.archive_head_time.isoformat() if plan.archive_head_time else "unknown"
        console.print(
            f"  archive head: {format_lsn(plan.archive_head_lsn)} (last commit {head_time})"
        )
    if plan.expected_last_commit_time:
        console.print(f"  expected last transaction: {plan.expected_last_commit_time.isoformat()}")
    table = Table(title="Preflight", title_justify="left", show_edge=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for check in plan.checks:
        style = _CHECK_STYLE[check.status]
        table.add_row(check.name, f"[{style}]{check.status.value}[/{style}]", check.detail)
    console.print(table)
    verdict = "[green]ready to restore[/green]" if plan.ok else "[red]cannot restore[/red]"
    console.print(f"Plan: {verdict}")


def render_restore(console: Console, result: RestoreResult) -> None:
    table = Table(title="Restore timing", title_justify="left", show_edge=False)
    for column in ("phase", "time", "bytes", "rate"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in result.phases:
        rate = f"{phase.rate_mib_s:,.1f} MiB/s" if phase.rate_mib_s is not None else "-"
        table.add_row(phase.name, duration(phase.seconds), size(phase.bytes), rate)
    console.print(table)
    console.print(f"RTO (provision → ready): [bold]{duration(result.rto_seconds)}[/bold]")
    last = result.last_replayed_xact_time
    console.print(f"Last replayed transaction: {last.isoformat() if last else 'none replayed'}")
    if result.recovered_to_lsn is not None:
        console.print(f"Recovered to LSN: {format_lsn(result.recovered_to_lsn)}")
    if result.recovered_to_position is not None:
        console.print(f"Recovered to binlog position: {result.recovered_to_position}")
    if result.rpo_seconds is not None:
        console.print(
            "RPO (target minus last replayed transaction): "
            f"[bold]{duration(result.rpo_seconds)}[/bold]"
        )
    console.print(f"Base backup checked: {BASE_CHECKS.get(result.base_check, result.base_check)}")
    for warning in result.warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}", highlight=False)
    if result.kept and result.dsn:
        console.print(f"Sandbox kept: [bold]{result.dsn}[/bold]")
        console.print(f"  remove it with: restoredrill sandbox gc --all  (id {result.sandbox_id})")


def render_history(console: Console, entries: list[LedgerEntry]) -> None:
    """A table when it fits the console; otherwise two lines per entry (what and when, then
    database → target), so dates and names are never cut at 80 columns."""
    if not entries:
        console.print("No drills recorded yet.")
        return
    table = Table(show_edge=False)
    for column in ("id", "when", "kind", "database", "target", "verdict", "RTO", "RPO"):
        table.add_column(column, no_wrap=True)
    for e in entries:
        table.add_row(
            str(e.id),
            e.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.database,
            e.target,
            e.verdict,
            duration(e.rto_seconds),
            duration(e.rpo_seconds),
        )
    if fits(console, table):
        console.print(table)
        return
    for e in entries:
        head = Text(f"#{e.id} ", style="bold")
        head.append(f"{e.started_at:%Y-%m-%d %H:%M:%S} {e.kind} ")
        head.append(e.verdict, style=_VERDICT_STYLE.get(e.verdict, "magenta"))
        head.append(f"  RTO {duration(e.rto_seconds)} · RPO {duration(e.rpo_seconds)}")
        console.print(head, soft_wrap=False)
        console.print(Text(f"    {e.database} → {e.target}"), soft_wrap=False)


_VERDICT_STYLE = {"PASS": "green", "RESTORED": "green", "FAIL": "red", "UNVERIFIED": "yellow"}


def render_sandboxes(console: Console, states: list[SandboxState], title: str) -> None:
    """A table when it fits; otherwise two lines per sandbox (what it is, then its path)."""
    if not states:
        console.print(f"{title}: none")
        return
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in ("id", "engine", "purpose", "port", "created", "owner", "server", "path"):
        table.add_column(column, no_wrap=True)
    rows = []
    for s in states:
        owner = "running" if s.owner_alive else ("kept" if s.label.keep else "gone")
        rows.append(
            (
                s.label.id,
                s.label.engine,
                s.label.purpose,
                str(s.label.port or "-"),
                s.label.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                owner,
                f"pid {s.server_pid}" if s.server_pid else "stopped",
                s.path,
            )
        )
        table.add_row(*rows[-1])
    if fits(console, table):
        console.print(table)
        return
    console.print(Text(title, style="italic"), soft_wrap=False)
    for ident, engine, purpose, port, created, owner, server, path in rows:
        head = Text(ident, style="bold")
        head.append(f"  created {created}")
        console.print(head, soft_wrap=False)
        what = f"    {engine} {purpose}, port {port}, owner {owner}, {server}"
        console.print(Text(what), soft_wrap=False)
        console.print(Text(f"    {path}"), soft_wrap=False)
