"""MariaDB logical dumps restored into docker sandboxes against a real Docker engine and the
images tests/docker/build-images.sh builds: a mariadb-dump (.sql.gz) of a real MariaDB
restored with the rows checked from the host through the --keep DSN, and the one-line
errors (exit 3) for a taken host port and a server that never becomes ready."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from restoredrill.engines.mysql.restore_logical import restore_logical_mariadb
from restoredrill.engines.mysql.sandbox_docker import docker_mariadb
from restoredrill.errors import SandboxError
from restoredrill.ledger import Ledger
from restoredrill.sandboxes.docker import LABEL_ID, LABEL_PID
from tests.dockerhelp import MARIADB_IMAGE, containers, require_docker
from tests.mysqlsetup import counter_rows, production
from tests.pgsetup import private_sandbox_root, run_cli, sandbox_dirs

pytestmark = pytest.mark.slow

BROKEN_IMAGE = "restoredrill-test/mariadb-broken:10.11"


@pytest.fixture(scope="module")
def image() -> str:
    return require_docker(MARIADB_IMAGE)


@pytest.fixture
def sandbox_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        yield root


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compressed mariadb-dump of a real server: counter rows 1-25."""
    with production("test-docker-mariadb-prod") as prod:
        prod.insert(25)
        made = prod.dump(tmp_path_factory.mktemp("mariadb-dump") / "prod.sql.gz")
    made.chmod(0o644)
    return made


@pytest.fixture(scope="module")
def broken_image(image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test image with a mariadbd that only complains and exits (built locally)."""
    context = tmp_path_factory.mktemp("broken-image")
    (context / "Dockerfile").write_text(
        f"FROM {image}\nUSER root\n"
        'RUN printf \'#!/bin/sh\\necho "mariadbd: [ERROR] test server refuses to start" >&2\\n'
        "exit 1\\n' >/usr/sbin/mariadbd && chmod 755 /usr/sbin/mariadbd\nUSER mysql\n"
    )
    subprocess.run(
        ["docker", "build", "-q", "--network", "none", "-t", BROKEN_IMAGE, str(context)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return BROKEN_IMAGE


def ours() -> list[str]:
    return containers(f"{LABEL_PID}={os.getpid()}")


def test_default_image_from_compressed_dump_header(dump: Path) -> None:
    from restoredrill.engines.mysql.restore_logical import _gzip_image

    with gzip.open(dump, "rt") as handle:
        head = handle.read(4096)
    assert "MariaDB" in head
    assert _gzip_image(dump).startswith("mariadb:10.")


def test_mariadb_dump_into_container_keep(
    dump: Path, image: str, sandbox_root: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    done = run_cli(
        ["restore", "--sandbox", "docker", "--engine", "mariadb", "--logical-dump", str(dump),
         "--image", image, "--keep", "--dbname", "drill", "--ledger", str(ledger), "--json"],
        env={"RESTOREDRILL_SANDBOX_DIR": str(sandbox_root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    names = containers(f"{LABEL_ID}={document['sandbox_id']}")
    try:
        dsn = document["dsn"]
        assert dsn.startswith("mysql://restoredrill:") and "@127.0.0.1:" in dsn
        assert counter_rows(dsn) == list(range(1, 26))
        assert [p["name"] for p in document["phases"]] == [
            "plan", "provision", "restore base", "promote/ready",
        ]  # fmt: skip
        assert document["rto_seconds"] > 0 and document["kept"] is True
        assert len(names) == 1
        ports = subprocess.run(
            ["docker", "port", names[0]], capture_output=True, text=True, check=True
        ).stdout
        assert ports.strip().startswith("3306/tcp -> 127.0.0.1:")
        # the password is in the DSN only: not in the container's argv, log or the ledger
        password = dsn.split(":")[2].split("@")[0]
        inspect = subprocess.run(
            ["docker", "inspect", "--format", "{{json .Args}} {{json .Path}}", names[0]],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert password not in inspect
        logs = subprocess.run(["docker", "logs", names[0]], capture_output=True, text=True)
        assert password not in logs.stdout + logs.stderr
        with Ledger(ledger) as history:
            entries = history.entries()
        assert entries[0].verdict == "RESTORED"
        assert password not in json.dumps([e.model_dump(mode="json") for e in entries])
        # kept: `sandbox gc` leaves it, `gc --all` removes it
        env = {"RESTOREDRILL_SANDBOX_DIR": str(sandbox_root)}
        assert run_cli(["sandbox", "gc"], env=env).returncode == 0
        assert containers(f"{LABEL_ID}={document['sandbox_id']}") == names
        assert run_cli(["sandbox", "gc", "--all"], env=env).returncode == 0
        assert containers(f"{LABEL_ID}={document['sandbox_id']}") == []
        assert sandbox_dirs(sandbox_root) == []
    finally:
        for name in names:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_mariadb_dump_not_kept_leaves_nothing(dump: Path, image: str, sandbox_root: Path) -> None:
    result = restore_logical_mariadb(dump, image=image, dbname="drill")
    assert result.dsn is not None and ":***@127.0.0.1:" in result.dsn
    assert result.kept is False
    assert ours() == []
    assert sandbox_dirs(sandbox_root) == []


def test_broken_sql_fails_one_line_and_tears_down(
    image: str, sandbox_root: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE DATABASE d;\nCREATE TABLE d.t (id INT);\nINSERT INTO d.t VALUES (;\n")
    bad.chmod(0o644)
    with pytest.raises(SandboxError, match=r"mariadb failed: .*syntax") as caught:
        restore_logical_mariadb(bad, image=image)
    assert "\n" not in str(caught.value)
    assert ours() == []
    assert sandbox_dirs(sandbox_root) == []


def test_port_in_use_is_one_line_exit_3(image: str, sandbox_root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(SandboxError) as caught,
            docker_mariadb("test-port", image, host_port=port) as sandbox,
        ):
            sandbox.start()
    message = str(caught.value)
    assert caught.value.exit_code == 3
    assert "\n" not in message
    assert message.startswith("cannot publish the sandbox port:"), message
    assert str(port) in message
    assert ours() == []
    assert sandbox_dirs(sandbox_root) == []


def test_never_ready_carries_log_tail(image: str, sandbox_root: Path) -> None:
    with (
        pytest.raises(SandboxError) as caught,
        docker_mariadb("test-never", image, server_args=["--no-such-option"]) as sandbox,
    ):
        sandbox.start()
        sandbox.wait_ready(60)
    message = str(caught.value)
    assert caught.value.exit_code == 3
    assert "\n" not in message
    assert f"container {image} never became ready" in message
    assert "last log lines:" in message and "no-such-option" in message
    assert ours() == []
    assert sandbox_dirs(sandbox_root) == []


def test_never_ready_cli_is_one_line_exit_3(
    broken_image: str, dump: Path, sandbox_root: Path
) -> None:
    done = run_cli(
        ["restore", "--sandbox", "docker", "--engine", "mariadb", "--logical-dump", str(dump),
         "--image", broken_image],
        env={"RESTOREDRILL_SANDBOX_DIR": str(sandbox_root)},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("restoredrill: error: container ")
    assert "never became ready" in lines[0]
    assert "test server refuses to start" in lines[0]
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"ancestor={broken_image}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert left.strip() == ""
    assert sandbox_dirs(sandbox_root) == []


def test_mysql_engine_dump_is_still_refused(tmp_path: Path) -> None:
    dump = tmp_path / "d.sql"
    dump.write_text("SELECT 1;\n")
    done = run_cli(
        ["restore", "--sandbox", "docker", "--engine", "mysql", "--logical-dump", str(dump)]
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
