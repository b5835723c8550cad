"""`restoredrill verify`: compare a restored database with production or a manifest."""

from __future__ import annotations

from typing import Annotated

import typer

from restoredrill.cli.common import JsonOpt, LedgerOpt, emit_json, err, interactive, out
from restoredrill.drill import guards
from restoredrill.drill import verify as drill
from restoredrill.errors import InfrastructureError
from restoredrill.models import VERIFY_EXIT_CODES
from restoredrill.report.terminal_verify import ConsoleProgress, render_verify_report
from restoredrill.timing import ProgressListener

ProductionLockTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--lock-timeout",
        metavar="DURATION",
        help="Give up (exit 3) when production makes a read wait this long for a lock.",
    ),
]
ProductionStatementTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--statement-timeout",
        metavar="DURATION",
        help="Give up (exit 3) when one statement on production runs this long.",
    ),
]


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
    tables: Annotated[
        list[str] | None,
        typer.Option(
            "--tables",
            metavar="T1,T2",
            help="Tables to check (table, schema.table); repeat or comma-separate. "
            "Default: every user table.",
        ),
    ] = None,
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
    lock_timeout: ProductionLockTimeoutOpt = guards.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: ProductionStatementTimeoutOpt = guards.DEFAULT_STATEMENT_TIMEOUT,
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
