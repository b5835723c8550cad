"""`restoredrill report`: SLA and audit report from the ledger (and fleet result files)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import ReportFormat
from restoredrill.cli.console import out
from restoredrill.cli.options import OUTPUT, JsonOpt, LedgerOpt
from restoredrill.report.sla import ReportRequest, SlaReport, build_report, parse_since
from restoredrill.report.terminal_report import render_report


def report_command(
    since: Annotated[
        str | None, typer.Option("--since", metavar="WHEN", help="30d, 12h, a date or an ISO time.")
    ] = None,
    database: Annotated[
        list[str] | None,
        typer.Option("--database", metavar="NAME", help="Only these databases (repeatable)."),
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option("--from", metavar="DIR", help="Also read drill result files from DIR."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when the window has failures or breaches.")
    ] = False,
    include_demo: Annotated[
        bool,
        typer.Option(
            "--include-demo",
            help="Count runs recorded by `restoredrill demo` (listed apart by default).",
        ),
    ] = False,
    fmt: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="md, html, json, junit or prometheus (default: a table).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the report here instead of stdout.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", metavar="FILE.png", help="Trend plot (PNG).", rich_help_panel=OUTPUT
        ),
    ] = None,
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """SLA report from the drill ledger (md, html, json, junit, prometheus, PNG plot).

    A headline, then per database and kind of drill: drills, pass rate (a drill over its
    RTO is not a pass), restore p50/p95/max vs that kind's RTO, RPO vs objective, days since
    the last success, SLA breaches apart from correctness failures, and the evidence pack.
    Demo runs are listed apart unless --include-demo. --json is --format json."""
    if json_output:
        fmt = ReportFormat.json
    report = build_report(
        ReportRequest(
            ledger_path=ledger,
            since=parse_since(since) if since else None,
            databases=database or None,
            from_dir=from_dir,
            include_demo=include_demo,
        )
    )
    plot_png: bytes | None = None
    if plot is not None:
        from restoredrill.report.atomic_file import write_atomic
        from restoredrill.report.plot import png_bytes

        plot_png = png_bytes(report)
        write_atomic(plot, plot_png)
    elif fmt == "html":
        from restoredrill.report.plot import optional_png

        plot_png = optional_png(report)  # the page works without matplotlib too
    if fmt is None:
        render_report(out, report)
    else:
        _emit(fmt, report, output, plot_png)
    if strict and report.has_problems:
        raise typer.Exit(1)


def _emit(fmt: str, report: SlaReport, output: Path | None, plot_png: bytes | None) -> None:
    from restoredrill.report.atomic_file import write_atomic

    if fmt == "prometheus" and output is not None:
        from restoredrill.report.prometheus import write_textfile

        write_textfile(report, output)
        return
    data: str | bytes
    if fmt == "md":
        from restoredrill.report.markdown import report_markdown

        data = report_markdown(report)
    elif fmt == "html":
        from restoredrill.report.html import report_html

        data = report_html(report, plot_png)
    elif fmt == "json":
        data = report.model_dump_json(indent=2) + "\n"
    elif fmt == "junit":
        from restoredrill.report.junit import report_junit, to_bytes

        data = to_bytes(report_junit(report))
    else:
        from restoredrill.report.prometheus import render

        data = render(report)
    if output is not None:
        write_atomic(output, data)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data + b"\n")
    else:
        sys.stdout.write(data)
