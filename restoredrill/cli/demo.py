"""`restoredrill demo`: the whole drill on this machine, no Docker, no cloud."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from restoredrill.cli.choices import DemoEngine
from restoredrill.cli.console import err, interactive, out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.options import SOURCE, JsonOpt, LedgerOpt, OsUserOpt, PgBinOpt
from restoredrill.demo.postgres import run_demo
from restoredrill.ledger import Ledger
from restoredrill.models import VERIFY_EXIT_CODES
from restoredrill.report.terminal import RichProgress
from restoredrill.report.terminal_demo import render_demo
from restoredrill.timing import ProgressListener

if TYPE_CHECKING:
    from restoredrill.demo.mysql_env import MysqlDemoEnvironment
    from restoredrill.demo.postgres_env import DemoEnvironment


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
    if setup_only is not None or teardown is not None:
        _environment(setup_only, teardown, pg_bin, os_user, json_output, progress, engine)
        return
    with Ledger(ledger) as history:
        if engine == "postgres":
            result = run_demo(progress, history, pg_bin=pg_bin, os_user=os_user, repair=repair)
        else:
            from restoredrill.demo.mysql import run_mysql_demo

            user = "mysql" if os_user == "postgres" else os_user
            result = run_mysql_demo(progress, history, os_user=user, repair=repair)
    if json_output:
        emit_json(result)
    else:
        render_demo(out, result)
    code = VERIFY_EXIT_CODES[result.verify.status]
    if not code and not result.repair_ok:
        code = 1
    if code:
        raise typer.Exit(code)


def _environment(
    setup_only: Path | None,
    teardown: Path | None,
    pg_bin: str | None,
    os_user: str,
    json_output: bool,
    progress: ProgressListener | None,
    engine: str = "postgres",
) -> None:
    from restoredrill.demo.mysql_env import (
        PLAYBOOK,
        is_mysql_environment,
        setup_mysql_demo_environment,
        teardown_mysql_demo_environment,
    )
    from restoredrill.demo.postgres_env import setup_demo_environment, teardown_demo_environment

    environment: DemoEnvironment | MysqlDemoEnvironment
    if teardown is not None:
        if is_mysql_environment(teardown):
            environment = teardown_mysql_demo_environment(teardown)
        else:
            environment = teardown_demo_environment(teardown)
        if json_output:
            emit_json(environment)
        else:
            out.print(f"Demo environment in {environment.directory} removed.")
        return
    assert setup_only is not None
    playbook = "playbooks/quarterly-drill.yaml"
    if engine == "mariadb":
        user = "mysql" if os_user == "postgres" else os_user
        environment = setup_mysql_demo_environment(setup_only, progress, os_user=user)
        playbook = PLAYBOOK
    else:
        environment = setup_demo_environment(setup_only, progress, pg_bin=pg_bin, os_user=os_user)
    if json_output:
        emit_json(environment)
        return
    out.print(f"Demo production running: [bold]{environment.dsn}[/bold]")
    out.print(f"Environment file: {environment.env_file}")
    out.print(f"  source {environment.env_file} && restoredrill drill {playbook}")
    out.print(f"Remove it with: restoredrill demo --teardown {environment.directory}")
