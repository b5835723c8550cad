"""`restoredrill reapply`: put a diff's rows back into production, guarded and idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.common import JsonOpt, emit_json, err, interactive, out
from restoredrill.drill import reapply as drill
from restoredrill.report.terminal_diff import render_reapply
from restoredrill.report.terminal_verify import ConsoleProgress
from restoredrill.timing import ProgressListener

OnlyOpt = Annotated[
    str, typer.Option("--only", help="lost | changed | all: which rows to put back.")
]
ReapplyWhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        metavar="SQL",
        help="Only rows whose restored values match this SQL condition (trusted input).",
    ),
]
SqlOutOpt = Annotated[
    Path | None,
    typer.Option("--sql-out", metavar="FILE", help="SQL script (default: next to the diff)."),
]
ExecuteOpt = Annotated[
    bool, typer.Option("--execute", help="Write to production (default: dry run).")
]
MaxRowsOpt = Annotated[int, typer.Option("--max-rows", help="Refuse to write more rows than this.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Rows per transaction.")]
LockTimeoutOpt = Annotated[
    str, typer.Option("--lock-timeout", help="SET LOCAL lock_timeout of each batch, e.g. 5s.")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Overwrite existing output files (--sql-out, --out).")
]
StatementTimeoutOpt = Annotated[
    str,
    typer.Option("--statement-timeout", help="SET LOCAL statement_timeout of each batch."),
]


def options(
    only: str,
    where: str | None,
    sql_out: Path | None,
    execute: bool,
    max_rows: int,
    batch_size: int,
    lock_timeout: str = drill.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: str = drill.DEFAULT_STATEMENT_TIMEOUT,
    force: bool = False,
) -> drill.ReapplyOptions:
    if only not in ("lost", "changed", "all"):
        raise typer.BadParameter("expected lost, changed or all", param_hint="--only")
    return drill.ReapplyOptions(
        only=only,  # type: ignore[arg-type]
        where=where,
        sql_out=sql_out,
        execute=execute,
        max_rows=max_rows,
        batch_size=batch_size,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        force=force,
    )


def reapply_command(
    diff_file: Annotated[Path, typer.Argument(metavar="DIFF.json", help="A diff file.")],
    to: Annotated[str, typer.Option("--to", metavar="PRODUCTION_DSN", help="Production.")],
    only: OnlyOpt = "all",
    where: ReapplyWhereOpt = None,
    sql_out: SqlOutOpt = None,
    execute: ExecuteOpt = False,
    max_rows: MaxRowsOpt = drill.DEFAULT_MAX_ROWS,
    batch_size: BatchSizeOpt = drill.DEFAULT_BATCH_SIZE,
    lock_timeout: LockTimeoutOpt = drill.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: StatementTimeoutOpt = drill.DEFAULT_STATEMENT_TIMEOUT,
    force: ForceOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Put rows from a diff back into production (dry run unless --execute).

    Dry run: counts, sample rows and the SQL script. With --execute: batched, guarded,
    archived, resumable. Exit 0 done, 1 rows skipped as conflicts, 2 refused, 130 interrupted
    (the batch in flight is rolled back; run it again to resume from the checkpoint)."""
    opts = options(
        only, where, sql_out, execute, max_rows, batch_size, lock_timeout, statement_timeout, force
    )
    progress: ProgressListener | None = ConsoleProgress(err) if interactive(json_output) else None
    report = drill.reapply(diff_file, to, opts, progress)
    if json_output:
        emit_json(report)
    else:
        render_reapply(out, report)
    raise typer.Exit(drill.exit_code(report))
