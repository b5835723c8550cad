"""Base backups with tablespaces, restored with the tablespaces mapped inside the sandbox:
pg_basebackup's tar format (one tar per tablespace) and plain format (made with
--tablespace-mapping); and a plain backup directory open to group and others."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg
import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.restore_options import DockerOptions
from restoredrill.engines.postgres.sandbox_local import LocalPostgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.models import RecoveryTarget
from tests.dockerhelp import require_docker
from tests.pgsetup import Production, counter_rows, production

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """A production with a tablespace holding a table, and three base backups of it."""
    with production(pg_tools, tmp_path_factory.mktemp("tablespaces")) as made:
        cluster = made.cluster
        space = cluster.root / "space"
        space.mkdir()
        cluster.run_as.own(space)
        with cluster.connect() as conn:
            conn.execute(f"CREATE TABLESPACE spaced LOCATION '{space}'")
            conn.execute("CREATE TABLE far (n int) TABLESPACE spaced")
            conn.execute("INSERT INTO far SELECT generate_series(1, 100)")
        made.insert(2)
        made.backup("tar", fmt="tar")
        made.backup("tar-gz", fmt="tar", compression="gzip")
        mapped = cluster.root / "plain-space"
        dest = made.backups / "plain"
        subprocess.run(
            [
                cluster.tools.path("pg_basebackup"), "-d", cluster.dsn(), "-D", str(dest),
                "--format=p", "--checkpoint=fast", "--no-sync",
                f"--tablespace-mapping={space}={mapped}",
            ],
            check=True, capture_output=True,
        )  # fmt: skip
        made.backup_rows["plain"] = made.rows
        dest.chmod(0o755)  # a copy open to group and others: restored all the same
        with cluster.connect() as conn:
            conn.execute("INSERT INTO far SELECT generate_series(101, 150)")
        made.insert(2)
        made.switch()
        yield made


def _far(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [int(r[0]) for r in conn.execute("SELECT n FROM far ORDER BY n").fetchall()]


@pytest.mark.parametrize("name", ["tar", "tar-gz", "plain"])
def test_tablespace_restored_inside_the_sandbox(prod: Production, name: str) -> None:
    space = prod.cluster.root / "space"
    before = sorted(p.relative_to(space) for p in space.rglob("*"))
    # the backup's own directory is the source: the plan can only choose it
    request = RestoreRequest(prod.backups / name, prod.archive, RecoveryTarget(kind="latest"))
    with restored(request) as done:
        assert _far(done.dsn()) == list(range(1, 151))
        assert counter_rows(done.dsn()) == list(range(1, 5))
        assert isinstance(done.sandbox, LocalPostgres)
        links = list((done.sandbox.datadir / "pg_tblspc").iterdir())
        assert len(links) == 1
        assert links[0].resolve().is_relative_to(done.sandbox.root.resolve())
        with psycopg.connect(done.dsn(), autocommit=True) as conn:  # writes stay in the copy
            conn.execute("INSERT INTO far VALUES (999)")
            conn.execute("CHECKPOINT")
    assert sorted(p.relative_to(space) for p in space.rglob("*")) == before
    assert done.result.plan.base_backup is not None
    assert done.result.plan.base_backup.path.endswith(name)


def test_tablespace_restored_in_a_docker_sandbox(prod: Production) -> None:
    """The sandbox is mounted at the same path in the container: the links hold there."""
    image = require_docker()
    request = RestoreRequest(
        prod.backups / "tar", prod.archive, RecoveryTarget(kind="latest"),
        backend=DockerOptions(image=image),
    )  # fmt: skip
    with restored(request) as done:
        assert _far(done.dsn()) == list(range(1, 151))
