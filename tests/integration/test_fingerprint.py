"""Fingerprints computed in a real PostgreSQL: exact for tricky values, order-independent,
duplicates counted, independent of session settings; tables, keys and hostile identifiers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import ConfigError
from restoredrill.models import TableFingerprint

_counter = itertools.count()


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    """One cluster for this module (its tests only create uniquely named tables)."""
    with local_postgres("test-fingerprint", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def conn(cluster: LocalPostgres) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with cluster.connect() as connection:
        pg.pin_session(connection)
        yield connection


def _table_with(conn: psycopg.Connection[tuple[object, ...]], coltype: str, values: str) -> str:
    """A new table ``public.vN (v coltype)`` holding ``VALUES values`` (SQL literals)."""
    name = f"v{next(_counter)}"
    table = sql.Identifier("public", name)
    # the column type and values are SQL text from this module's own tables of cases
    conn.execute(sql.SQL("CREATE TABLE {} (v {})").format(table, sql.SQL(coltype)))
    conn.execute(sql.SQL("INSERT INTO {} VALUES {}").format(table, sql.SQL(values)))
    return name


def _fp(conn: psycopg.Connection[tuple[object, ...]], name: str) -> TableFingerprint:
    return pg.fingerprint(conn, pg.TableName("public", name))


# (column type, value A, value B, should the fingerprints be equal?)
PAIRS = [
    ("text", "(NULL)", "('')", False),
    ("text", "('')", "('')", True),
    ("text", "('NULL')", "(NULL)", False),
    ("numeric", "(1.10)", "(1.1)", False),
    ("numeric", "(1.10)", "(1.10)", True),
    ("numeric", "('NaN')", "('Infinity')", False),
    ("numeric", "('-Infinity')", "('Infinity')", False),
    ("float8", "('-0')", "('0')", False),
    ("float8", "('NaN')", "('NaN')", True),
    ("float8", "('NaN')", "('Infinity')", False),
    ("float8", "('Infinity')", "('-Infinity')", False),
    ("float8", "(0.1::float8 + 0.2::float8)", "(0.3)", False),
    ("float4", "(1.0000001)", "(1.0000002)", False),
    ("int[]", "('{}')", "('{NULL}')", False),
    ("text[]", "('{NULL}')", "('{\"NULL\"}')", False),
    ("int[]", "('{1,2}')", "('{1,2}')", True),
    ("jsonb", """('{"a": 1, "b": 2}')""", """('{"b":2,"a":1}')""", True),
    ("json", """('{"a": 1, "b": 2}')""", """('{"b":2,"a":1}')""", False),
    ("jsonb", "('1.0')", "('1')", False),
    ("bytea", "('\\x00')", "('\\x0000')", False),
    ("bytea", "('\\xdeadbeef')", "(decode('3q2+7w==', 'base64'))", True),
    ("bytea", "('')", "(NULL)", False),
    ("timestamptz", "('2024-01-01 12:00:00+02')", "('2024-01-01 10:00:00+00')", True),
    ("timestamptz", "('2024-01-01 12:00:00+02')", "('2024-01-01 12:00:00+00')", False),
    ("timestamptz", "('2024-01-01 12:00:00.000001+00')", "('2024-01-01 12:00:00+00')", False),
    ("interval", "('1 day')", "('24 hours')", False),
    ("text", "(U&'\\00E9')", "(U&'e\\0301')", False),  # NFC vs NFD: different bytes
    ("text", "('ümlaut ✓ 日本 🐘')", "('ümlaut ✓ 日本 🐘')", True),
    ("text", "('a,b')", "('a\",b')", False),
    # types hashed natively (without their text form): still exact
    ("int4", "(NULL)", "(0)", False),
    ("int8", "(9223372036854775807)", "(-9223372036854775808)", False),
    ("int2", "(7)", "(7)", True),
    ("uuid", "('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')", "(NULL)", False),
    ("timestamp", "('2024-01-01 12:00:00.000001')", "('2024-01-01 12:00:00')", False),
    ("timestamp", "('infinity')", "('-infinity')", False),
    ("timestamptz", "('infinity')", "('-infinity')", False),
    ("timestamptz", "('infinity')", "(NULL)", False),
    ("timestamptz", "('2024-10-27 01:30:00+01')", "('2024-10-27 01:30:00+02')", False),
    ("bool", "(true)", "(false)", False),
    ("bool", "(false)", "(NULL)", False),
    ("bool", "(true)", "('yes')", True),
    ("numeric", "('NaN')", "(NULL)", False),
    ("numeric", "('Infinity')", "('Infinity')", True),
    ("numeric", "(0.00)", "(0)", False),
    ("numeric", "(-0.0)", "(0.0)", True),  # numeric has no negative zero
    ("numeric", "(12345678901234567890.123)", "(12345678901234567890.124)", False),
    ("numeric(10,2)", "(1.1)", "(1.10)", True),  # the column's scale: the same text
    ("float8", "(NULL)", "('0')", False),
    ("float8", "('NaN')", "(NULL)", False),
    ("float8", "(4.9e-324)", "(0)", False),  # the smallest subnormal
    ("float4", "('-0')", "('0')", False),
    ("float4", "(1.5)", "(1.5)", True),
    ("varchar(5)", "('')", "(NULL)", False),
    ("varchar(5)", "('a ')", "('a')", False),
    ("char(3)", "('a')", "('a  ')", True),  # the same value: char(n) pads
    ("char(3)", "('a')", "('b')", False),
    ("char(3)", "('')", "(NULL)", False),
    ("bpchar", "('a')", "('a ')", False),  # unbounded: trailing blanks are kept and shown
]


@pytest.mark.parametrize(
    ("coltype", "a", "b", "equal"),
    PAIRS,
    ids=[f"{t}:{a}|{b}" for t, a, b, _ in PAIRS],
)
def test_value_pairs(
    conn: psycopg.Connection[tuple[object, ...]], coltype: str, a: str, b: str, equal: bool
) -> None:
    fp_a = _fp(conn, _table_with(conn, coltype, a))
    fp_b = _fp(conn, _table_with(conn, coltype, b))
    assert fp_a.rows == fp_b.rows == 1
    assert (fp_a == fp_b) is equal


def test_row_boundaries_are_part_of_the_hash(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    one = _table_with(conn, "text, w text", "('a,b', '')")
    two = _table_with(conn, "text, w text", "('a', 'b,')")
    three = _table_with(conn, "text, w text", "('a', ',b')")
    assert len({_fp(conn, one), _fp(conn, two), _fp(conn, three)}) == 3


def test_native_columns_keep_their_place_and_length(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    """Swapped values between columns, or a char(n) of another length, change the checksum;
    so does moving a value between a natively hashed column and a text-hashed one."""
    straight = _table_with(conn, "int, w int", "(1, 2)")
    swapped = _table_with(conn, "int, w int", "(2, 1)")
    assert _fp(conn, straight) != _fp(conn, swapped)
    short = _table_with(conn, "char(3)", "('a')")
    longer = _table_with(conn, "char(5)", "('a')")
    assert _fp(conn, short) != _fp(conn, longer)
    mixed = _table_with(conn, "int, w numeric, x text", "(1, 2, 'z'), (3, NULL, NULL)")
    moved = _table_with(conn, "int, w numeric, x text", "(1, NULL, 'z'), (3, 2, NULL)")
    assert _fp(conn, mixed) != _fp(conn, moved)
    again = _table_with(conn, "int, w numeric, x text", "(3, NULL, NULL), (1, 2, 'z')")
    assert _fp(conn, mixed) == _fp(conn, again)


def test_no_columns(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    name = f"nocols{next(_counter)}"
    conn.execute(f"CREATE TABLE public.{name} ()")
    conn.execute(f"INSERT INTO public.{name} DEFAULT VALUES")
    conn.execute(f"INSERT INTO public.{name} DEFAULT VALUES")
    assert _fp(conn, name).rows == 2
    assert _fp(conn, name).checksum != "0" * 16


def test_order_independent_and_duplicates_counted(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    forward = _table_with(conn, "int", "(1), (2), (3), (3)")
    backward = _table_with(conn, "int", "(3), (2), (3), (1)")
    assert _fp(conn, forward) == _fp(conn, backward)
    # a table without a key: the same count, a different multiset
    shifted = _table_with(conn, "int", "(1), (2), (2), (3)")
    assert _fp(conn, shifted).rows == 4
    assert _fp(conn, shifted) != _fp(conn, forward)
    # one duplicate more or less changes count and checksum
    single = _table_with(conn, "int", "(1), (2), (3)")
    assert _fp(conn, single).rows == 3
    assert _fp(conn, single).checksum != _fp(conn, forward).checksum
    # pairs of identical rows must not cancel out (as XOR would)
    doubled = _table_with(conn, "int", "(1), (1), (2), (2)")
    none = _table_with(conn, "int", "(5), (5), (6), (6)")
    assert _fp(conn, doubled).checksum != _fp(conn, none).checksum


def test_empty_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    name = f"empty{next(_counter)}"
    conn.execute(f"CREATE TABLE public.{name} (id int)")
    assert _fp(conn, name) == TableFingerprint(rows=0, checksum="0" * 16)


def test_fingerprint_with_predicate(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    name = _table_with(conn, "int", "(1), (2), (3)")
    where = sql.SQL("{} <= 2").format(sql.Identifier("v"))
    only = _table_with(conn, "int", "(1), (2)")
    limited = pg.fingerprint(conn, pg.TableName("public", name), where)
    assert limited == _fp(conn, only)


def test_session_settings_do_not_change_fingerprints(cluster: LocalPostgres) -> None:
    """A database whose defaults change every text output still fingerprints the same once
    the session is pinned; unpinned it would not (so the test means something)."""
    with cluster.connect() as admin:
        admin.execute("CREATE DATABASE odd")
        for setting, value in [
            ("timezone", "Asia/Tokyo"),
            ("datestyle", "SQL, DMY"),
            ("intervalstyle", "sql_standard"),
            ("extra_float_digits", "-3"),
            ("bytea_output", "escape"),
        ]:
            admin.execute(
                sql.SQL("ALTER DATABASE odd SET {} = {}").format(
                    sql.Identifier(setting), sql.Literal(value)
                )
            )
        admin.execute("CREATE DATABASE plain")
    ddl = "CREATE TABLE s (t timestamptz, d date, i interval, f float8, b bytea, ts timestamp)"
    rows = (
        "INSERT INTO s VALUES ('2024-03-01 23:30:00+00', '2024-03-01', '1 day 02:03:04',"
        " 0.1, '\\x00ff', '2024-03-01 23:30:00')"
    )
    fingerprints = []
    unpinned = []
    for dbname in ("odd", "plain"):
        with cluster.connect(dbname) as db:
            db.execute(ddl)
            db.execute(rows)
            unpinned.append(pg.fingerprint(db, pg.TableName("public", "s")))
            pg.pin_session(db)
            fingerprints.append(pg.fingerprint(db, pg.TableName("public", "s")))
    assert fingerprints[0] == fingerprints[1]
    assert unpinned[0] != unpinned[1]


def test_hostile_identifiers(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    schema = sql.Identifier("My Schema")
    table = sql.Identifier("My Schema", 'we"ird Table')
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
    conn.execute(
        sql.SQL(
            'CREATE TABLE {} ("Mixed Case" int, r text, h text, "a.b" text,'
            ' PRIMARY KEY ("Mixed Case", r))'
        ).format(table)
    )
    conn.execute(
        sql.SQL("INSERT INTO {} VALUES (1, 'x', 'y', 'z'), (2, 'x', NULL, '')").format(table)
    )
    name = pg.TableName("My Schema", 'we"ird Table')
    assert name.display == 'My Schema.we"ird Table'
    assert name in pg.list_tables(conn)
    known = {t.display for t in pg.list_tables(conn)}
    assert pg.resolve_table('My Schema.we"ird Table', known) == name.display
    assert pg.resolve_table('"My Schema"."we""ird Table"', known) == name.display
    fp = pg.fingerprint(conn, name)
    assert fp.rows == 2
    key = pg.key_columns(conn, name)
    assert key == pg.TableKey(columns=("Mixed Case", "r"), primary=True)
    assert pg.table_columns(conn, name) == ["Mixed Case", "r", "h", "a.b"]
    with pytest.raises(ConfigError, match="unknown table"):
        pg.resolve_table("My Schema.weird Table", known)


def test_list_tables_only_permanent_user_tables(cluster: LocalPostgres) -> None:
    with cluster.connect() as admin:
        admin.execute("CREATE DATABASE listing")
    with cluster.connect("listing") as db:
        db.execute("CREATE TABLE plain (id int)")
        db.execute("CREATE UNLOGGED TABLE scratch (id int)")
        db.execute("CREATE TEMP TABLE tmp (id int)")
        db.execute("CREATE VIEW v AS SELECT 1 AS one")
        db.execute("CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one")
        db.execute("CREATE TABLE parted (id int) PARTITION BY RANGE (id)")
        db.execute("CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10)")
        db.execute("CREATE SCHEMA other")
        db.execute("CREATE TABLE other.plain (id int)")
        db.execute("INSERT INTO parted VALUES (1), (2)")
        tables = pg.list_tables(db)
        pg.pin_session(db)
        assert pg.fingerprint(db, pg.TableName("public", "parted")).rows == 2
    assert [t.display for t in tables] == ["other.plain", "public.parted", "public.plain"]


def test_key_introspection(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    n = next(_counter)
    for ddl in [
        "CREATE TABLE public.k{n}_pk (a int, b int, c int, PRIMARY KEY (b, a), UNIQUE (c))",
        "CREATE TABLE public.k{n}_uq (a int NOT NULL, b int, c int NOT NULL, UNIQUE (c, a))",
        "CREATE TABLE public.k{n}_nullable (a int, UNIQUE (a))",
        "CREATE TABLE public.k{n}_partial (a int NOT NULL)",
        "CREATE UNIQUE INDEX ON public.k{n}_partial (a) WHERE a > 0",
        "CREATE TABLE public.k{n}_expr (a text NOT NULL)",
        "CREATE UNIQUE INDEX ON public.k{n}_expr (lower(a))",
        "CREATE TABLE public.k{n}_incl (a int NOT NULL, b int)",
        "CREATE UNIQUE INDEX ON public.k{n}_incl (a) INCLUDE (b)",
        "CREATE TABLE public.k{n}_none (a int)",
    ]:
        conn.execute(ddl.format(n=n))

    def key(suffix: str) -> pg.TableKey | None:
        return pg.key_columns(conn, pg.TableName("public", f"k{n}_{suffix}"))

    assert key("pk") == pg.TableKey(("b", "a"), primary=True)
    assert key("uq") == pg.TableKey(("c", "a"), primary=False)
    assert key("nullable") is None
    assert key("partial") is None
    assert key("expr") is None
    assert key("incl") == pg.TableKey(("a",), primary=False)
    assert key("none") is None
    assert pg.key_columns(conn, pg.TableName("public", "no such table")) is None


def test_resolve_table_forms() -> None:
    known = {"public.orders", "sales.orders", "public.a.b", "Odd.Name"}
    assert pg.resolve_table("orders", known) == "public.orders"
    assert pg.resolve_table("sales.orders", known) == "sales.orders"
    assert pg.resolve_table("a.b", known) == "public.a.b"
    assert pg.resolve_table('"Odd"."Name"', known) == "Odd.Name"
    assert pg.resolve_table('"orders"', known) == "public.orders"
    for bad in ("nope", "sales.nope", '"unterminated', "Orders"):
        with pytest.raises(ConfigError, match="unknown table"):
            pg.resolve_table(bad, known)
