"""`restoredrill diff`: the rows a restore holds that production lost, and the rest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import DiffFormat
from restoredrill.cli.console import err, interactive, out
from restoredrill.cli.options import OUTPUT, JsonOpt
from restoredrill.cli.production import LockTimeoutOpt, StatementTimeoutOpt
from restoredrill.drill import diff as drill
from restoredrill.drill import guards
from restoredrill.report.terminal_diff import render_diff, write_csv
from restoredrill.report.terminal_verify import ConsoleProgress
from restoredrill.timing import ProgressListener

WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        metavar="SQL",
        help="Only rows matching this SQL condition on either side (such a row is compared "
        "with the other side's row of the same key, matching or not). Trusted input: it is "
        "run as SQL, as written.",
    ),
]


def diff_command(
    restored_dsn: Annotated[
        str, typer.Argument(metavar="RESTORED_DSN", help="The restored database.")
    ],
    production_dsn: Annotated[
        str,
        typer.Argument(metavar="PRODUCTION_DSN", help="Production (always opened read-only)."),
    ],
    table: Annotated[
        str,
        typer.Option("--table", metavar="TABLE", help='table, schema.table or "Schema"."Table".'),
    ],
    key: Annotated[
        list[str] | None,
        typer.Option("--key", metavar="COLS", help="Key columns (default: primary or unique key)."),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns", metavar="COLS", help="Compare only these columns (key always included)."
        ),
    ] = None,
    where: WhereOpt = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="DIFF.json", help="Write the diff file here.", rich_help_panel=OUTPUT
        ),
    ] = None,
    output_format: Annotated[
        DiffFormat, typer.Option("--format", help="Output on stdout.", rich_help_panel=OUTPUT)
    ] = DiffFormat.table,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out.", rich_help_panel=OUTPUT)
    ] = False,
    lock_timeout: LockTimeoutOpt = guards.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: StatementTimeoutOpt = guards.DEFAULT_STATEMENT_TIMEOUT,
    json_output: JsonOpt = False,
) -> None:
    """Keyed diff of one table between a restore and production.

    Checksum bisection over key ranges, hashed inside both servers. Exit 0 no differences,
    1 differences (a table on one side only included), 2 usage (or a table without a key:
    not compared, counts only), 3 production timed out."""
    as_json = json_output or output_format == DiffFormat.json
    progress: ProgressListener | None = ConsoleProgress(err) if interactive(as_json) else None
    document = drill.diff(
        restored_dsn,
        production_dsn,
        table,
        key=drill.split_list(key),
        columns=drill.split_list(columns),
        where=where,
        out=out_file,
        progress=progress,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        force=force,
    )
    if as_json:
        drill.print_diff(document, sys.stdout)
    elif output_format == DiffFormat.csv:
        write_csv(document, sys.stdout)
    else:
        render_diff(out, document, str(out_file) if out_file else None)
    if drill.not_compared(document):
        if not as_json and output_format != DiffFormat.table:
            err.print(document.tables[0].note, markup=False)
        raise typer.Exit(2)
    raise typer.Exit(1 if drill.has_differences(document) else 0)
