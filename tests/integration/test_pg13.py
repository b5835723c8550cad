"""A second PostgreSQL major end to end: a real PostgreSQL 13 production archiving WAL and a
PostgreSQL 13 pg_basebackup, with 15 installed too. The plan reports 13 and reads the WAL
with pg_waldump 13; restore picks the 13 binaries by itself; verify against the 13
production passes; `incident find` reads the 13 WAL by itself; `recover --incident-xid`
finds the lost rows; after a bad DELETE, diff finds the rows and reapply --execute puts them
back. PostgreSQL 13 comes from Debian bullseye
(tests/majors/install-pg13.sh, run by `bash scripts/test` as root)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.archiving import (
    base_backup,
    start_archiving,
    switch_and_wait_archived,
)
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools, installed_servers
from restoredrill.models import RecoveryTarget
from tests.pgsetup import run_cli

pytestmark = [pytest.mark.slow]

LOST = 30  # rows the bad DELETE removes (ids 1..30 of 120)


@dataclass(frozen=True)
class Production13:
    cluster: LocalPostgres
    backups: Path
    archive: Path
    before_delete: datetime  # after the last insert's commit, before the DELETE
    delete_xid: int  # the bad DELETE's transaction

    def source(self) -> list[str]:
        return ["--base-backups", str(self.backups), "--wal-archive", str(self.archive)]


@pytest.fixture(scope="module")
def pg13() -> PgTools:
    found = next((s for s in installed_servers() if s.major_name == "13"), None)
    if found is None:
        pytest.skip(
            "PostgreSQL 13 is not installed (/usr/lib/postgresql/13/bin): "
            "`bash scripts/test` run as root installs it (tests/majors/install-pg13.sh)"
        )
    return found


@pytest.fixture(scope="module")
def prod13(pg13: PgTools) -> Iterator[Production13]:
    with local_postgres("test-production-13", tools=pg13) as cluster:
        archive = cluster.root / "archive"
        start_archiving(cluster, archive, {"track_commit_timestamp": "on"})
        with cluster.connect() as conn:
            conn.execute("CREATE TABLE acct (id int PRIMARY KEY, owner text NOT NULL)")
            conn.execute("INSERT INTO acct SELECT g, 'owner ' || g FROM generate_series(1, 100) g")
        backups = cluster.root / "backups"
        base_backup(cluster, backups / "base")
        # backup end times are recorded to the second: what follows commits after it
        time.sleep(1.01 - datetime.now().microsecond / 1_000_000)
        with cluster.connect() as conn:
            conn.execute(
                "INSERT INTO acct SELECT g, 'owner ' || g FROM generate_series(101, 120) g"
            )
            row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None and isinstance(row[0], datetime)
        time.sleep(0.05)  # the DELETE commits surely after the target time
        with cluster.connect() as conn:
            deleted = "DELETE FROM acct WHERE id <= %s RETURNING txid_current()"
            xid = conn.execute(deleted, (LOST,)).fetchone()
        switch_and_wait_archived(cluster)
        assert xid is not None
        yield Production13(cluster, backups, archive, row[0], int(xid[0]))


def _ids(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM acct ORDER BY id").fetchall()]


def test_plan_reports_major_13_and_reads_its_wal(prod13: Production13, pg13: PgTools) -> None:
    done = run_cli(["plan", *prod13.source(), "--target", "latest", "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(done.stdout)
    assert plan["base_backup"]["pg_version"] == "13"
    checks = {c["name"]: c for c in plan["checks"]}
    assert checks["server version"]["detail"] == f"PostgreSQL 13 from {pg13.bindir}"
    assert checks["WAL records"]["status"] == "ok"  # pg_waldump 13 read every record


def test_restore_to_a_time_picks_13_by_itself(prod13: Production13) -> None:
    target = prod13.before_delete.isoformat()
    done = run_cli(["restore", *prod13.source(), "--target-time", target, "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["base_check"] == "manifest"  # pg_verifybackup 13 checked the base
    assert result["plan"]["base_backup"]["pg_version"] == "13"


def test_latest_restore_verifies_against_the_13_production(prod13: Production13) -> None:
    request = RestoreRequest(prod13.backups, prod13.archive, RecoveryTarget(kind="latest"))
    with restored(request) as done:
        assert isinstance(done.sandbox, LocalPostgres)
        assert done.sandbox.tools.major_name == "13"
        assert _ids(done.dsn()) == list(range(LOST + 1, 121))
        verified = run_cli(["verify", done.dsn(), prod13.cluster.dsn(), "--json"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    document = json.loads(verified.stdout)
    assert document["status"] == "PASS"
    assert [t["restored"]["rows"] for t in document["tables"]] == [120 - LOST]


def test_incident_find_reads_13_wal_by_its_page_magic(prod13: Production13) -> None:
    """WAL alone (no PG_VERSION): its page magic picks pg_waldump 13 by itself."""
    done = run_cli(
        ["incident", "find", "--wal-archive", str(prod13.archive), "--dsn",
         prod13.cluster.dsn(), "--json"]
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    counts = [
        (t["table"], t["inserted"], t["deleted"])
        for i in json.loads(done.stdout)["incidents"]
        for t in i["tables"]
    ]
    assert ("public.acct", 0, LOST) in counts
    assert ("public.acct", 20, 0) in counts  # the inserts after the base backup


def test_recover_by_xid_restores_before_and_after_with_13(
    prod13: Production13, tmp_path: Path
) -> None:
    """An xid target is located in the WAL with pg_waldump 13 (the backups' major) before a
    backup is chosen; recover (a dry run) finds the rows the DELETE took."""
    done = run_cli(
        ["recover", *prod13.source(), "--incident-xid", str(prod13.delete_xid),
         "--table", "acct", "--to", prod13.cluster.dsn(), "--json"],
        cwd=tmp_path,  # the reviewable script is written to the working directory
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert [t["counts"]["lost"] for t in result["tables"]] == [LOST]
    assert result["reapply"]["executed"] is False and result["reapply"]["rows_selected"] == LOST


def test_diff_and_reapply_put_the_deleted_rows_back(prod13: Production13, tmp_path: Path) -> None:
    target = RecoveryTarget(kind="time", time=prod13.before_delete)
    production = prod13.cluster.dsn()
    out = tmp_path / "acct.json"
    with restored(RestoreRequest(prod13.backups, prod13.archive, target)) as done:
        assert done.sandbox.tools.major_name == "13"  # type: ignore[attr-defined]
        assert _ids(done.dsn()) == list(range(1, 121))
        found = run_cli(["diff", done.dsn(), production, "--table", "acct", "--out", str(out)])
    assert found.returncode == 1, found.stdout + found.stderr  # differences found
    assert json.loads(out.read_text())["tables"][0]["counts"]["lost"] == LOST
    applied = run_cli(["reapply", str(out), "--to", production, "--execute"])
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _ids(production) == list(range(1, 121))
    again = run_cli(["reapply", str(out), "--to", production, "--execute", "--json"])
    assert again.returncode == 0, again.stdout + again.stderr
    with psycopg.connect(production) as conn:
        row = conn.execute("SELECT owner FROM acct WHERE id = 7").fetchone()
    assert row == ("owner 7",)
