"""How rows go back into production: the options `reapply` and `recover` share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from restoredrill.cli.choices import Rows
from restoredrill.cli.options import OUTPUT, REAPPLY

if TYPE_CHECKING:
    from restoredrill.drill.reapply import ReapplyOptions
    from restoredrill.models import ReapplyOnly

OnlyOpt = Annotated[
    Rows, typer.Option("--only", help="Which rows to put back.", rich_help_panel=REAPPLY)
]
WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        metavar="SQL",
        help="Only rows whose restored values match this SQL condition (trusted input).",
        rich_help_panel=REAPPLY,
    ),
]
ExecuteOpt = Annotated[
    bool,
    typer.Option(
        "--execute", help="Write to production (default: a dry run).", rich_help_panel=REAPPLY
    ),
]
MaxRowsOpt = Annotated[
    int,
    typer.Option(
        "--max-rows", help="Refuse to write more rows than this.", rich_help_panel=REAPPLY
    ),
]
BatchSizeOpt = Annotated[
    int, typer.Option("--batch-size", help="Rows per transaction.", rich_help_panel=REAPPLY)
]
LockTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--lock-timeout",
        metavar="DURATION",
        help="SET LOCAL lock_timeout of each batch, e.g. 5s.",
        rich_help_panel=REAPPLY,
    ),
]
StatementTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--statement-timeout",
        metavar="DURATION",
        help="SET LOCAL statement_timeout of each batch.",
        rich_help_panel=REAPPLY,
    ),
]
SqlOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--sql-out",
        metavar="FILE",
        help="The SQL script (default: next to the diff).",
        rich_help_panel=OUTPUT,
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Overwrite existing output files (--sql-out, --out).",
        rich_help_panel=OUTPUT,
    ),
]


def reapply_options(
    only: Rows,
    where: str | None,
    sql_out: Path | None,
    execute: bool,
    max_rows: int,
    batch_size: int,
    lock_timeout: str,
    statement_timeout: str,
    force: bool,
    ledger: Path | None,
) -> ReapplyOptions:
    from restoredrill.drill.reapply import ReapplyOptions

    rows: ReapplyOnly = (
        "lost" if only is Rows.lost else "changed" if only is Rows.changed else "all"
    )
    return ReapplyOptions(
        only=rows,
        where=where,
        sql_out=sql_out,
        execute=execute,
        max_rows=max_rows,
        batch_size=batch_size,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        force=force,
        ledger=ledger,
    )
