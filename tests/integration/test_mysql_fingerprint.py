"""The MariaDB fingerprint (my-crc32-reverse-sum/2) on a real server: every change inside a
row changes the checksum (a value, NULL swapped with '', two columns' values swapped, text
that looks like the row separator), rows are counted and order does not matter, and tables
mixing collations, character sets, blobs, JSON and geometry hash without an error."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pymysql
import pytest

from restoredrill.engines.mysql import fingerprint as my_fingerprint
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import local_mysql
from restoredrill.engines.names import TableName
from restoredrill.models import TableFingerprint

pytestmark = pytest.mark.slow
_names = itertools.count()

COLUMNS = (
    "id INT NOT NULL PRIMARY KEY, a VARCHAR(20), b VARCHAR(20) COLLATE utf8mb4_bin,"
    " n INT NOT NULL, d DECIMAL(6,2), c VARCHAR(5) CHARACTER SET latin1,"
    " bl BLOB, j JSON, g POINT, t TEXT COLLATE utf8mb4_unicode_ci, vb VARBINARY(4)"
)
BASE = "(1, 'x', 'y', 7, 1.50, 'é', X'00FF', '{\"k\":1}', POINT(1,2), 'long', X'01')"


@pytest.fixture(scope="module")
def conn() -> Iterator[my.MyConn]:
    with local_mysql("test-mysql-fingerprint") as server:
        server.init_datadir()
        server.start(init_file=False)
        setup = server.connect()
        setup.run("CREATE DATABASE fp CHARACTER SET utf8mb4")
        setup.close()
        connection = server.connect("fp")
        my.pin_session(connection)
        yield connection
        connection.close()


def _table(conn: my.MyConn, *rows: str, columns: str = COLUMNS) -> TableName:
    name = f"t{next(_names)}"
    conn.run(f"CREATE TABLE {name} ({columns})")
    if rows:
        conn.run(f"INSERT INTO {name} VALUES {', '.join(rows)}")
    return TableName("", name)


def _fingerprint_of(conn: my.MyConn, *rows: str, columns: str = COLUMNS) -> TableFingerprint:
    return my_fingerprint.fingerprint(conn, _table(conn, *rows, columns=columns))


def _row(**changes: str) -> str:
    values = dict(
        id="1", a="'x'", b="'y'", n="7", d="1.50", c="'é'", bl="X'00FF'", j="'{\"k\":1}'",
        g="POINT(1,2)", t="'long'", vb="X'01'",
    )  # fmt: skip
    values.update(changes)
    return "(" + ", ".join(values.values()) + ")"


def test_algorithm_name_is_recorded() -> None:
    assert my_fingerprint.CHECKSUM_ALGORITHM == "my-crc32-reverse-sum/2"


def test_the_same_row_gives_the_same_fingerprint(conn: my.MyConn) -> None:
    assert _row() == BASE
    first, second = _fingerprint_of(conn, BASE), _fingerprint_of(conn, BASE)
    assert first == second and first.rows == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"a": "'X'"},  # a changed value (equal under the column's collation)
        {"n": "8"},
        {"d": "1.51"},
        {"c": "'e'"},
        {"bl": "X'00FE'"},
        {"j": "'{\"k\": 1}'"},
        {"g": "POINT(2,1)"},
        {"t": "'LONG'"},
        {"vb": "X'0100'"},
        {"a": "'y'", "b": "'x'"},  # the pair of column values swapped in one row
        {"a": "NULL", "b": "''"},
        {"a": "''", "b": "NULL"},
        {"a": "'x'',''y'", "b": "NULL"},  # one value that reads like two quoted ones
        {"a": "'x\\\\'", "b": "'y'"},
        {"d": "NULL"},
        {"vb": "X''"},
        {"vb": "NULL"},
    ],
    ids=lambda changes: ",".join(f"{k}={v}" for k, v in changes.items()),
)
def test_a_change_inside_a_row_changes_the_checksum(
    conn: my.MyConn, changes: dict[str, str]
) -> None:
    base = _fingerprint_of(conn, _row())
    changed = _fingerprint_of(conn, _row(**changes))
    assert changed.rows == base.rows
    assert changed.checksum != base.checksum


def test_null_and_empty_string_swapped_between_columns(conn: my.MyConn) -> None:
    columns = "id INT PRIMARY KEY, a VARCHAR(5), b VARCHAR(5)"
    before = _fingerprint_of(conn, "(1, NULL, '')", columns=columns)
    after = _fingerprint_of(conn, "(1, '', NULL)", columns=columns)
    both_null = _fingerprint_of(conn, "(1, NULL, NULL)", columns=columns)
    both_empty = _fingerprint_of(conn, "(1, '', '')", columns=columns)
    assert len({before.checksum, after.checksum, both_null.checksum, both_empty.checksum}) == 4


def test_order_does_not_matter_and_duplicates_count(conn: my.MyConn) -> None:
    columns = "a INT, b VARCHAR(5)"  # no key: duplicate rows are possible
    one = _fingerprint_of(conn, "(1, 'a')", "(2, 'b')", "(2, 'b')", columns=columns)
    other = _fingerprint_of(conn, "(2, 'b')", "(1, 'a')", "(2, 'b')", columns=columns)
    assert one == other and one.rows == 3
    # a pair of duplicates replaced by another pair: a BIT_XOR would not see it
    pairs = _fingerprint_of(conn, "(1, 'a')", "(3, 'c')", "(3, 'c')", columns=columns)
    assert pairs.rows == 3 and pairs.checksum != one.checksum


def test_empty_table_and_predicate(conn: my.MyConn) -> None:
    empty = _fingerprint_of(conn)
    assert empty.rows == 0 and empty.checksum == "0" * 32
    table = _table(conn, _row(), _row(id="2", n="9"))
    only_first = my_fingerprint.fingerprint(conn, table, "`id` = 1")
    assert only_first == _fingerprint_of(conn, _row())


def test_record_format_does_not_change_the_fingerprint(conn: my.MyConn) -> None:
    """Why not CHECKSUM TABLE: the same rows in a table created with the pre-10.1 temporal
    format (what a physical copy of an old table keeps; a dump reloads it in the new one)
    give another CHECKSUM TABLE value, and the same fingerprint."""
    columns = "id INT PRIMARY KEY, d DATETIME(6), t TIME(3), s TIMESTAMP(2) NULL"
    row = "(1, '2026-01-01 10:00:00.123456', '-01:02:03.5', '2026-01-01 00:00:00.25'), (2, NULL, '00:00:00', NULL)"  # noqa: E501
    conn.run("SET GLOBAL mysql56_temporal_format = OFF")
    try:
        old = _table(conn, row, columns=columns)
    finally:
        conn.run("SET GLOBAL mysql56_temporal_format = ON")
    new = _table(conn, row, columns=columns)
    assert "mariadb-5.3" in str(conn.rows(f"SHOW CREATE TABLE {old.name}")[0][1])
    assert my_fingerprint.fingerprint(conn, old) == my_fingerprint.fingerprint(conn, new)
    checksums = [conn.rows(f"CHECKSUM TABLE {t.name}")[0][1] for t in (old, new)]
    assert checksums[0] != checksums[1]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("REPEAT('a', 600)", "CONCAT(REPEAT('a', 599), 'b')"),  # past 512 bytes: MD5
        ("REPEAT('a', 512)", "REPEAT('a', 513)"),  # QUOTEd against MD5
        ("REPEAT('é', 300)", "CONCAT(REPEAT('é', 299), 'e')"),
    ],
)
def test_long_values_change_the_checksum(conn: my.MyConn, before: str, after: str) -> None:
    for column in ("t", "bl", "j"):
        if column == "j":
            before, after = f"JSON_ARRAY({before})", f"JSON_ARRAY({after})"
        base = _fingerprint_of(conn, _row(**{column: before}))
        changed = _fingerprint_of(conn, _row(**{column: after}))
        assert base.rows == changed.rows == 1
        assert base.checksum != changed.checksum, column


def test_a_table_whose_row_text_could_pass_max_allowed_packet_is_refused() -> None:
    """The server makes a text over max_allowed_packet NULL, which would drop that row from
    the sums unnoticed: such a table is an error, never a checksum."""
    with local_mysql("test-mysql-fingerprint-packet") as server:
        server.init_datadir()
        server.start(init_file=False)
        setup = server.connect()
        setup.run("CREATE DATABASE fp CHARACTER SET utf8mb4")
        setup.run("SET GLOBAL max_allowed_packet = 1024")  # the server's minimum
        setup.close()
        small = server.connect("fp")
        my.pin_session(small)
        small.run("CREATE TABLE narrow (id INT PRIMARY KEY, a VARCHAR(20))")
        small.run("CREATE TABLE wide (id INT PRIMARY KEY, t TEXT)")
        assert my_fingerprint.fingerprint(small, TableName("", "narrow")).rows == 0
        with pytest.raises(pymysql.err.NotSupportedError, match="max_allowed_packet"):
            my_fingerprint.fingerprint(small, TableName("", "wide"))
        small.close()
