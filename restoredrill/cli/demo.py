"""`restoredrill demo`: the whole drill on this machine, no Docker, no cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import DemoEngine
from restoredrill.cli.console import err, interactive, out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.options import SOURCE, JsonOpt, LedgerOpt, OsUserOpt, PgBinOpt
from restoredrill.demo import run as demo
from restoredrill.ledger import Ledger
from restoredrill.report.terminal import RichProgress
from restoredrill.report.terminal_demo import render_demo
from restoredrill.timing import ProgressListener


def demo_command(
    engine: Annotated[
        DemoEngine,
        typer.Option(
            "--engine",
            help="The database engine (MariaDB: a binlog point-in-time restore).",
            rich_help_panel=SOURCE,
        ),
    ] = DemoEngine.postgres,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Carry the recovery through: reapply --execute, then verify production.",
        ),
    ] = False,
    setup_only: Annotated[
        Path | None,
        typer.Option(
            "--setup-only",
            metavar="DIR",
            help="Only build the demo production (left running) with its archive, backup and "
            "manifest in DIR, plus DIR/demo.env for the example playbooks.",
        ),
    ] = None,
    teardown: Annotated[
        Path | None,
        typer.Option("--teardown", metavar="DIR", help="Stop and remove a --setup-only demo."),
    ] = None,
    pg_bin: PgBinOpt = None,
    os_user: OsUserOpt = "postgres",
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Build a demo production, replay a classic bad DELETE, and drill the recovery."""
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    if teardown is not None:
        environment = demo.tear_down(teardown)
        if json_output:
            emit_json(environment)
        else:
            out.print(f"Demo environment in {environment.directory} removed.")
        return
    if setup_only is not None:
        environment, playbook = demo.set_up(engine, setup_only, progress, pg_bin, os_user)
        if json_output:
            emit_json(environment)
        else:
            out.print(f"Demo production running: [bold]{environment.dsn}[/bold]")
            out.print(f"Environment file: {environment.env_file}")
            out.print(f"  source {environment.env_file} && restoredrill drill {playbook}")
            out.print(f"Remove it with: restoredrill demo --teardown {environment.directory}")
        return
    with Ledger(ledger) as history:
        result = demo.run(engine, progress, history, pg_bin, os_user, repair)
    if json_output:
        emit_json(result)
    else:
        render_demo(out, result)
    code = demo.exit_code(result)
    if code:
        raise typer.Exit(code)
