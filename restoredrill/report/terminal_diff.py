"""Terminal rendering (rich) and CSV output of diffs, reapply reports and recover results."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from restoredrill.drill.diff import verdict as diff_verdict
from restoredrill.models import (
    ChangedRow,
    DiffDocument,
    ReapplyReport,
    RowDiff,
    RowDiffSummary,
    RowValues,
)
from restoredrill.report.terminal import duration
from restoredrill.report.terminal_layout import fits

if TYPE_CHECKING:  # the type only: recover's imports (restore, sources) are not reapply's
    from restoredrill.drill.recover import RecoverResult

SAMPLE = 10
_WIDTH = 40


def _cell(value: str | None, limit: int | None = _WIDTH) -> Text:
    if value is None:
        return Text("NULL", style="dim italic")
    shown = value if limit is None or len(value) <= limit else value[: limit - 1] + "…"
    return Text(shown)


def _limit(console: Console) -> int | None:
    """Long values are shortened on a terminal only: piped output carries them whole."""
    return _WIDTH if console.is_terminal else None


def _more(rows: Sequence[object], total: int) -> str:
    return f" (first {len(rows)} of {total:,})" if total > len(rows) else ""


def _rows_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[RowValues],
    total: int,
    limit: int | None = _WIDTH,
) -> Table:
    table = Table(title=f"{title}{_more(rows, total)}", title_justify="left", show_edge=False)
    for column in columns:
        table.add_column(Text(column), no_wrap=True)
    for row in rows:
        table.add_row(*(_cell(row.get(c), limit) for c in columns))
    return table


def _rows_list(
    title: str,
    columns: Sequence[str],
    rows: Sequence[RowValues],
    total: int,
    limit: int | None = _WIDTH,
) -> list[Text]:
    """The narrow form of _rows_table: one row after the other, one ``column: value`` line
    each, so a value is never wrapped in the middle (of a timestamp, say)."""
    lines = [Text(f"{title}{_more(rows, total)}", style="italic")]
    for row in rows:
        for n, column in enumerate(columns):
            line = Text("  - " if n == 0 else "    ")
            line.append(f"{column}: ", style="bold")
            line.append_text(_cell(row.get(column), limit))
            lines.append(line)
    return lines


def _changed_table(
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[ChangedRow],
    total: int,
    limit: int | None = _WIDTH,
) -> Table:
    table = Table(
        title=f"changed: restored → production{_more(rows, total)}",
        title_justify="left",
        show_edge=False,
    )
    for column in key:
        table.add_column(Text(column), no_wrap=True)
    table.add_column("column", no_wrap=True)
    table.add_column("restored", no_wrap=True)
    table.add_column("production", no_wrap=True)
    for row in rows:
        for n, column in enumerate(row.columns):
            keys = [_cell(row.restored.get(k), limit) if n == 0 else Text("") for k in key]
            table.add_row(
                *keys,
                Text(column),
                _cell(row.restored.get(column), limit),
                _cell(row.production.get(column), limit),
            )
    return table


def _changed_list(
    key: Sequence[str], rows: Sequence[ChangedRow], total: int, limit: int | None = _WIDTH
) -> list[Text]:
    lines = [Text(f"changed: restored → production{_more(rows, total)}", style="italic")]
    for row in rows:
        ident = Text("  - ")
        for n, k in enumerate(key):
            ident.append(("" if n == 0 else ", ") + f"{k}: ", style="bold")
            ident.append_text(_cell(row.restored.get(k), limit))
        lines.append(ident)
        for column in row.columns:
            lines.append(Text(f"    {column}", style="bold"))
            restored = Text("      restored:   ")
            restored.append_text(_cell(row.restored.get(column), limit))
            production = Text("      production: ")
            production.append_text(_cell(row.production.get(column), limit))
            lines += [restored, production]
    return lines


def _print_either(console: Console, table: Table, lines: list[Text]) -> None:
    if fits(console, table):
        console.print(table)
    else:
        for line in lines:
            console.print(line, soft_wrap=False)


def render_summary(console: Console, summary: RowDiffSummary, columns: Sequence[str]) -> None:
    """Counts and samples of one table's diff."""
    if not summary.keyed:
        console.print(Text(f"{summary.table}: {summary.note}", style="yellow"))
        return
    counts = summary.counts
    table = Table(title=Text(f"diff {summary.table}"), title_justify="left", show_edge=False)
    for name in ("rows restored", "rows production", "lost", "new", "changed"):
        table.add_column(name, justify="right")
    table.add_row(
        f"{summary.rows_restored:,}",
        f"{summary.rows_production:,}",
        Text(f"{counts.lost:,}", style="red" if counts.lost else "green"),
        f"{counts.new:,}",
        Text(f"{counts.changed:,}", style="yellow" if counts.changed else "green"),
    )
    console.print(table)
    shown = list(columns) or list(summary.key)
    limit = _limit(console)
    for title, sample, total in (
        ("lost: only in the restore", summary.lost_sample, counts.lost),
        ("new: only in production", summary.new_sample, counts.new),
    ):
        if sample:
            _print_either(
                console,
                _rows_table(title, shown, sample, total, limit),
                _rows_list(title, shown, sample, total, limit),
            )
    if summary.changed_sample:
        changed, total = summary.changed_sample, counts.changed
        _print_either(
            console,
            _changed_table(shown, summary.key, changed, total, limit),
            _changed_list(summary.key, changed, total, limit),
        )
    if summary.stats is not None:
        s = summary.stats
        rate = (
            f", first scan {s.scan_rows_per_second:,.0f} rows/s" if s.scan_rows_per_second else ""
        )
        console.print(
            Text(
                f"{duration(s.seconds)}: {s.levels} level(s), {s.round_trips} round trip(s), "
                f"{s.buckets_checked:,} ranges checked, rows hashed {s.rows_hashed_restored:,} "
                f"+ {s.rows_hashed_production:,}, fetched {s.rows_fetched:,}{rate}",
                style="dim",
            ),
            soft_wrap=False,
        )


