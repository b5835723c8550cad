"""The diff's dense path (drill/diff_rows.py) against real PostgreSQL: when most ranges
differ, ranges are listed as (key, row hash) and only the differing keys fetched. It must
find exactly the rows the plain bisection finds — composite keys with text in a
collation-sensitive order, NULLs, 40 % of the rows gone — and --where must keep its meaning
(a key is compared when its row matches on either side)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from restoredrill.drill.diff import DiffOptions, diff, load_diff, write_diff
from restoredrill.drill.diff_sides import Sides, connect_side
from restoredrill.drill.recover import incident_diff, production_identity
from restoredrill.engines.postgres.engine import PostgresEngine
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.models import RowDiff
from tests.diffhelp import Pair, all_text, diff_keys, expected_diff, new_pair

DENSE = DiffOptions(
    fetch_threshold=4,
    first_level_buckets=64,
    max_fanout=8,
    dense_chunk_rows=500,  # several listing statements
    fetch_chunk_rows=300,  # several by-key fetches
)
BISECT = DiffOptions(fetch_threshold=4, first_level_buckets=64, max_fanout=8, dense_fraction=2.0)
# linguistic vs byte order, and the listing's separators and escape inside key texts
REGIONS = ["a", "B", "é", "e", " z", "Z-1", "ä", "Ab", "ab", "ß", "aa", "x\\y", "t\tab", "n\nl"]


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-diff-dense", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def pair(cluster: LocalPostgres) -> Pair:
    return new_pair(cluster)


def _collation(pair: Pair) -> sql.Composable:
    """A linguistic collation (byte order and key order disagree: 'B' < 'a' in C, not in
    ICU/glibc); the database default if the server has none."""
    with psycopg.connect(pair.restored) as conn:
        row = conn.execute(
            "SELECT collname FROM pg_catalog.pg_collation"
            " WHERE collname IN ('und-x-icu', 'en_US.utf8', 'en_US')"
            " ORDER BY collname = 'und-x-icu' DESC LIMIT 1"
        ).fetchone()
    return sql.SQL("") if row is None else sql.SQL(" COLLATE {}").format(sql.Identifier(row[0]))


def _rows(result: RowDiff) -> tuple[object, ...]:
    return (
        [dict(r) for r in result.lost],
        [dict(r) for r in result.new],
        [c.model_dump() for c in result.changed],
    )


def test_dense_equals_bisection(pair: Pair) -> None:
    """Composite (text in a linguistic collation, int) key, NULLs, 40 % deleted, changes and
    inserts: the dense path's answer is the bisection's, row for row and in the same order,
    and both equal the brute-force comparison."""
    regions = sql.SQL("ARRAY[{}]").format(sql.SQL(", ").join(sql.Literal(r) for r in REGIONS))
    pair.both(
        sql.SQL(
            "CREATE TABLE t (region text{} NOT NULL, id int NOT NULL, v numeric, note text,"
            " PRIMARY KEY (region, id))"
        ).format(_collation(pair)),
        sql.SQL(
            "INSERT INTO t SELECT ({})[1 + g % {}], g, CASE WHEN g % 7 = 0 THEN NULL"
            " ELSE g * 1.5 END, CASE WHEN g % 11 = 0 THEN NULL ELSE 'n' || g END"
            " FROM generate_series(1, 4000) g"
        ).format(regions, sql.Literal(len(REGIONS))),
    )
    pair.run(
        pair.production,
        "DELETE FROM t WHERE id % 5 IN (1, 2)",
        "UPDATE t SET v = NULL WHERE id % 50 = 3",
        "UPDATE t SET note = 'edited' WHERE id % 50 = 4",
        "UPDATE t SET note = NULL WHERE id % 97 = 0",
        "INSERT INTO t SELECT 'new ' || (g % 3), g, NULL, 'x' FROM generate_series(1, 40) g",
    )
    dense = diff(pair.restored, pair.production, "t", options=DENSE).tables[0]
    plain = diff(pair.restored, pair.production, "t", options=BISECT).tables[0]
    assert dense.stats is not None and dense.stats.dense_ranges > 0
    assert dense.stats.rows_listed > 0
    assert plain.stats is not None and plain.stats.dense_ranges == 0
    assert _rows(dense) == _rows(plain)
    assert dense.counts == plain.counts
    assert dense.counts.lost == 1600 and dense.counts.new == 40
    columns = ["region", "id", "v", "note"]
    restored = all_text(pair.restored, sql.Identifier("public", "t"), columns)
    production = all_text(pair.production, sql.Identifier("public", "t"), columns)
    lost, new, changed = expected_diff(restored, production, dense.key, columns)
    assert diff_keys(dense.lost, dense.key) == lost
    assert diff_keys(dense.new, dense.key) == new
    assert {tuple(c.restored[k] for k in dense.key): set(c.columns) for c in dense.changed} == (
        changed
    )


def test_single_text_key_with_the_listing_separators(pair: Pair) -> None:
    """A one-column text key holding a backslash, a tab or a newline (the listing's escape
    and separators): the dense path reads each key back whole, as the bisection does."""
    pair.both(
        "CREATE TABLE k (name text PRIMARY KEY, v int)",
        "INSERT INTO k SELECT (ARRAY['p', 'back\\slash ', 'tab\t', 'new\nline '])[1 + g % 4]"
        " || g, g FROM generate_series(1, 3000) g",
    )
    pair.run(
        pair.production,
        "DELETE FROM k WHERE v % 5 IN (1, 2)",
        "UPDATE k SET v = -v WHERE v % 5 = 3 AND v % 2 = 0",
    )
    dense = diff(pair.restored, pair.production, "k", options=DENSE).tables[0]
    plain = diff(pair.restored, pair.production, "k", options=BISECT).tables[0]
    assert dense.stats is not None and dense.stats.dense_ranges > 0
    assert _rows(dense) == _rows(plain)
    assert dense.counts.lost == 1200 and dense.counts.changed == 300
    names = {str(r["name"]) for r in dense.lost}
    assert any("\\" in n for n in names) and any("\t" in n for n in names)
    assert any("\n" in n for n in names)


# values the diff file must carry through: quotes, backslashes, control characters, U+2028 (a
# line break to str.splitlines), non-ASCII, the empty string beside NULL
ODD = [
    'say "hi"',
    "back\\slash",
    "tab\tnew\nline\r",
    "bell\x01\x1f\x7f",
    "line\u2028sep",
    "é ß 漢字 🙂",
    "",
]


def test_odd_values_of_the_dense_path_read_back_from_the_diff_file(
    pair: Pair, tmp_path: Path
) -> None:
    """The dense path's lost and changed rows are the bisection's, value for value (odd
    texts, NULL beside '', arrays, jsonb, bytea, floats' special values, timestamps), in the
    same order, and the diff file reads back to them line by line."""
    odd = sql.SQL("ARRAY[{}]").format(sql.SQL(", ").join(sql.Literal(v) for v in ODD))
    pair.both(
        "CREATE TABLE o (id int PRIMARY KEY, t text, a text[], j jsonb, b bytea,"
        " f float8, ts timestamptz, n numeric)",
        sql.SQL(
            "INSERT INTO o SELECT g, CASE WHEN g % 9 = 0 THEN NULL ELSE ({odd})[1 + g % {n}] END,"
            " ARRAY[({odd})[1 + g % {n}], NULL], jsonb_build_object('k', ({odd})[1 + g % {n}]),"
            " convert_to(({odd})[1 + g % {n}], 'UTF8'),"
            " (ARRAY['NaN', 'Infinity', '-Infinity', '1e-308', '0.1', '-0'])[1 + g % 6]::float8,"
            " timestamptz '2024-02-29 23:59:59.999999+00' + g * interval '1 hour',"
            " g / 7.0 FROM generate_series(1, 3000) g"
        ).format(odd=odd, n=sql.Literal(len(ODD))),
    )
    pair.run(
        pair.production,
        "DELETE FROM o WHERE id % 5 IN (1, 2)",
        "UPDATE o SET n = 0 WHERE id % 5 = 3",
    )
    out = tmp_path / "o.json"
    dense_doc = diff(pair.restored, pair.production, "o", options=DENSE)
    dense = dense_doc.tables[0]
    plain = diff(pair.restored, pair.production, "o", options=BISECT).tables[0]
    assert dense.stats is not None and dense.stats.dense_ranges > 0
    assert dense.counts.lost == 1200 and dense.counts.changed == 600
    assert _rows(dense) == _rows(plain)
    write_diff(dense_doc, out)
    assert _rows(load_diff(out).tables[0]) == _rows(plain)
    assert any(r["t"] == "" for r in dense.lost) and any(r["t"] is None for r in dense.lost)


@pytest.mark.parametrize("options", [DENSE, BISECT], ids=["dense", "bisect"])
def test_where_matches_on_either_side(pair: Pair, options: DiffOptions) -> None:
    """--where 'last_login IS NULL': lost = matches in the restored database and production
    has no row with its key; a row that matches on one side only but exists on both is
    changed (not lost, not new); rows matching on neither side are not looked at."""
    pair.both(
        "CREATE TABLE users (id int PRIMARY KEY, last_login timestamptz, name text)",
        "INSERT INTO users SELECT g, CASE WHEN g % 4 = 0 THEN NULL"
        " ELSE timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour' END, 'u' || g"
        " FROM generate_series(1, 2000) g",
    )
    pair.run(
        pair.production,
        "DELETE FROM users WHERE id % 4 IN (0, 1) AND id <= 1600",  # 400 matching: lost
        "UPDATE users SET last_login = now() WHERE id % 4 = 0 AND id > 1900",  # changed
        "UPDATE users SET last_login = NULL WHERE id % 4 = 2 AND id > 1950",  # changed
        "UPDATE users SET name = 'renamed' WHERE id % 4 = 3",  # matches nowhere: not looked at
        "INSERT INTO users VALUES (5000, NULL, 'new'), (5001, now(), 'not matching')",
    )
    where = "last_login IS NULL"
    result = diff(pair.restored, pair.production, "users", where=where, options=options)
    table = result.tables[0]
    assert table.stats is not None
    assert (table.stats.dense_ranges > 0) == (options is DENSE)
    restored = all_text(pair.restored, sql.Identifier("public", "users"), ["id", "last_login"])
    production = all_text(pair.production, sql.Identifier("public", "users"), ["id"])
    alive = {row["id"] for row in production}
    expected_lost = {
        (row["id"],) for row in restored if row["last_login"] is None and row["id"] not in alive
    }
    assert len(expected_lost) == 400
    assert diff_keys(table.lost, ["id"]) == expected_lost
    assert diff_keys(table.new, ["id"]) == {("5000",)}
    changed = {int(str(c.restored["id"])): c.columns for c in table.changed}
    assert set(changed) == {i for i in range(1901, 2001) if i % 4 == 0} | {
        i for i in range(1951, 2001) if i % 4 == 2
    }
    assert all(cols == ["last_login"] for cols in changed.values())
    assert result.where == where and table.where == where


def test_recover_pushes_reapply_where_into_the_incident_diff(pair: Pair) -> None:
    """recover's incident diff takes reapply's --where: only the rows reapply can put back
    are compared and fetched, and the diff file says which --where made it."""
    pair.both(
        "CREATE TABLE users (id int PRIMARY KEY, last_login timestamptz)",
        "INSERT INTO users SELECT g, CASE WHEN g % 2 = 0 THEN NULL ELSE now() END"
        " FROM generate_series(1, 3000) g",
    )
    pair.run(pair.production, "DELETE FROM users WHERE id % 5 IN (1, 2)")  # the incident
    where = "last_login IS NULL"
    document = incident_diff(
        pair.restored, pair.production, production_identity(pair.production), ["users"],
        where=where,
    )  # fmt: skip
    table = document.tables[0]
    assert document.mode == "incident" and document.where == where
    assert diff_keys(table.lost, ["id"]) == {
        (str(i),) for i in range(1, 3001) if i % 5 in (1, 2) and i % 2 == 0
    }
    assert table.counts.new == 0 and table.counts.changed == 0


def test_queued_statements_run_in_order_and_an_abandon_stops_them_all(pair: Pair) -> None:
    """The dense path queues each side's next statements ahead of their results
    (RowComparer.list_dense). A side runs them one at a time in the order queued; an error
    abandons them all: the running one is cancelled and the ones not started never run (a
    cancel must not merely start the next), and the connections are usable at once."""
    engine = PostgresEngine()
    restored = connect_side(engine, pair.restored)
    production = connect_side(engine, pair.production)
    sides = Sides(engine, restored, production)
    try:
        ordered = [
            sides.submit({"restored": (f"SELECT {n}, pg_sleep(0.05), clock_timestamp()", [])})
            for n in range(3)
        ]
        stamps = [sides.collect(s)["restored"][0] for s in ordered]
        assert [s[0] for s in stamps] == [0, 1, 2]
        assert stamps[0][2] < stamps[1][2] < stamps[2][2]  # one after another, not at once
        sleeping = sides.submit(
            {"restored": ("SELECT pg_sleep(60)", []), "production": ("SELECT 1", [])}
        )
        queued = sides.submit({"restored": ("SELECT 'never run'", [])})
        deadline = time.monotonic() + 10
        while not sleeping["restored"].running() and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        sides.abandon(sleeping, queued)
        assert time.monotonic() - started < 10
        assert queued["restored"].cancelled()
        with pytest.raises(psycopg.errors.QueryCanceled):
            sleeping["restored"].result()
        assert sides.run({"restored": ("SELECT 2", []), "production": ("SELECT 3", [])}) == {
            "restored": [(2,)],
            "production": [(3,)],
        }
    finally:
        sides.close()
        engine.close(restored)
        engine.close(production)
