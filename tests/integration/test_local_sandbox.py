from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from restoredrill.engines.postgres.archiving import base_backup, switch_and_wait_archived
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import ConfigError
from tests.conftest import ArchivingCluster


def test_fresh_cluster_runs_and_is_removed(pg_cluster: LocalPostgres) -> None:
    with pg_cluster.connect() as conn:
        row = conn.execute("SELECT current_setting('listen_addresses')").fetchone()
    assert row == ("127.0.0.1",)
    assert pg_cluster.root.is_dir()


def test_archiving_cluster_archives_and_backs_up(archiving_cluster: ArchivingCluster) -> None:
    cluster = archiving_cluster.cluster
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
    name = switch_and_wait_archived(cluster)
    assert (archiving_cluster.archive / name).is_file()
    dest = base_backup(cluster, archiving_cluster.backups / "b1", fmt="tar", compression="gzip")
    assert (dest / "base.tar.gz").is_file()
    assert isinstance(dest, Path)


def test_a_sandbox_root_too_deep_for_a_socket_is_refused_up_front(
    pg_tools: PgTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = Path(tempfile.mkdtemp(prefix="rd-", dir="/tmp")) / ("d" * 90)
    monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(deep))
    try:
        with (
            pytest.raises(
                ConfigError, match=r"too deep for a Unix socket.*RESTOREDRILL_SANDBOX_DIR"
            ),
            local_postgres("deep", tools=pg_tools),
        ):
            pytest.fail("a sandbox whose server cannot create its socket was yielded")
        assert list(deep.iterdir()) == []  # nothing created
    finally:
        shutil.rmtree(deep.parent, ignore_errors=True)