def render_diff(console: Console, document: DiffDocument, out: str | None) -> None:
    console.print(
        Text(f"restored: {document.restored.label}\nproduction: {document.production.label}")
    )
    if document.where:
        console.print(Text(f"where: {document.where}"))
    for table in document.tables:
        render_summary(console, RowDiffSummary.of(table, SAMPLE), _non_key_first(table))
    text = diff_verdict(document)
    style = "bold green" if text == "no differences" else "bold red"
    console.print(Text("verdict: ").append_text(Text(text, style=style)))
    if out is not None:
        console.print(Text(f"diff written to {out}"))


def _non_key_first(table: RowDiff) -> list[str]:
    return [*table.key, *[c.name for c in table.columns if c.name not in table.key]]


def write_csv(document: DiffDocument, stream: IO[str]) -> None:
    """One line per lost/new row and two per changed row (restored, then production)."""
    writer = csv.writer(stream)
    for table in document.tables:
        columns = _non_key_first(table)
        writer.writerow(["table", "class", *columns, "changed_columns"])
        for row in table.lost:
            writer.writerow([table.table, "lost", *(row.get(c) for c in columns), ""])
        for row in table.new:
            writer.writerow([table.table, "new", *(row.get(c) for c in columns), ""])
        for changed in table.changed:
            differing = " ".join(changed.columns)
            for label, values in (
                ("restored", changed.restored),
                ("production", changed.production),
            ):
                writer.writerow(
                    [table.table, f"changed-{label}", *(values.get(c) for c in columns), differing]
                )


