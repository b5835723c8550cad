"""A Barman server's own layout (<barman_home>/<server>/base/<id>/data, wals/), read in
place: a real `barman backup` (backup_method postgres) of a PostgreSQL 15 shipping WAL
with archive_command into Barman's incoming directory, `barman cron` archiving it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.barman import open_barman
from restoredrill.engines.postgres.sandbox_local import local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.models import RecoveryTarget
from tests.barmanhelp import barman, barman_server_config
from tests.pgsetup import Commit, counter_rows, run_cli, start_production

pytestmark = [pytest.mark.slow]
SERVER = "pg"


@dataclass
class Server:
    home: Path
    commits: list[Commit]


@pytest.fixture(scope="module")
def server(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("barman")
    with local_postgres("test-barman-server", tools=pg_tools) as cluster:
        home = cluster.root / "barman"
        # Barman compresses WAL under the segment's own name (no .gz): read by its magic
        config = barman_server_config(cluster, home, SERVER, compression="gzip")
        incoming = home / SERVER / "incoming"
        incoming.mkdir(parents=True)
        for path in (incoming.parent, incoming):
            cluster.run_as.own(path)
        prod = start_production(
            cluster, cluster.root / "unused-archive", tmp_path_factory.mktemp("barman-server"),
            settings={"archive_command": f"test ! -f {incoming}/%f && cp %p {incoming}/%f"},
        )  # fmt: skip
        prod.insert(3)
        prod.switch()  # archive_command has copied it into incoming/
        barman(cluster, config, "archive-wal", SERVER)
        barman(cluster, config, "backup", SERVER)
        prod.next_second()
        prod.insert(4)
        prod.switch()
        barman(cluster, config, "archive-wal", SERVER)
        segments = [p for p in (home / SERVER / "wals").rglob("*") if len(p.name) == 24]
        assert segments and all(p.read_bytes()[:2] == b"\x1f\x8b" for p in segments)
        yield Server(home, list(prod.commits))


def test_restore_from_a_barman_server_to_a_time(server: Server) -> None:
    source = open_barman(str(server.home / SERVER))
    target = RecoveryTarget(kind="time", time=server.commits[4].time)
    with restored(RestoreRequest("", "", target, source=source)) as done:
        assert counter_rows(done.dsn()) == list(range(1, 6))
        backup = done.result.plan.base_backup
        assert backup is not None and backup.format == "plain" and backup.pg_version == "15"


def test_plan_and_check_a_barman_server(server: Server) -> None:
    where = str(server.home / SERVER)
    done = run_cli(["plan", "--barman", where, "--target", "latest", "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(done.stdout)
    assert plan["base_backup"]["format"] == "plain"
    done = run_cli(["check", "--barman", where, "--max-backup-age", "1h", "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = {c["rule"]: c["status"] for c in json.loads(done.stdout)["checks"]}
    assert statuses["archive.wal_continuity"] == "ok"
    assert statuses["archive.base_backup_age"] == "ok"
