"""The demo of one engine: run it, or leave its production up for the playbooks and take it
down again. What `restoredrill demo` calls; the engine's own modules do the work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from restoredrill.models import VERIFY_EXIT_CODES

if TYPE_CHECKING:
    from restoredrill.demo.mysql_env import MysqlDemoEnvironment
    from restoredrill.demo.postgres import DemoResult
    from restoredrill.demo.postgres_env import DemoEnvironment
    from restoredrill.ledger import Ledger
    from restoredrill.timing import ProgressListener

POSTGRES_PLAYBOOK = "playbooks/quarterly-drill.yaml"


def _mysql_user(os_user: str) -> str:
    return "mysql" if os_user == "postgres" else os_user


def run(
    engine: str,
    progress: ProgressListener | None,
    history: Ledger,
    pg_bin: str | None = None,
    os_user: str = "postgres",
    repair: bool = False,
) -> DemoResult:
    if engine == "mariadb":  # else "postgres"
        from restoredrill.demo.mysql import run_mysql_demo

        return run_mysql_demo(progress, history, os_user=_mysql_user(os_user), repair=repair)
    from restoredrill.demo.postgres import run_demo

    return run_demo(progress, history, pg_bin=pg_bin, os_user=os_user, repair=repair)


def exit_code(result: DemoResult) -> int:
    """The verify's exit code; 1 when it passed but the repair did not hold."""
    code = VERIFY_EXIT_CODES[result.verify.status]
    return 1 if not code and not result.repair_ok else code


def set_up(
    engine: str,
    directory: Path,
    progress: ProgressListener | None,
    pg_bin: str | None = None,
    os_user: str = "postgres",
) -> tuple[DemoEnvironment | MysqlDemoEnvironment, str]:
    """The demo production, left running, and the playbook to drill it with."""
    if engine == "mariadb":
        from restoredrill.demo.mysql_env import PLAYBOOK, setup_mysql_demo_environment

        user = _mysql_user(os_user)
        return setup_mysql_demo_environment(directory, progress, os_user=user), PLAYBOOK
    from restoredrill.demo.postgres_env import setup_demo_environment

    environment = setup_demo_environment(directory, progress, pg_bin=pg_bin, os_user=os_user)
    return environment, POSTGRES_PLAYBOOK


def tear_down(directory: Path) -> DemoEnvironment | MysqlDemoEnvironment:
    from restoredrill.demo.mysql_env import (
        is_mysql_environment,
        teardown_mysql_demo_environment,
    )
    from restoredrill.demo.postgres_env import teardown_demo_environment

    if is_mysql_environment(directory):
        return teardown_mysql_demo_environment(directory)
    return teardown_demo_environment(directory)
