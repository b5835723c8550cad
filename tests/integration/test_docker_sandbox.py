"""Docker sandboxes against a real Docker engine (started by .ci/run) and images built
locally (tests/docker/build-images.sh): PITR of a base backup into a container, logical
dump restores, teardown on error, `sandbox gc` of a killed run's container, and the
one-line errors for a dead daemon and a missing image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.restore_logical import restore_logical
from restoredrill.engines.postgres.restore_options import DockerOptions
from restoredrill.engines.postgres.sandbox_local import LocalPostgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import SandboxError
from restoredrill.sandboxes.docker import LABEL_ID, LABEL_PID
from restoredrill.targets import parse_target
from tests.dockerhelp import PG_IMAGE, containers, require_docker
from tests.pgsetup import (
    REPO,
    Production,
    counter_rows,
    private_sandbox_root,
    production,
    run_cli,
    sandbox_dirs,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image() -> str:
    return require_docker(PG_IMAGE)


@pytest.fixture
def sandbox_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        yield root


@pytest.fixture(scope="module")
def prod(
    image: str, pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Production]:
    """Rows 1-3 · base backup · rows 4-6 · restore point 'after-6' · rows 7-8 · switch."""
    with production(pg_tools, tmp_path_factory.mktemp("docker-prod")) as made:
        made.insert(3)
        made.backup("tar")
        made.insert(3)
        made.restore_point("after-6")
        made.insert(2)
        made.switch()
        yield made


def ours() -> list[str]:
    return containers(f"{LABEL_PID}={os.getpid()}")


def test_pitr_into_container(prod: Production, image: str, sandbox_root: Path) -> None:
    request = RestoreRequest(
        prod.backups / "tar",
        prod.archive,
        parse_target(name="after-6"),
        backend=DockerOptions(image=image),
    )
    with restored(request) as done:
        assert counter_rows(done.dsn()) == [1, 2, 3, 4, 5, 6]
        # the restored copy never archives, and runs in a labelled container
        with psycopg.connect(done.dsn()) as conn:
            row = conn.execute("SHOW archive_mode").fetchone()
        assert row is not None and row[0] == "off"
        names = containers(f"{LABEL_ID}={done.result.sandbox_id}")
        assert len(names) == 1
        ports = subprocess.run(
            ["docker", "port", names[0]], capture_output=True, text=True, check=True
        ).stdout
        assert ports.strip().startswith("5432/tcp -> 127.0.0.1:")
        phases = [p.name for p in done.result.phases]
        assert phases[:3] == ["plan", "provision", "restore base"]
    assert ours() == []
    assert sandbox_dirs(sandbox_root) == []


def test_logical_custom_dump(
    pg_cluster: LocalPostgres, image: str, sandbox_root: Path, tmp_path: Path
) -> None:
    with pg_cluster.connect() as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g")
    dump = tmp_path / "prod.dump"
    subprocess.run(
        [pg_cluster.tools.path("pg_dump"), "-Fc", "-f", str(dump), pg_cluster.dsn()],
        check=True,
        timeout=120,
    )
    dump.chmod(0o644)
    result = restore_logical(dump, image=image, keep=True)
    try:
        assert result.dsn is not None
        with psycopg.connect(result.dsn) as conn:
            row = conn.execute("SELECT count(*), sum(id) FROM t").fetchone()
        assert row == (500, 125250)
        assert [p.name for p in result.phases] == [
            "plan", "provision", "restore base", "promote/ready",
        ]  # fmt: skip
    finally:
        for name in containers(f"{LABEL_ID}={result.sandbox_id}"):
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    # the CLI: the same dump, timed, JSON out, nothing left
    done = run_cli(
        ["restore", "--sandbox", "docker", "--logical-dump", str(dump), "--image", image,
         "--json"],
        env={"RESTOREDRILL_SANDBOX_DIR": str(sandbox_root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["rto_seconds"] > 0
    assert ours() == []


def test_plain_dump_error_tears_down(image: str, sandbox_root: Path, tmp_path: Path) -> None:
    dump = tmp_path / "broken.sql"
    dump.write_text("CREATE TABLE t (id int);\nINSERT INTO t VALUES ('not a number');\n")
    dump.chmod(0o644)
    with pytest.raises(SandboxError, match="psql failed"):
        restore_logical(dump, image=image)
    assert ours() == []
    assert sandbox_dirs(sandbox_root) == []


def test_gc_removes_container_of_killed_run(image: str, sandbox_root: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from restoredrill.engines.postgres.tools import PgTools
        from pathlib import Path
        from restoredrill.engines.postgres.sandbox_docker import docker_postgres
        with docker_postgres("gc-test", PgTools(Path("/"), "0"), {image!r}) as sandbox:
            sandbox.initdb()
            sandbox.start()
            print(sandbox.id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "RESTOREDRILL_SANDBOX_DIR": str(sandbox_root)}
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO,
        timeout=120,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    ident = child.stdout.strip()
    assert containers(f"{LABEL_ID}={ident}") != []
    assert len(sandbox_dirs(sandbox_root)) == 1
    done = run_cli(["sandbox", "gc"], env={"RESTOREDRILL_SANDBOX_DIR": str(sandbox_root)})
    assert done.returncode == 0, done.stderr
    assert "removed container" in done.stderr
    assert containers(f"{LABEL_ID}={ident}") == []
    assert sandbox_dirs(sandbox_root) == []


def test_no_daemon_is_one_line_exit_3(tmp_path: Path) -> None:
    dump = tmp_path / "d.sql"
    dump.write_text("SELECT 1;\n")
    dead = f"unix://{tmp_path}/no-docker.sock"
    done = run_cli(
        ["restore", "--sandbox", "docker", "--logical-dump", str(dump), "--image", "x:1"],
        env={"DOCKER_HOST": dead},
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"restoredrill: error: Docker is not reachable at {dead}: start dockerd or set DOCKER_HOST"
    ]


def test_missing_image_is_one_line_exit_3(image: str, tmp_path: Path) -> None:
    dump = tmp_path / "d.sql"
    dump.write_text("SELECT 1;\n")
    done = run_cli(
        ["restore", "--sandbox", "docker", "--logical-dump", str(dump), "--image",
         "restoredrill-test/absent:0"],
    )  # fmt: skip
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        "image restoredrill-test/absent:0 is not present locally and could not be pulled"
        in (lines[0])
    )


def test_gc_leaves_other_sandbox_roots_alone(image: str, sandbox_root: Path) -> None:
    """A dead owner's container under another sandbox root is that root's to collect —
    two roots on one machine (or two test workers) must not remove each other's."""
    from restoredrill.sandboxes.docker import client, sandbox_labels

    other = sandbox_labels("other-root-sandbox", Path("/elsewhere/other-root-sandbox"))
    other[LABEL_PID] = "999999999"  # an owner that is gone
    container = client().containers.create(image, command=["true"], labels=other)
    try:
        done = run_cli(
            ["sandbox", "gc", "--all"], env={"RESTOREDRILL_SANDBOX_DIR": str(sandbox_root)}
        )
        assert done.returncode == 0, done.stderr
        assert containers(f"{LABEL_ID}=other-root-sandbox") != []
    finally:
        container.remove(force=True)
