"""Several tables at once on connections that share one snapshot (real PostgreSQL): helpers
see exactly the main connection's data, a refused helper only costs speed, a failure on any
connection stops all of them, and no connection is left open."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from restoredrill.drill.fanout import FanOut
from restoredrill.drill.manifest import create_manifest
from restoredrill.drill.verify_sides import connect_side
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres.engine import PostgresEngine
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from tests.pgsetup import wait_for

TABLES = [TableName("public", f"t{n}") for n in range(6)]


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-fanout", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        with sandbox.connect() as conn:
            for table in TABLES:
                conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(table.identifier()))
                conn.execute(
                    sql.SQL("INSERT INTO {} SELECT generate_series(1, 100)").format(
                        table.identifier()
                    )
                )
        yield sandbox


def _others(cluster: LocalPostgres) -> int:
    """Client connections other than the one asking, once closed ones are gone: a backend
    leaves pg_stat_activity a moment after its client closed (seen under load), so wait up
    to 5 s for 0. Asked on one connection (autocommit: a fresh view each time): a connection
    per question would linger in the next answer itself (seen in CI: 1 == 0)."""
    with cluster.connect() as conn:

        def count() -> int:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
            assert row is not None
            return int(str(row[0]))

        wait_for(lambda: count() == 0, timeout=5)
        return count()


def _opener(engine: PostgresEngine, cluster: LocalPostgres) -> Any:
    def open_helper() -> Any:
        conn = engine.connect(cluster.dsn(), read_only=True)
        engine.pin_session(conn)
        return conn

    return open_helper


def test_helpers_share_the_main_snapshot(cluster: LocalPostgres) -> None:
    """Rows committed after the main transaction took its snapshot are invisible to every
    helper too, and the helpers did take part."""
    engine = PostgresEngine()
    main = engine.connect(cluster.dsn(), read_only=True)
    seen: dict[str, tuple[int, int]] = {}
    lock = threading.Lock()

    def count(conn: Any, table: TableName) -> None:
        row = conn.execute(
            sql.SQL("SELECT count(*), pg_backend_pid(), pg_sleep(0.2) FROM {}").format(
                table.identifier()
            )
        ).fetchone()
        with lock:
            seen[table.name] = (int(row[0]), int(row[1]))

    try:
        with engine.snapshot(main):
            main.execute("SELECT 1")  # takes the snapshot
            with cluster.connect() as writer:
                for table in TABLES:
                    writer.execute(sql.SQL("INSERT INTO {} VALUES (0)").format(table.identifier()))
            FanOut[TableName](engine, _opener(engine, cluster), width=3).run(main, TABLES, count)
    finally:
        engine.close(main)
    assert {name: rows for name, (rows, _) in seen.items()} == {t.name: 100 for t in TABLES}
    assert len({pid for _, pid in seen.values()}) == 3
    assert _others(cluster) == 0
    with cluster.connect() as conn:  # the inserts did happen
        assert conn.execute("SELECT count(*) FROM t0").fetchone() == (101,)
        for table in TABLES:
            conn.execute(sql.SQL("DELETE FROM {} WHERE id = 0").format(table.identifier()))


def test_refused_helpers_cost_only_speed(cluster: LocalPostgres) -> None:
    engine = PostgresEngine()
    main = engine.connect(cluster.dsn(), read_only=True)
    done: list[str] = []

    def refuse() -> Any:
        raise psycopg.OperationalError("too many clients already")

    try:
        with engine.snapshot(main):
            FanOut[TableName](engine, refuse, width=4).run(
                main, TABLES, lambda conn, table: done.append(table.name)
            )
    finally:
        engine.close(main)
    assert sorted(done) == sorted(t.name for t in TABLES)


def test_a_failure_stops_every_connection(cluster: LocalPostgres) -> None:
    """One task fails while others sit in long statements: those are cancelled, the first
    error is raised, and every helper connection is closed."""
    engine = PostgresEngine()
    main = engine.connect(cluster.dsn(), read_only=True)

    def work(conn: Any, table: TableName) -> None:
        if table.name == "t1":
            raise RuntimeError("boom on t1")
        conn.execute("SELECT pg_sleep(30)")

    try:
        with (
            pytest.raises((RuntimeError, psycopg.errors.QueryCanceled)) as info,
            engine.snapshot(main),
        ):
            FanOut[TableName](engine, _opener(engine, cluster), width=3).run(main, TABLES, work)
    finally:
        engine.close(main)
    assert "boom on t1" in str(info.value)
    assert _others(cluster) == 0


def test_manifest_uses_several_connections_and_matches_one(cluster: LocalPostgres) -> None:
    """The manifest built on shared-snapshot helpers equals one built table by table."""
    together = create_manifest(cluster.dsn())
    one_by_one = {
        t.display: create_manifest(cluster.dsn(), tables=[t.display]).tables[t.display]
        for t in TABLES
    }
    assert together.tables == one_by_one
    assert list(together.tables) == [t.display for t in TABLES]
    assert _others(cluster) == 0


def test_cli_with_a_role_limited_to_one_connection(cluster: LocalPostgres, tmp_path: Path) -> None:
    """Production allows this role one connection: manifest and verify run on it alone (the
    helpers are refused), exit 0 with every table, and leave no connection behind."""
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE lonely LOGIN CONNECTION LIMIT 1")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO lonely")
    production = cluster.dsn(user="lonely")
    out = tmp_path / "m.json"
    made = _cli("manifest", production, "--out", str(out))
    assert made.returncode == 0, made.stderr
    tables = json.loads(out.read_text())["tables"]
    assert sorted(tables) == sorted(t.display for t in TABLES)
    checked = _cli("verify", cluster.dsn(), str(out), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["status"] == "PASS"
    assert _others(cluster) == 0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "restoredrill", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_restored_side_may_use_parallel_workers_production_side_as_configured(
    cluster: LocalPostgres,
) -> None:
    """A restored copy keeps production's postgresql.conf: if that turned parallel query off,
    verify's restored connections turn it back on (at least 2 workers); production's own
    setting is left as its DBA made it."""
    engine = PostgresEngine()
    with cluster.connect() as admin:
        admin.execute("ALTER SYSTEM SET max_parallel_workers_per_gather = 0")
        admin.execute("SELECT pg_reload_conf()")
    try:
        restored = connect_side(engine, cluster.dsn(), restored=True)
        production = connect_side(engine, cluster.dsn())
        try:
            assert _setting(restored) == "2"
            assert _setting(production) == "0"
        finally:
            engine.close(restored)
            engine.close(production)
    finally:
        with cluster.connect() as admin:
            admin.execute("ALTER SYSTEM RESET max_parallel_workers_per_gather")
            admin.execute("SELECT pg_reload_conf()")


def _setting(conn: Any) -> str:
    row = conn.execute("SHOW max_parallel_workers_per_gather").fetchone()
    return str(row[0])
