"""A backup of another PostgreSQL major than the installed servers: the plan says which
major is needed, which are installed and what to pass (fault: PG_VERSION edited in a real
base backup), and nothing is provisioned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from restoredrill.engines.postgres.tools import PgTools
from tests.pgsetup import Production, production, run_cli

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with production(pg_tools, tmp_path_factory.mktemp("majors")) as made:
        made.insert(2)
        made.backup("plain", fmt="plain")
        made.insert(2)
        made.switch()
        yield made


def _other_major(prod: Production, tmp_path: Path, major: str) -> Path:
    import shutil

    copy = tmp_path / "backups"
    shutil.copytree(prod.backups, copy)
    (copy / "plain" / "PG_VERSION").write_text(f"{major}\n")
    return copy


def test_plan_names_the_major_needed_and_installed(
    prod: Production, pg_tools: PgTools, tmp_path: Path
) -> None:
    backups = _other_major(prod, tmp_path, "11")
    source = ["--base-backups", str(backups), "--wal-archive", str(prod.archive)]
    done = run_cli(["plan", *source, "--target", "latest"])
    assert done.returncode == 1, done.stderr
    text = " ".join(done.stdout.replace("│", " ").split())  # rich wraps long lines in a box
    assert "needs PostgreSQL 11" in text
    assert f"installed: {pg_tools.major_name} (" in text
    assert "--pg-bin /usr/lib/postgresql/11/bin" in text
    assert "--sandbox docker --image postgres:11" in text


def test_restore_refuses_before_provisioning(prod: Production, tmp_path: Path) -> None:
    backups = _other_major(prod, tmp_path, "11")
    source = ["--base-backups", str(backups), "--wal-archive", str(prod.archive)]
    done = run_cli(["restore", *source, "--target", "latest", "--json"])
    assert done.returncode == 1, done.stderr
    assert "needs PostgreSQL 11" in done.stdout + done.stderr
    assert "provision" not in done.stdout


def test_the_same_backup_with_its_own_major_plans(prod: Production) -> None:
    source = ["--base-backups", str(prod.backups), "--wal-archive", str(prod.archive)]
    done = run_cli(["plan", *source, "--target", "latest"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_15_backup_still_picks_15_beside_other_majors(
    prod: Production, pg_tools: PgTools
) -> None:
    """With 13 installed too (tests/majors/install-pg13.sh), the backup's own major wins."""
    from restoredrill.drill.restore import RestoreRequest, restored
    from restoredrill.engines.postgres.sandbox_local import LocalPostgres
    from restoredrill.models import RecoveryTarget

    request = RestoreRequest(prod.backups, prod.archive, RecoveryTarget(kind="latest"))
    with restored(request) as done:
        assert isinstance(done.sandbox, LocalPostgres)
        assert done.sandbox.tools.bindir == pg_tools.bindir
        assert done.sandbox.tools.major_name == pg_tools.major_name
