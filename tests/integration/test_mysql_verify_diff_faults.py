"""Faults injected into verify and diff on a real MariaDB, through the CLI in its own process:
production given as the restored side, a table locked in production (LOCK TABLES ... WRITE:
a metadata lock), a table on one side only, and reapply's archive database."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from tests.integration.test_verify_diff_faults import restoredrill

pytestmark = pytest.mark.slow
_names = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMySQL]:
    with local_mysql("test-mysql-vd-faults") as instance:
        instance.init_datadir()
        instance.start(init_file=False)
        yield instance


def _run(server: LocalMySQL, dbname: str, *statements: str) -> None:
    conn = server.connect(dbname)
    try:
        for statement in statements:
            conn.run(statement)
    finally:
        conn.close()


@pytest.fixture
def dbs(server: LocalMySQL) -> tuple[str, str]:
    """(restored DSN, production DSN): two databases of the test server, same table."""
    n = next(_names)
    names = (f"restored_{n}", f"production_{n}")
    for name in names:
        _run(
            server,
            "",
            f"CREATE DATABASE {name} CHARACTER SET utf8mb4",
            f"CREATE TABLE {name}.items (id INT PRIMARY KEY, label VARCHAR(20))",
            f"INSERT INTO {name}.items VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        )
    return server.dsn(names[0]), server.dsn(names[1])


def _leftover_sessions(server: LocalMySQL, dbname: str, *but: int) -> int:
    conn = server.connect()
    try:
        rows = conn.rows(
            "SELECT ID FROM information_schema.PROCESSLIST"
            f" WHERE DB = {my.literal(dbname)} AND ID <> CONNECTION_ID()"
        )
    finally:
        conn.close()
    return len([r for r in rows if int(r[0]) not in but])


def test_verify_and_diff_refuse_production_against_itself(dbs: tuple[str, str]) -> None:
    restored, production = dbs
    for args in (
        ("verify", production, production),
        ("diff", production, production, "--table", "items"),
    ):
        run = restoredrill(*args)
        assert run.code == 2, run.err
        assert run.out == "" and run.err.count("\n") == 1
        assert "is the reference itself" in run.err and production in run.err
    run = restoredrill("verify", restored, production)
    assert run.code == 0, run.err


def test_verify_and_diff_give_up_on_a_table_locked_in_production(
    server: LocalMySQL, dbs: tuple[str, str]
) -> None:
    restored, production = dbs
    dbname = my.parse_dsn(production).database
    assert dbname is not None
    locker = server.connect(dbname)
    try:
        locker.run("LOCK TABLES items WRITE")
        run = restoredrill("verify", restored, production, "--lock-timeout", "1s")
        assert run.code == 3, run.err
        assert run.seconds < 30 and run.err.count("\n") == 1
        assert "items" in run.err and "--lock-timeout 1s" in run.err
        assert "raise --lock-timeout" in run.err

        run = restoredrill("diff", restored, production, "--table", "items", "--lock-timeout", "1s")
        assert run.code == 3, run.err
        assert run.seconds < 30 and run.err.count("\n") == 1
        assert "--lock-timeout 1s" in run.err
        assert _leftover_sessions(server, dbname, int(locker.raw.thread_id())) == 0
    finally:
        locker.close()


def test_a_table_on_one_side_only_is_a_difference(server: LocalMySQL, dbs: tuple[str, str]) -> None:
    restored, production = dbs
    restored_db = my.parse_dsn(restored).database
    assert restored_db is not None
    _run(
        server, restored_db, "CREATE TABLE gone (id INT PRIMARY KEY)", "INSERT INTO gone VALUES (7)"
    )
    run = restoredrill("verify", restored, production, "--json")
    assert run.code == 1, run.err
    by_table = {t["table"]: t for t in json.loads(run.out)["tables"]}
    assert by_table["gone"]["status"] == "FAIL"
    assert by_table["gone"]["detail"] == "missing in the reference"

    run = restoredrill("diff", restored, production, "--table", "gone")
    assert run.code == 1, run.err
    assert "gone missing in production (1 row(s) in the restored database)" in run.out


def test_the_archive_database_is_never_compared(server: LocalMySQL, dbs: tuple[str, str]) -> None:
    restored, production = dbs
    _run(
        server,
        "",
        "CREATE DATABASE IF NOT EXISTS restoredrill_archive",
        "CREATE TABLE IF NOT EXISTS restoredrill_archive.items_x (id INT PRIMARY KEY)",
        "INSERT IGNORE INTO restoredrill_archive.items_x VALUES (1)",
    )
    run = restoredrill("verify", restored, production, "--json")
    assert run.code == 0, run.err
    assert [t["table"] for t in json.loads(run.out)["tables"]] == ["items"]
