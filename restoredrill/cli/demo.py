"""`restoredrill demo`: the whole drill on this machine, no Docker, no cloud."""

from __future__ import annotations

from typing import Annotated

import typer

from restoredrill.cli.common import (
    JsonOpt,
    LedgerOpt,
    OsUserOpt,
    PgBinOpt,
    emit_json,
    err,
    interactive,
    out,
)
from restoredrill.drill.demo import run_demo
from restoredrill.ledger import Ledger
from restoredrill.models import VERIFY_EXIT_CODES
from restoredrill.report.terminal import RichProgress
from restoredrill.report.terminal_demo import render_demo
from restoredrill.timing import ProgressListener


def demo_command(
    pg_bin: PgBinOpt = None,
    os_user: OsUserOpt = "postgres",
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Carry the recovery through: reapply --execute, then verify production.",
        ),
    ] = False,
) -> None:
    """Build a demo production, replay a classic bad DELETE, and drill the recovery."""
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    with Ledger(ledger) as history:
        result = run_demo(progress, history, pg_bin=pg_bin, os_user=os_user, repair=repair)
    if json_output:
        emit_json(result)
    else:
        render_demo(out, result)
    code = VERIFY_EXIT_CODES[result.verify.status]
    if not code and not result.repair_ok:
        code = 1
    if code:
        raise typer.Exit(code)
