"""diff() against real PostgreSQL: composite keys, tricky types, hostile identifiers, empty
and keyless tables, every row different, --where/--columns, and the bisection's economy.
Every diff is checked against a brute-force comparison of the rows' server text forms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from restoredrill.drill.diff import DiffOptions, diff, load_diff
from restoredrill.drill.reapply import ReapplyOptions, reapply
from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres import diff_ranges
from restoredrill.engines.postgres.columns import column_info
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.engines.ranges import KeyRange
from restoredrill.errors import ConfigError, ReapplyRefused
from restoredrill.models import RowDiff
from tests.diffhelp import Pair, all_text, diff_keys, expected_diff, new_pair

SMALL = DiffOptions(fetch_threshold=4, first_level_buckets=16, max_fanout=8)
# Big first steps: the first split walks the key index, deeper ones number rows.
WALK = DiffOptions(fetch_threshold=600, first_level_buckets=4)


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-diff", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def pair(cluster: LocalPostgres) -> Pair:
    return new_pair(cluster)


def _check_against_brute_force(
    pair: Pair, result: RowDiff, table: sql.Composable, columns: list[str]
) -> None:
    restored = all_text(pair.restored, table, columns)
    production = all_text(pair.production, table, columns)
    compared = [c.name for c in result.columns if c.compared]
    lost, new, changed = expected_diff(restored, production, result.key, compared)
    assert diff_keys(result.lost, result.key) == lost
    assert diff_keys(result.new, result.key) == new
    assert {
        tuple(c.restored[k] for k in result.key): set(c.columns) for c in result.changed
    } == changed
    assert result.counts.lost == len(lost)
    assert result.counts.new == len(new)
    assert result.counts.changed == len(changed)
    assert result.rows_restored == len(restored)
    assert result.rows_production == len(production)


@pytest.mark.parametrize("options", [SMALL, WALK], ids=["numbered", "walk"])
def test_composite_key_multi_level_bisection(pair: Pair, options: DiffOptions) -> None:
    """Int + text composite key, 3000 rows, a few of each difference, tiny leaves so the
    bisection goes several levels deep; the result equals the brute-force comparison."""
    pair.both(
        "CREATE TABLE t (region text, id int, v numeric, note text, PRIMARY KEY (region, id))",
        "INSERT INTO t SELECT (ARRAY['eu','us','ap'])[1 + g % 3], g, g * 1.5, 'n' || g"
        " FROM generate_series(1, 3000) g",
    )
    pair.run(
        pair.production,
        "DELETE FROM t WHERE id IN (7, 1500, 2999)",
        "UPDATE t SET v = v + 1 WHERE id IN (10, 11, 2000)",
        "UPDATE t SET note = NULL WHERE id = 42",
        "INSERT INTO t VALUES ('eu', 5000, 1, 'new'), ('zz', 1, 2, 'new')",
    )
    result = diff(pair.restored, pair.production, "t", options=options).tables[0]
    assert result.key == ["region", "id"]
    assert result.counts.lost == 3 and result.counts.new == 2 and result.counts.changed == 4
    _check_against_brute_force(
        pair, result, sql.Identifier("public", "t"), ["region", "id", "v", "note"]
    )
    assert result.stats is not None and result.stats.levels >= 2
    by_id = {c.restored["id"]: c for c in result.changed}
    assert by_id["42"].columns == ["note"] and by_id["42"].production["note"] is None
    assert by_id["10"].columns == ["v"]


# (column type, restored value, production value): each pair differs only in text form
TRICKY = [
    ("numeric", "1.10", "1.1"),
    ("numeric", "'NaN'", "'Infinity'"),
    ("float8", "'-0'", "'0'"),
    ("float8", "'NaN'", "'-Infinity'"),
    ("float8", "0.1::float8 + 0.2::float8", "0.3"),
    ("int[]", "'{}'", "'{NULL}'"),
    ("text[]", "'{NULL}'", "'{\"NULL\"}'"),
    ("jsonb", "'1.0'", "'1'"),
    ("jsonb", """'{"a": [1, {"b": null}]}'""", """'{"a": [1, {}]}'"""),
    ("bytea", "'\\x00'", "'\\x0000'"),
    ("bytea", "''", "NULL"),
    ("timestamptz", "'2024-01-01 12:00:00.000001+00'", "'2024-01-01 12:00:00+00'"),
    ("text", "U&'\\00E9'", "U&'e\\0301'"),
    ("text", "''", "NULL"),
    ("text", "'a''b\\c\"d'", "'a''b\\c\"e'"),
    ("interval", "'1 day'", "'24 hours'"),
    ("boolean", "true", "NULL"),
]


def test_tricky_types_exact_and_reapply_round_trips(pair: Pair, tmp_path: Path) -> None:
    """One row per case with a subtle difference, one equal row per case: every subtle
    difference is found in its column, equal values are not, and reapplying writes back
    the exact restored values (a second diff finds nothing)."""
    pair.both("CREATE TABLE tricky (id int PRIMARY KEY, kind text NOT NULL, v text)")
    with_types = ["CREATE TABLE typed (id int PRIMARY KEY"]
    with_types += [f", c{n} {coltype}" for n, (coltype, _, _) in enumerate(TRICKY)]
    pair.both("".join(with_types) + ")")
    for n, (_, restored_value, production_value) in enumerate(TRICKY):
        column = sql.Identifier(f"c{n}")
        for dsn, value in ((pair.restored, restored_value), (pair.production, production_value)):
            pair.run(
                dsn,
                # the values are SQL literals from this module's table of cases
                sql.SQL("INSERT INTO typed (id, {c}) VALUES ({id}, {v}), ({eq}, {r})").format(
                    c=column,
                    id=sql.Literal(n + 1),
                    v=sql.SQL(value),
                    eq=sql.Literal(1000 + n),
                    r=sql.SQL(restored_value),
                ),
            )
    out = tmp_path / "typed.json"
    result = diff(pair.restored, pair.production, "typed", out=out).tables[0]
    columns = ["id", *[f"c{n}" for n in range(len(TRICKY))]]
    _check_against_brute_force(pair, result, sql.Identifier("public", "typed"), columns)
    assert result.counts.changed == len(TRICKY) and result.counts.lost == result.counts.new == 0
    by_id = {c.restored["id"]: c.columns for c in result.changed}
    assert by_id == {str(n + 1): [f"c{n}"] for n in range(len(TRICKY))}
    types = {c.name: c.type for c in load_diff(out).tables[0].columns}
    assert types["c0"] == "numeric" and types["c5"] == "integer[]" and types["c7"] == "jsonb"

    report = reapply(out, pair.production, ReapplyOptions(execute=True))
    assert report.updated == len(TRICKY) and report.conflict_count == 0
    again = diff(pair.restored, pair.production, "typed").tables[0]
    assert again.counts.total == 0


HOSTILE_SCHEMA = "My Schema"
HOSTILE_TABLE = 'we"ird Table'


def test_hostile_identifiers_diff_and_reapply(pair: Pair, tmp_path: Path) -> None:
    table = sql.Identifier(HOSTILE_SCHEMA, HOSTILE_TABLE)
    pair.both(
        sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(HOSTILE_SCHEMA)),
        sql.SQL(
            'CREATE TABLE {} ("key part" text, "Id""x" int, "the value" text, "a.b" jsonb,'
            ' PRIMARY KEY ("key part", "Id""x"))'
        ).format(table),
        sql.SQL(
            """INSERT INTO {} SELECT 'k ' || (g % 4), g, 'v' || g, '{{"x": 1}}'"""
            " FROM generate_series(1, 200) g"
        ).format(table),
    )
    pair.run(
        pair.production,
        sql.SQL('DELETE FROM {} WHERE "Id""x" IN (3, 4)').format(table),
        sql.SQL(
            """UPDATE {} SET "the value" = 'it''s; DROP TABLE x; --' WHERE "Id""x" = 9"""
        ).format(table),
    )
    out = tmp_path / "hostile.json"
    spec = '"My Schema"."we""ird Table"'
    result = diff(pair.restored, pair.production, spec, out=out, options=SMALL).tables[0]
    assert result.table == f"{HOSTILE_SCHEMA}.{HOSTILE_TABLE}"
    assert result.key == ["key part", 'Id"x']
    assert result.counts.lost == 2 and result.counts.changed == 1
    _check_against_brute_force(pair, result, table, ["key part", 'Id"x', "the value", "a.b"])
    report = reapply(out, pair.production, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.conflict_count) == (2, 1, 0)
    assert report.tables[0].archive_table is not None
    assert diff(pair.restored, pair.production, spec).tables[0].counts.total == 0


def test_empty_tables_and_no_differences(pair: Pair) -> None:
    pair.both(
        "CREATE TABLE empty (id int PRIMARY KEY, v text)",
        "CREATE TABLE same (id int PRIMARY KEY, v text)",
        "INSERT INTO same SELECT g, md5(g::text) FROM generate_series(1, 500) g",
        "ANALYZE same",
    )
    empty = diff(pair.restored, pair.production, "empty").tables[0]
    assert empty.counts.total == 0 and empty.rows_restored == empty.rows_production == 0
    same = diff(pair.restored, pair.production, "public.same", options=SMALL).tables[0]
    assert same.counts.total == 0 and same.rows_restored == 500
    assert same.stats is not None and same.stats.rows_fetched == 0
    # one side empty: every row lost
    pair.run(pair.production, "TRUNCATE same")
    lost = diff(pair.restored, pair.production, "same").tables[0]
    assert lost.counts.lost == 500 and lost.rows_production == 0


def test_every_row_different(pair: Pair) -> None:
    pair.both(
        "CREATE TABLE allrows (id bigint PRIMARY KEY, v int)",
        "INSERT INTO allrows SELECT g, g FROM generate_series(1, 2000) g",
        "ANALYZE allrows",
    )
    pair.run(pair.production, "UPDATE allrows SET v = v + 1")
    result = diff(pair.restored, pair.production, "allrows", options=SMALL).tables[0]
    assert result.counts.changed == 2000 and result.counts.lost == result.counts.new == 0
    assert [c.restored["id"] for c in result.changed] == [str(n) for n in range(1, 2001)]


def test_work_grows_with_differences_not_table(pair: Pair) -> None:
    """20,000 rows and 3 differences: a logarithmic number of round trips, every row hashed
    once per side at the first level, and only a few leaves fetched."""
    pair.both(
        "CREATE TABLE big (id int PRIMARY KEY, v text)",
        "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 20000) g",
        "ANALYZE big",
    )
    pair.run(
        pair.production,
        "UPDATE big SET v = 'x' WHERE id = 777",
        "DELETE FROM big WHERE id = 15000",
        "INSERT INTO big VALUES (20001, 'n')",
    )
    options = DiffOptions(fetch_threshold=64)
    result = diff(pair.restored, pair.production, "big", options=options).tables[0]
    assert (result.counts.lost, result.counts.new, result.counts.changed) == (1, 1, 1)
    stats = result.stats
    assert stats is not None
    assert stats.round_trips <= 8
    assert stats.rows_fetched <= 3 * 2 * 64
    assert stats.rows_hashed_restored < 2 * 20000  # the first scan plus a few small ranges


def test_table_without_key_gets_counts_only(pair: Pair, tmp_path: Path) -> None:
    pair.both(
        "CREATE TABLE nokey (v text)",
        "INSERT INTO nokey VALUES ('a'), ('a'), ('b')",
    )
    pair.run(pair.production, "DELETE FROM nokey WHERE v = 'b'")
    out = tmp_path / "nokey.json"
    result = diff(pair.restored, pair.production, "nokey", out=out).tables[0]
    assert not result.keyed
    assert (result.rows_restored, result.rows_production) == (3, 2)
    assert result.note is not None and "cannot diff public.nokey by key" in result.note
    with pytest.raises(ReapplyRefused, match="no key"):
        reapply(out, pair.production)


def test_where_and_columns_and_key(pair: Pair) -> None:
    pair.both(
        "CREATE TABLE w (id int PRIMARY KEY, email text NOT NULL UNIQUE, a int NOT NULL, b int)",
        "INSERT INTO w SELECT g, 'u' || g || '@x.org', g, g FROM generate_series(1, 100) g",
    )
    pair.run(
        pair.production,
        "UPDATE w SET a = -1 WHERE id IN (1, 50)",
        "UPDATE w SET b = -1 WHERE id = 2",
        "DELETE FROM w WHERE id = 99",
    )
    # --where with a '%' (LIKE) limits both sides
    limited = diff(pair.restored, pair.production, "w", where="email LIKE 'u1%'").tables[0]
    assert {c.restored["id"] for c in limited.changed} == {"1"}
    assert limited.counts.lost == 0 and limited.rows_restored == 12
    # --columns: a difference in another column is not one
    only_b = diff(pair.restored, pair.production, "w", columns=["b"]).tables[0]
    assert {c.restored["id"] for c in only_b.changed} == {"2"}
    assert [c.name for c in only_b.columns if c.compared] == ["id", "b"]
    # --key: the unique email instead of the primary key
    by_email = diff(pair.restored, pair.production, "w", key=["email"]).tables[0]
    assert by_email.key == ["email"] and by_email.counts.changed == 3
    with pytest.raises(ConfigError, match="btree index"):
        diff(pair.restored, pair.production, "w", key=["a"])
    with pytest.raises(ConfigError, match="must be NOT NULL"):
        diff(pair.restored, pair.production, "w", key=["b"])
    with pytest.raises(ConfigError, match="--where is not valid"):
        diff(pair.restored, pair.production, "w", where="no_such_column = 1")
    with pytest.raises(ConfigError, match="unknown table"):
        diff(pair.restored, pair.production, "nope")


def test_index_walk_and_row_numbering_pick_the_same_split_points(pair: Pair) -> None:
    """Both ways of taking every k-th key (the recursive index walk for big steps, the
    row_number() filter for small ones) agree, for composite hostile keys, open and closed
    ranges, and a --where."""
    table = sql.Identifier(HOSTILE_SCHEMA, HOSTILE_TABLE)
    pair.run(
        pair.restored,
        sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(HOSTILE_SCHEMA)),
        sql.SQL('CREATE TABLE {} ("a b" text, "Id" int, v int, PRIMARY KEY ("a b", "Id"))').format(
            table
        ),
        sql.SQL(
            "INSERT INTO {} SELECT 'k ' || (g % 7), g, g FROM generate_series(1, 6000) g"
        ).format(table),
    )
    name = pg.TableName(HOSTILE_SCHEMA, HOSTILE_TABLE)
    with psycopg.connect(pair.restored, autocommit=True) as conn:
        pg.pin_session(conn)
        key = [c for c in column_info(conn, name) if c.name in ("a b", "Id")]
        ranges = [
            KeyRange(None, None),
            KeyRange(("k 2", "100"), None),
            KeyRange(None, ("k 5", "3000")),
            KeyRange(("k 1", "5"), ("k 4", "4")),
        ]
        steps = [600, 513, 700, 520]
        where = sql.SQL("(v %% 5 <> 0)")
        walked = conn.execute(*diff_ranges.boundaries_query(name, key, where, ranges, steps))
        numbered = conn.execute(*diff_ranges._numbered_boundaries(name, key, where, ranges, steps))
        walk_rows, numbered_rows = walked.fetchall(), numbered.fetchall()
    assert len(walk_rows) > 10
    assert walk_rows == numbered_rows