def render_reapply(console: Console, report: ReapplyReport, samples: bool = True) -> None:
    mode = "executed" if report.executed else "dry run (nothing written)"
    console.print(Text(f"reapply {report.diff_file} → {report.target.label}: {mode}", style="bold"))
    title = None if report.executed else "what --execute would do"
    table = Table(title=title, title_justify="left", show_edge=False)
    names = ["table", "lost", "changed", "insert", "update", "already", "conflicts"]
    for name in names:
        if name == "table":
            table.add_column(name, overflow="fold", min_width=14)
        else:
            table.add_column(name, justify="right")
    for plan in report.tables:
        row: list[Text | str] = [
            Text(plan.table),
            f"{plan.selected_lost:,}",
            f"{plan.selected_changed:,}",
            f"{plan.inserted:,}",
            f"{plan.updated:,}",
            f"{plan.already:,}",
            Text(f"{plan.conflicts:,}", style="red" if plan.conflicts else ""),
        ]
        table.add_row(*row)
    console.print(table)
    for plan in report.tables:  # a line of its own: the name to copy is never folded
        if plan.archive_table:
            console.print(Text(f"{plan.table}: the rows it overwrote are in {plan.archive_table}"))
    for plan in report.tables:
        for note in plan.notes:  # triggers that fire, or are kept off, and what that means
            console.print(Text(f"{plan.table}: {note}", style="yellow"))
    for plan in report.tables:
        if samples and plan.sample and not report.executed:
            # the key first; one ``column: value`` line each where the table would squeeze
            columns = [*plan.key, *(c for c in plan.sample[0] if c not in plan.key)]
            title = f"{plan.table}: rows to write back"
            total = plan.selected_lost + plan.selected_changed
            _print_either(
                console,
                _rows_table(title, columns, plan.sample, total),
                _rows_list(title, columns, plan.sample, total),
            )
    if report.conflicts:
        conflicts = Table(title="conflicts (skipped, never overwritten)", title_justify="left")
        for name in ("table", "key", "kind", "reason"):
            conflicts.add_column(name, overflow="fold")
        for c in report.conflicts[:SAMPLE]:
            key = ", ".join(f"{k}={v}" for k, v in c.key.items())
            conflicts.add_row(Text(c.table), Text(key), c.kind, c.reason)
        console.print(conflicts)
    if report.over_ceiling:
        console.print(
            Text(
                f"{report.rows_selected:,} rows is over the --max-rows ceiling of "
                f"{report.max_rows:,}: --execute would refuse",
                style="yellow",
            )
        )
    if report.resumed:
        console.print(Text("resumed from a checkpoint", style="dim"))
    if report.sql_file:
        console.print(Text(f"SQL script: {report.sql_file}"))
    summary = (
        f"{report.inserted:,} inserted, {report.updated:,} updated, {report.already:,} already "
        f"in place, {report.conflict_count:,} conflict(s) in {report.batches} batch(es), "
        f"{duration(report.seconds)}"
        if report.executed
        else f"would insert {report.inserted:,}, update {report.updated:,}; "
        f"{report.already:,} already in place, {report.conflict_count:,} conflict(s); "
        "rerun with --execute to write"
    )
    console.print(Text(summary))


def render_recover(console: Console, result: RecoverResult) -> None:
    console.rule("[bold]recover[/bold]")
    if result.incident_xid is not None:
        before, after = f"xid {result.incident_xid}", f"xid {result.incident_xid}"
    elif result.incident_gtid is not None:
        before = after = f"GTID {result.incident_gtid}"
    else:
        before = result.before_time.isoformat() if result.before_time else "?"
        after = result.after_time.isoformat() if result.after_time else "?"
    console.print(
        Text(
            f"restored just before the incident ({before}) and just after it ({after}), in "
            f"parallel: RTO {duration(result.before.rto_seconds)} / "
            f"{duration(result.after.rto_seconds)}"
        )
    )
    console.rule("What the incident did (restore before vs restore after)")
    for summary in result.tables:
        columns = [*summary.key]
        sample = summary.lost_sample or summary.new_sample
        if sample:
            columns += [c for c in sample[0] if c not in summary.key]
        elif summary.changed_sample:
            columns += [c for c in summary.changed_sample[0].restored if c not in summary.key]
        render_summary(console, summary, columns)
    console.print(Text(f"diff written to {result.diff_file}"))
    console.rule("Reapply to production")
    render_reapply(console, result.reapply)
