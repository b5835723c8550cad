"""`restoredrill history`."""

from __future__ import annotations

from typing import Annotated

import typer

from restoredrill.cli.console import out
from restoredrill.cli.documents import emit_list
from restoredrill.cli.options import JsonOpt, LedgerOpt
from restoredrill.ledger import Ledger
from restoredrill.report.terminal import render_history


def history_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many entries.")] = 20,
    database: Annotated[
        list[str] | None,
        typer.Option("--database", metavar="NAME", help="Only these databases (repeatable)."),
    ] = None,
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List recorded restores, verifies and drills, newest first."""
    with Ledger(ledger) as history:
        entries = history.entries(limit=limit, database=database)
    if json_output:
        emit_list("restoredrill-history/1", "entries", entries)
    else:
        render_history(out, entries)
