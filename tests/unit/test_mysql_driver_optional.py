"""The PostgreSQL-only install (no ``mysql`` extra) has no PyMySQL: PostgreSQL paths never
import it, and a MariaDB path says in one line what to install (exit 3), no traceback."""

from __future__ import annotations

import subprocess
import sys

BLOCK = "import sys; sys.modules['pymysql'] = None; "


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=120
    )


def test_postgres_paths_do_not_need_the_mysql_driver() -> None:
    done = _run(
        "import restoredrill.drill.restore, restoredrill.engines.postgres.plan, "
        "restoredrill.drill.verify, "
        "restoredrill.drill.diff, restoredrill.drill.reapply, restoredrill.drill.recover, "
        "restoredrill.drill.run, restoredrill.drill.incident, restoredrill.demo.postgres, "
        "restoredrill.checks.run, restoredrill.doctor; "
        "from restoredrill.engines.registry import ENGINES; "
        "from restoredrill.engines.base import engine_for_dsn; "
        "print(type(engine_for_dsn('host=x dbname=y')).__name__)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "PostgresEngine"


def test_a_mariadb_path_without_the_driver_says_what_to_install() -> None:
    done = _run(
        "sys.argv = ['restoredrill', 'verify', 'mysql://root@127.0.0.1:1/a', "
        "'mysql://root@127.0.0.1:1/b']; from restoredrill.cli.app import main; main()"
    )
    assert done.returncode == 3, done.stderr
    assert "pip install 'restoredrill[mysql]'" in done.stderr
    assert "Traceback" not in done.stderr
