"""Several MariaDB connections on one snapshot, on a real server: a helper joins only when
nothing committed between the main snapshot and its own (the data it sees is then the main
one's), drops out when something did, and a fan-out over tables gives the one-connection
answers either way; a big table fingerprinted in key-range pieces sums to its whole value."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from restoredrill.drill.fanout import FanOut
from restoredrill.drill.manifest import create_manifest
from restoredrill.engines.mysql import fingerprint as my_fingerprint
from restoredrill.engines.mysql import shared_snapshot
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
            # statistics now, not recalculated in the background later: that writes redo,
            # and a helper then (rightly) drops out of a test that wants it in
            conn.rows(f"ANALYZE TABLE {table.name}")
        conn.close()
        yield running


def _open(server: LocalMySQL, engine: MySQLEngine) -> Any:
    conn = engine.connect(server.dsn("shared"), read_only=True)
    engine.pin_session(conn)
    return conn


def test_a_helper_joins_a_quiet_snapshot_and_sees_its_data(server: LocalMySQL) -> None:
    _quiet(server)
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


def test_an_open_writer_at_the_main_snapshot_shares_nothing(server: LocalMySQL) -> None:
    """Its commit could be written before the main snapshot's LSN was read and become
    visible only between the two snapshots: with a read-write transaction open, no token."""
    _quiet(server)
    engine = MySQLEngine()
    main = _open(server, engine)
    writer = server.connect("shared")
    try:
        writer.run("START TRANSACTION")
        writer.run("INSERT INTO t4 VALUES (9, 'open')")
        with engine.snapshot(main):
            assert engine.export_snapshot(main) is None
        writer.run("ROLLBACK")
        _quiet(server)
        with engine.snapshot(main):
            assert engine.export_snapshot(main) is not None
    finally:
        writer.close()
        main.close()


def test_a_writer_hidden_by_a_stale_transaction_list_shares_nothing(server: LocalMySQL) -> None:
    """INNODB_TRX is a cache InnoDB does not refresh while someone reads it more often than
    every 0.1 s (a monitor): an open writer is then missing from it. No token then, while
    the polling lasts; one as soon as it stops and nothing is open."""
    _quiet(server)
    engine = MySQLEngine()
    main = _open(server, engine)
    writer = server.connect("shared")
    stop = threading.Event()

    def poll() -> None:
        monitor = server.connect()
        try:
            while not stop.is_set():
                monitor.rows("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
                time.sleep(0.02)
        finally:
            monitor.close()

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        time.sleep(0.3)
        writer.run("START TRANSACTION")
        writer.run("INSERT INTO t4 VALUES (9, 'open')")
        with engine.snapshot(main):
            assert engine.export_snapshot(main) is None
        writer.run("ROLLBACK")
        with engine.snapshot(main):  # nothing open, but the list cannot show it: no token
            assert engine.export_snapshot(main) is None
    finally:
        stop.set()
        poller.join()
        writer.close()
    try:
        _quiet(server)
        with engine.snapshot(main):
            assert engine.export_snapshot(main) is not None
    finally:
        main.close()


def _quiet(server: LocalMySQL) -> None:
    """Wait out InnoDB's background commits (statistics recalculated after the fixture's
    inserts move the LSN for a few seconds; a helper would rightly drop out meanwhile)."""
    conn = server.connect()
    try:
        last, steady = shared_snapshot.redo_lsn(conn), 0
        for _ in range(90):
            time.sleep(0.5)
            now = shared_snapshot.redo_lsn(conn)
            steady = steady + 1 if now == last else 0
            if steady == 3:  # 1.5 s without redo (one quiet half second was not enough in CI)
                return
            last = now
    finally:
        conn.close()


def _fan_out(server: LocalMySQL, write_after_export: bool) -> tuple[dict[str, Any], set[int]]:
    _quiet(server)
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


def test_a_big_table_in_pieces_sums_to_its_whole_fingerprint(
    server: LocalMySQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(my_fingerprint, "PIECE_MIN_ROWS", 10)
    engine = MySQLEngine()
    conn = server.connect("shared")
    conn.run("CREATE TABLE big (id BIGINT PRIMARY KEY, v VARCHAR(10), n INT)")
    conn.run("CREATE TABLE by_text (k VARCHAR(10) PRIMARY KEY, v INT)")
    conn.run("CREATE TABLE keyless (v INT)")
    # gaps, negative keys, NULLs and duplicate values: pieces must still cover every row once
    conn.run(
        "INSERT INTO big SELECT CAST(seq AS SIGNED) * 7 - 3000,"
        " IF(seq % 5 = 0, NULL, CONCAT('v', seq % 9)), seq % 3 FROM seq_1_to_1000"
    )
    conn.run("INSERT INTO by_text SELECT CONCAT('k', seq), seq FROM seq_1_to_100")
    conn.run("INSERT INTO keyless SELECT seq % 4 FROM seq_1_to_100")
    conn.run("ANALYZE TABLE big, by_text, keyless")
    try:
        table = TableName("", "big")
        for where in (None, "n = 1"):
            pieces = engine.fingerprint_pieces(conn, table, where, 3)
            assert pieces is not None and len(pieces) == 3
            parts = [engine.fingerprint(conn, table, w) for w in pieces]
            assert sum(p.rows for p in parts) == engine.fingerprint(conn, table, where).rows
            assert engine.add_fingerprints(parts) == engine.fingerprint(conn, table, where)
        for other in ("by_text", "keyless"):  # no integer key: one statement
            assert engine.fingerprint_pieces(conn, TableName("", other), None, 3) is None
        assert engine.fingerprint_pieces(conn, table, None, 1) is None

        # a manifest splits it over its connections and records the whole-table values
        built = create_manifest(server.dsn("shared"))
        for name in ("big", "by_text", "keyless", "t0"):
            assert built.tables[name] == engine.fingerprint(conn, TableName("", name))
    finally:
        conn.run("DROP TABLE big, by_text, keyless")
        conn.close()
