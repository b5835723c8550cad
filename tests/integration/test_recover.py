"""recover end to end on a small archive (two real restores, in parallel), and reapply
refusing a restored sandbox — which has the SAME system identifier as production."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from restoredrill.drill.diff import diff, load_diff
from restoredrill.drill.reapply import ReapplyOptions, reapply
from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.archiving import (
    base_backup,
    start_archiving,
    switch_and_wait_archived,
)
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import ReapplyRefused
from restoredrill.ledger import Ledger
from restoredrill.models import RecoveryTarget
from tests.pgsetup import cli

pytestmark = pytest.mark.slow

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2));
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users
                     ON DELETE CASCADE, amount numeric(10,2));
INSERT INTO users SELECT g, 'user ' || g, g FROM generate_series(1, 200) g;
INSERT INTO orders SELECT g, 1 + g % 200, g / 4.0 FROM generate_series(1, 400) g;
"""
INCIDENT = """
BEGIN;
DELETE FROM users WHERE id % 10 = 0;
UPDATE users SET balance = 0 WHERE id % 7 = 0;
COMMIT;
"""


@dataclass
class Incident:
    production: LocalPostgres
    backups: Path
    archive: Path
    before: datetime
    after: datetime


def _now(conn: psycopg.Connection[tuple[object, ...]]) -> datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None and isinstance(row[0], datetime)
    time.sleep(0.05)
    return row[0]


@pytest.fixture(scope="module")
def incident(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Incident]:
    """users/orders · base backup · T1 · the incident (deletes, cascades, changes) · T2 ·
    later legitimate writes: a new user, a later edit of a row the incident changed, an
    edit of a row it did not touch."""
    with local_postgres("test-recover-production", tools=pg_tools) as cluster:
        archive = cluster.root / "archive"
        start_archiving(cluster, archive)
        backups = tmp_path_factory.mktemp("recover") / "backups"
        with cluster.connect() as conn:
            conn.execute(SCHEMA)
        base_backup(cluster, backups / "b1", fmt="tar")
        time.sleep(1.1)  # backup end times are recorded to the second
        with cluster.connect() as conn:
            conn.execute("UPDATE users SET name = 'renamed before' WHERE id = 1")
            before = _now(conn)
            conn.execute(INCIDENT)
            after = _now(conn)
            conn.execute("INSERT INTO users VALUES (1000, 'new since', 5)")
            conn.execute("UPDATE users SET name = 'edited later' WHERE id = 7")
            conn.execute("UPDATE users SET name = 'touched' WHERE id = 3")
        switch_and_wait_archived(cluster)
        yield Incident(cluster, backups, archive, before, after)


def _users(dsn: str) -> dict[int, tuple[str, str | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id, name, balance::text FROM users").fetchall()
    return {int(str(r[0])): (str(r[1]), None if r[2] is None else str(r[2])) for r in rows}


def _count(dsn: str, statement: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(statement).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_recover_puts_back_exactly_what_the_incident_destroyed(
    incident: Incident, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    production = incident.production.dsn()
    out = tmp_path / "incident.json"
    code, stdout, _ = cli(
        [
            "recover",
            "--base-backups",
            str(incident.backups),
            "--wal-archive",
            str(incident.archive),
            "--before",
            incident.before.isoformat(),
            "--after",
            incident.after.isoformat(),
            "--table",
            "users",
            "--table",
            "orders",
            "--to",
            production,
            "--out",
            str(out),
            "--json",
        ],
        capsys,
    )
    result = json.loads(stdout)
    deleted = [n for n in range(1, 201) if n % 10 == 0]
    changed = [n for n in range(1, 201) if n % 7 == 0 and n % 10 != 0]
    lost_orders = sum(1 for g in range(1, 401) if (1 + g % 200) % 10 == 0)
    counts = {t["table"]: t["counts"] for t in result["tables"]}
    assert counts["public.users"] == {"lost": len(deleted), "new": 0, "changed": len(changed)}
    assert counts["public.orders"] == {"lost": lost_orders, "new": 0, "changed": 0}
    dry = result["reapply"]
    assert not dry["executed"]
    assert code == 1  # the row edited after the incident is a conflict
    assert [c["key"] for c in dry["conflicts"]] == [{"id": "7"}]
    users_plan = next(t for t in dry["tables"] if t["table"] == "public.users")
    assert users_plan["inserted"] == len(deleted) and users_plan["updated"] == len(changed) - 1

    # the diff's production is the --to server, not the after-incident sandbox
    document = load_diff(out)
    assert document.mode == "incident" and document.incident is not None
    assert document.production.port == incident.production.port
    assert document.incident.port != incident.production.port
    assert document.production.system_identifier == document.restored.system_identifier

    before = _users(production)
    report = reapply(out, production, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.conflict_count) == (
        len(deleted) + lost_orders,
        len(changed) - 1,
        1,
    )
    after = _users(production)
    assert all(after[n] == (f"user {n}", f"{n}.00") for n in deleted)
    assert all(after[n][1] == f"{n}.00" for n in changed if n != 7)
    assert after[7] == ("edited later", "0.00")  # edited since the incident: left alone
    assert after[3] == before[3] == ("touched", "3.00")  # later legitimate write kept
    assert after[1] == ("renamed before", "1.00")
    assert after[1000] == ("new since", "5.00")
    assert _count(production, "SELECT count(*) FROM orders") == 400
    again = reapply(out, production, ReapplyOptions(execute=True))
    assert (again.inserted, again.updated) == (0, 0)
    # the recover (a dry run) and both executing reapplies are on record, nothing else
    with Ledger() as history:
        entries = [(e.kind, e.verdict) for e in history.records()]
    assert entries == [("recover", "DRY RUN"), ("reapply", "CONFLICTS"), ("reapply", "CONFLICTS")]


def test_reapply_refuses_the_restored_sandbox(incident: Incident, tmp_path: Path) -> None:
    """A restored copy has production's system identifier; the instance identity (start
    time, port, data directory) tells them apart."""
    request = RestoreRequest(
        incident.backups, incident.archive, RecoveryTarget(kind="time", time=incident.before)
    )
    out = tmp_path / "users.json"
    with restored(request) as done:
        document = diff(done.dsn(), incident.production.dsn(), "users", out=out)
        assert document.restored.system_identifier == document.production.system_identifier
        with pytest.raises(ReapplyRefused, match="restored database of this diff"):
            reapply(out, done.dsn(), ReapplyOptions(execute=True))
        with pytest.raises(ReapplyRefused):
            reapply(out, done.dsn())  # the dry run refuses too
