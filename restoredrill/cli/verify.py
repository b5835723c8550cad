"""`restoredrill verify`: compare a restored database with production or a manifest."""

from __future__ import annotations

from typing import Annotated

import typer

from restoredrill.cli.console import err, interactive, out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.options import JsonOpt, LedgerOpt, TablesOpt
from restoredrill.cli.production import LockTimeoutOpt, StatementTimeoutOpt
from restoredrill.drill import guards
from restoredrill.drill import verify as drill
from restoredrill.errors import InfrastructureError
from restoredrill.models import VERIFY_EXIT_CODES
from restoredrill.report.terminal_verify import ConsoleProgress, render_verify_report
from restoredrill.timing import ProgressListener


def verify_command(
    restored_dsn: Annotated[
        str, typer.Argument(metavar="RESTORED_DSN", help="The restored database.")
    ],
    reference: Annotated[
        str,
        typer.Argument(
            metavar="REFERENCE",
            help="Production DSN (always opened read-only) or a manifest file.",
        ),
    ],
    tables: TablesOpt = None,
    as_of_column: Annotated[
        list[str] | None,
        typer.Option(
            "--as-of-column",
            metavar="TABLE=COLUMN",
            help="Compare only rows with COLUMN <= the as-of time on both sides (repeatable).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="ISO_TIME",
            help="As-of time with a timezone (default: the restored server's last replayed "
            "commit).",
        ),
    ] = None,
    lock_timeout: LockTimeoutOpt = guards.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: StatementTimeoutOpt = guards.DEFAULT_STATEMENT_TIMEOUT,
    json_output: JsonOpt = False,
    ledger: LedgerOpt = None,
) -> None:
    """Verify a restore against production (read-only) or a manifest.

    Per table: row count and checksum computed in each server; PASS, FAIL, ERROR or
    INCONCLUSIVE. Exit 0 pass, 1 fail/inconclusive, 2 usage, 3 error."""
    columns = drill.parse_as_of_columns(as_of_column)
    as_of_time = drill.parse_as_of(as_of) if as_of is not None else None
    progress: ProgressListener | None = ConsoleProgress(err) if interactive(json_output) else None
    try:
        report = drill.verify(
            restored_dsn,
            reference,
            tables=drill.split_tables(tables),
            as_of_columns=columns,
            as_of=as_of_time,
            progress=progress,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
        )
    except InfrastructureError as exc:
        drill.record_verify(restored_dsn, reference, None, ledger, error=str(exc))
        raise
    drill.record_verify(restored_dsn, reference, report, ledger)
    if json_output:
        emit_json(report)
    else:
        render_verify_report(report, out)
    raise typer.Exit(VERIFY_EXIT_CODES[report.status])
