"""`restoredrill reapply`: put a diff's rows back into production, guarded and idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import Rows
from restoredrill.cli.console import err, interactive, out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.options import JsonOpt, LedgerOpt
from restoredrill.cli.reapply_options import (
    BatchSizeOpt,
    ExecuteOpt,
    ForceOpt,
    LockTimeoutOpt,
    MaxRowsOpt,
    OnlyOpt,
    SqlOutOpt,
    StatementTimeoutOpt,
    WhereOpt,
    reapply_options,
)
from restoredrill.drill import reapply as drill
from restoredrill.report.terminal_diff import render_reapply
from restoredrill.report.terminal_verify import ConsoleProgress
from restoredrill.timing import ProgressListener


def reapply_command(
    diff_file: Annotated[Path, typer.Argument(metavar="DIFF.json", help="A diff file.")],
    to: Annotated[str, typer.Option("--to", metavar="PRODUCTION_DSN", help="Production.")],
    only: OnlyOpt = Rows.all,
    where: WhereOpt = None,
    execute: ExecuteOpt = False,
    max_rows: MaxRowsOpt = drill.DEFAULT_MAX_ROWS,
    batch_size: BatchSizeOpt = drill.DEFAULT_BATCH_SIZE,
    lock_timeout: LockTimeoutOpt = drill.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: StatementTimeoutOpt = drill.DEFAULT_STATEMENT_TIMEOUT,
    sql_out: SqlOutOpt = None,
    force: ForceOpt = False,
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Put rows from a diff back into production (dry run unless --execute).

    A dry run prints counts, sample rows and the SQL script. With --execute the rows are
    written in batches, guarded, archived first, and resumable. Exit 0 done, 1 rows skipped as
    conflicts, 2 refused, 130 interrupted (the batch in flight is rolled back; run it again to
    resume from the checkpoint). An executing run is recorded in the ledger."""
    options = reapply_options(
        only, where, sql_out, execute, max_rows, batch_size, lock_timeout, statement_timeout,
        force, ledger,
    )  # fmt: skip
    progress: ProgressListener | None = ConsoleProgress(err) if interactive(json_output) else None
    report = drill.reapply(diff_file, to, options, progress)
    if json_output:
        emit_json(report)
    else:
        render_reapply(out, report)
    raise typer.Exit(drill.exit_code(report))
