"""Several MariaDB connections on one snapshot, on a real server: a helper joins only when
nothing committed between the main snapshot and its own (the data it sees is then the main
one's), drops out when something did, and a fan-out over tables gives the one-connection
answers either way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from restoredrill.drill.fanout import FanOut
from restoredrill.engines.mysql.engine import MySQLEngine
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.engines.names import TableName
from restoredrill.models import TableFingerprint

pytestmark = pytest.mark.slow
TABLES = [TableName("", f"t{n}") for n in range(6)]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMySQL]:
    with local_mysql("test-mysql-shared-snapshot") as running:
        running.init_datadir()
        running.start(init_file=False)
        setup = running.connect()
        setup.run("CREATE DATABASE shared")
        setup.close()
        conn = running.connect("shared")
        for table in TABLES:
            conn.run(f"CREATE TABLE {table.name} (id INT PRIMARY KEY, v VARCHAR(10))")
            conn.run(f"INSERT INTO {table.name} VALUES (1, 'a'), (2, 'b')")
        conn.close()
        yield running


def _open(server: LocalMySQL, engine: MySQLEngine) -> Any:
    conn = engine.connect(server.dsn("shared"), read_only=True)
    engine.pin_session(conn)
    return conn


def test_a_helper_joins_a_quiet_snapshot_and_sees_its_data(server: LocalMySQL) -> None:
    engine = MySQLEngine()
    main, helper = _open(server, engine), _open(server, engine)
    try:
        with engine.snapshot(main):
            token = engine.export_snapshot(main)
            assert token is not None
            with engine.snapshot(helper):
                engine.join_snapshot(helper, token)
                assert helper.rows("SELECT COUNT(*) FROM t0") == [(2,)]
    finally:
        main.close()
        helper.close()


def test_a_commit_between_the_snapshots_keeps_the_helper_out(server: LocalMySQL) -> None:
    engine = MySQLEngine()
    main, helper = _open(server, engine), _open(server, engine)
    writer = server.connect("shared")
    try:
        with engine.snapshot(main):
            token = engine.export_snapshot(main)
            assert token is not None
            writer.run("INSERT INTO t5 VALUES (3, 'late')")  # autocommit: committed now
            with engine.snapshot(helper):
                with pytest.raises(pymysql.err.OperationalError, match="changed between"):
                    engine.join_snapshot(helper, token)
                # what the helper would have seen differs from the main snapshot
                assert helper.rows("SELECT COUNT(*) FROM t5") == [(3,)]
            assert main.rows("SELECT COUNT(*) FROM t5") == [(2,)]
    finally:
        writer.run("DELETE FROM t5 WHERE id = 3")
        for conn in (main, helper, writer):
            conn.close()


def _fan_out(server: LocalMySQL, write_after_export: bool) -> tuple[dict[str, Any], set[int]]:
    engine = MySQLEngine()
    main = _open(server, engine)
    found: dict[str, TableFingerprint] = {}
    connections: set[int] = set()
    lock = threading.Lock()
    writer = server.connect("shared")

    def work(conn: Any, table: TableName) -> None:
        fingerprint = engine.fingerprint(conn, table)
        time.sleep(0.3)  # leave the helpers time to connect before main has done everything
        with lock:
            found[table.name] = fingerprint
            connections.add(id(conn))

    class Fan(FanOut[TableName]):
        def _export(self, conn: Any) -> str | None:
            token = super()._export(conn)
            if write_after_export:
                writer.run("UPDATE t3 SET v = 'moved' WHERE id = 1")
            return token

    try:
        with engine.snapshot(main):
            Fan(engine, lambda: _open(server, engine)).run(main, TABLES, work)
    finally:
        if write_after_export:
            writer.run("UPDATE t3 SET v = 'a' WHERE id = 1")
        writer.close()
        main.close()
    return found, connections


def test_fan_out_uses_several_connections_only_when_they_share_the_snapshot(
    server: LocalMySQL,
) -> None:
    single = {t.name: MySQLEngine().fingerprint(_open(server, MySQLEngine()), t) for t in TABLES}
    quiet, quiet_connections = _fan_out(server, write_after_export=False)
    assert quiet == single
    assert len(quiet_connections) > 1
    busy, busy_connections = _fan_out(server, write_after_export=True)
    assert busy == single  # the main snapshot's answer, although t3 changed meanwhile
    assert len(busy_connections) == 1
