"""Shared fixtures: real PostgreSQL clusters started by the tests (never the machine's own)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from restoredrill.engines.postgres.archiving import start_archiving
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools

pytest_plugins = ("tests.awshelp",)  # moto server fixtures (S3, RDS)


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own ledger; sandboxes go to a per-session directory."""
    monkeypatch.setenv("RESTOREDRILL_LEDGER", str(tmp_path_factory.mktemp("ledger") / "ledger.db"))


@pytest.fixture(scope="session", autouse=True)
def _sandbox_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root = Path("/tmp") / f"restoredrill-test-sandboxes-{os.getpid()}"
    root.mkdir(exist_ok=True)
    os.environ["RESTOREDRILL_SANDBOX_DIR"] = str(root)
    yield
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sandbox_dir() -> Iterator[Path]:
    """A private sandbox root for one test (under /tmp: the server user must reach it)."""
    root = Path(tempfile.mkdtemp(prefix="restoredrill-test-", dir="/tmp"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_tools() -> PgTools:
    return find_pg_tools()


@pytest.fixture
def pg_cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    """A fresh, running, empty cluster."""
    with local_postgres("test", tools=pg_tools) as cluster:
        cluster.initdb()
        cluster.start()
        yield cluster


@dataclass
class ArchivingCluster:
    cluster: LocalPostgres
    archive: Path
    backups: Path


@pytest.fixture
def archiving_cluster(pg_tools: PgTools, tmp_path: Path) -> Iterator[ArchivingCluster]:
    """A running "production" cluster archiving WAL into a directory; backups go to tmp_path."""
    with local_postgres("test-production", tools=pg_tools) as cluster:
        archive = cluster.root / "archive"
        start_archiving(cluster, archive)
        backups = tmp_path / "backups"
        backups.mkdir()
        yield ArchivingCluster(cluster, archive, backups)
