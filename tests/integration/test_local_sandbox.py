from __future__ import annotations

from pathlib import Path

from restoredrill.engines.pg_archiving import base_backup, switch_and_wait_archived
from restoredrill.sandboxes.local import LocalPostgres
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
