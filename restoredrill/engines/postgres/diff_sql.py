"""PostgreSQL dialect for diff and reapply: column and key introspection, server identity,
the key-range SQL of checksum bisection, and the guarded, idempotent reapply statements.

Everything engine-specific lives here so another engine can provide the same functions
(same names, same shapes) and reuse ``drill/diff.py`` and ``drill/reapply.py`` unchanged.

Conventions:

- Identifiers (schemas, tables, columns, type names) only ever go through
  ``psycopg.sql.Identifier``; values through placeholders or ``sql.Literal``. The one piece
  of raw SQL is the user's ``--where`` (trusted input, like the DSN), wrapped in parentheses.
- Values travel as their text form computed in the server (``col::text`` under the pinned
  session settings of ``postgres.pin_session``), so Python never compares typed values.
  Going back into the server they are untyped literals (``'…'``), which PostgreSQL converts
  with the column type's own input function (exact), or explicit casts to the column's type
  (``::"pg_catalog"."int8"``) where there is no column to infer the type from.
- Key ranges are half-open ``[lo, hi)`` in key order, written as row-value comparisons
  ``(k1, k2) >= (lo1, lo2) AND (k1, k2) < (hi1, hi2)``, so composite and non-numeric keys
  work and a btree on the key serves each range.
- A bucket's checksum is ``count(*)`` plus the exact (numeric) sum of a 64-bit hash of each
  row's text (``hashtextextended(ROW(...)::text, 0)``). It only decides which ranges to look
  at more closely; the final comparison is of the rows' text forms. Should two servers ever
  hash differently (another CPU architecture), every bucket looks different and the diff is
  still exact, only slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.catalog import Connection, TableName
from restoredrill.models import RowValues, ServerIdentity

# --- catalog ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # format_type(atttypid, atttypmod), for people and for checks
    type_schema: str  # the type's schema and name, for casts via sql.Identifier
    type_name: str
    not_null: bool
    generated: bool
    identity: str  # '' | 'a' (GENERATED ALWAYS) | 'd' (BY DEFAULT)

    def cast_type(self) -> sql.Identifier:
        return sql.Identifier(self.type_schema, self.type_name)


def column_info(conn: Connection, table: TableName) -> list[ColumnInfo]:
    """Live columns in table order; empty when the table does not exist.

    ``type`` is format_type() under the pinned search_path (pg_catalog, pg_temp), whatever the
    session's: a type outside pg_catalog prints schema-qualified on every side, so a diff made
    under the pinned path and a reapply session under the user's path compare types by
    identity, not by how a search_path happens to print them."""
    with conn.transaction():
        saved = conn.execute("SELECT pg_catalog.current_setting('search_path')").fetchone()
        conn.execute(
            "SELECT pg_catalog.set_config('search_path', %s, true)",
            (pg.SESSION_SETTINGS["search_path"],),
        )
        rows = _column_rows(conn, table)
        # SET LOCAL would outlive a savepoint inside a caller's transaction: put it back
        conn.execute(
            "SELECT pg_catalog.set_config('search_path', %s, true)",
            (None if saved is None else saved[0],),
        )
    return [
        ColumnInfo(
            name=str(r[0]),
            type=str(r[1]),
            type_schema=str(r[2]),
            type_name=str(r[3]),
            not_null=bool(r[4]),
            generated=bool(r[5]),
            identity=str(r[6] or ""),
        )
        for r in rows
    ]


def _column_rows(conn: Connection, table: TableName) -> list[Any]:
    return conn.execute(
        """
        SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), tn.nspname,
               t.typname, a.attnotnull, a.attgenerated <> '', a.attidentity::text
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
        WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (table.schema, table.name),
    ).fetchall()


def table_exists(conn: Connection, table: TableName) -> bool:
    return bool(column_info(conn, table))


def key_columns(conn: Connection, table: TableName) -> tuple[str, ...] | None:
    """The primary key, else the narrowest unique key on NOT NULL columns (postgres.py)."""
    key = pg.key_columns(conn, table)
    return None if key is None else key.columns


def has_key_index(conn: Connection, table: TableName, key: Sequence[str]) -> bool:
    """Is there a valid btree index whose leading columns are ``key``, in that order?
    (Range scans over the key need one; without it every bucket would be a full scan.)"""
    row = conn.execute(
        """
        SELECT 1
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_catalog.pg_am am ON am.oid = ic.relam
        WHERE n.nspname = %s AND c.relname = %s AND i.indisvalid AND am.amname = 'btree'
          AND i.indpred IS NULL
          AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE k.ord <= %s) = %s::text[]
        LIMIT 1
        """,
        (table.schema, table.name, len(key), list(key)),
    ).fetchone()
    return row is not None


def is_unique_key(conn: Connection, table: TableName, key: Sequence[str]) -> bool:
    """Does a valid, non-partial unique index cover exactly these columns (any order)?
    That is what ``INSERT ... ON CONFLICT (key)`` needs."""
    row = conn.execute(
        """
        SELECT 1
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s
          AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
          AND i.indnkeyatts = %s
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE k.ord <= i.indnkeyatts) = %s::text[]
        LIMIT 1
        """,
        (table.schema, table.name, len(key), sorted(key)),
    ).fetchone()
    return row is not None


def estimate_rows(conn: Connection, table: TableName) -> int | None:
    """The planner's row estimate (pg_class.reltuples); None when never analyzed."""
    row = conn.execute(
        "SELECT c.reltuples FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (table.schema, table.name),
    ).fetchone()
    if row is None or row[0] is None or float(str(row[0])) < 0:
        return None
    return int(float(str(row[0])))


def _where(where: sql.Composable | None) -> sql.Composable:
    return sql.SQL("TRUE") if where is None else sql.SQL("({})").format(where)


def count_rows(conn: Connection, table: TableName, where: sql.Composable | None = None) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} AS r WHERE {}").format(table.identifier(), _where(where))
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def server_identity(conn: Connection, label: str) -> ServerIdentity:
    """Who we are connected to. data_directory is only visible to superusers and members
    of pg_read_all_settings (pg_settings hides the row otherwise: NULL, no error)."""
    row = conn.execute(
        "SELECT pg_catalog.current_database(), pg_catalog.pg_postmaster_start_time(),"
        " pg_catalog.current_setting('port'), pg_catalog.current_setting('server_version'),"
        " (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'data_directory')"
    ).fetchone()
    assert row is not None
    start = row[1] if isinstance(row[1], datetime) else None
    return ServerIdentity(
        label=label,
        database=str(row[0]),
        system_identifier=pg.system_identifier(conn),
        postmaster_start_time=start,
        port=int(str(row[2])) if row[2] is not None else None,
        data_directory=None if row[4] is None else str(row[4]),
        server_version=None if row[3] is None else str(row[3]),
    )


# --- key ranges ------------------------------------------------------------------------------

KeyText = tuple[str, ...]


@dataclass(frozen=True)
class KeyRange:
    """Half-open key range [lo, hi); None = unbounded. Bounds are key values' text forms."""

    lo: KeyText | None
    hi: KeyText | None


_B = "restoredrill_b"  # alias of the ranges list (unlikely to clash with a user's --where)
_I = "restoredrill_i"
RANGES_ALIAS, RANGE_INDEX = _B, _I  # for postgres_dense.py


def _lo(k: int) -> str:
    return f"restoredrill_lo{k}"


def _hi(k: int) -> str:
    return f"restoredrill_hi{k}"


def _row(parts: Sequence[sql.Composable]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(", ").join(parts))


def _key_row(key: Sequence[ColumnInfo]) -> sql.Composable:
    return _row([sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in key])


def _bound_row(key: Sequence[ColumnInfo], name: Any) -> sql.Composable:
    return _row(
        [
            sql.SQL("{}.{}::{}").format(sql.Identifier(_B), sql.Identifier(name(k)), c.cast_type())
            for k, c in enumerate(key)
        ]
    )


def range_predicate(key: Sequence[ColumnInfo], has_lo: bool, has_hi: bool) -> sql.Composable:
    parts: list[sql.Composable] = []
    if has_lo:
        parts.append(sql.SQL("{} >= {}").format(_key_row(key), _bound_row(key, _lo)))
    if has_hi:
        parts.append(sql.SQL("{} < {}").format(_key_row(key), _bound_row(key, _hi)))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


def _ranges_select(
    key: Sequence[ColumnInfo],
    ranges: Sequence[KeyRange],
    extra: dict[str, tuple[str, list[Any]]],
    inner: Any,
    outer_columns: sql.Composable,
) -> tuple[sql.Composed, list[Any]]:
    """``SELECT <outer_columns> FROM unnest(<range list>) AS b CROSS JOIN LATERAL (<inner>)``,
    one UNION ALL branch per range shape (bounded below/above or not), so every branch's
    range predicate is a plain index condition. ``extra`` adds per-range array columns
    (name -> (element type, values)); ``inner(has_lo, has_hi)`` builds the subquery."""
    branches: list[sql.Composable] = []
    params: list[Any] = []
    for has_lo in (True, False):
        for has_hi in (True, False):
            chosen = [
                i
                for i, r in enumerate(ranges)
                if (r.lo is not None) == has_lo and (r.hi is not None) == has_hi
            ]
            if not chosen:
                continue
            arrays: list[sql.Composable] = [sql.SQL("%s::pg_catalog.int4[]")]
            names: list[str] = [_I]
            params.append(chosen)
            for name, (element, values) in extra.items():
                arrays.append(sql.SQL("%s::{}[]").format(sql.Identifier("pg_catalog", element)))
                names.append(name)
                params.append([values[i] for i in chosen])
            for bound, bound_name in ((has_lo, _lo), (has_hi, _hi)):
                if not bound:
                    continue
                for k in range(len(key)):
                    arrays.append(sql.SQL("%s::pg_catalog.text[]"))
                    names.append(bound_name(k))
                    values_k: list[str] = []
                    for i in chosen:
                        edge = ranges[i].lo if bound_name is _lo else ranges[i].hi
                        assert edge is not None
                        values_k.append(edge[k])
                    params.append(values_k)
            branches.append(
                sql.SQL(
                    "SELECT {outer} FROM unnest({arrays}) AS {b}({names})"
                    " CROSS JOIN LATERAL ({inner}) AS s"
                ).format(
                    outer=outer_columns,
                    arrays=sql.SQL(", ").join(arrays),
                    b=sql.Identifier(_B),
                    names=sql.SQL(", ").join(sql.Identifier(n) for n in names),
                    inner=inner(has_lo, has_hi),
                )
            )
    return sql.SQL(" UNION ALL ").join(branches), params


ranges_select = _ranges_select  # for postgres_dense.py


def _b(name: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(_B), sql.Identifier(name))


# Types whose own extended hash function is as fine as their text form: equal hashes input
# means equal text (ints, uuid, timestamp; text/varchar/bpchar hashed as bytes under "C").
# Every other type (numeric 1.10 vs 1.1, float -0 vs 0, jsonb, interval, arrays, ...) is
# hashed by its text form, which tells such values apart. Hashing natively avoids the text
# conversion that dominates the first scan (about 3x faster on pgbench_accounts).
_NATIVE_HASH: dict[tuple[str, str], tuple[str, bool]] = {
    ("pg_catalog", "int2"): ("hashint2extended", False),
    ("pg_catalog", "int4"): ("hashint4extended", False),
    ("pg_catalog", "int8"): ("hashint8extended", False),
    ("pg_catalog", "oid"): ("hashoidextended", False),
    ("pg_catalog", "uuid"): ("uuid_hash_extended", False),
    ("pg_catalog", "timestamp"): ("timestamp_hash_extended", False),
    ("pg_catalog", "text"): ("hashtextextended", True),
    ("pg_catalog", "varchar"): ("hashtextextended", True),
    ("pg_catalog", "bpchar"): ("hashbpcharextended", True),
}


def row_hash(columns: Sequence[ColumnInfo]) -> sql.Composable:
    """A 64-bit hash of a row: per column a seeded hash (NULL → its own constant), combined
    with XOR. Bucket checksums add these up exactly (numeric), so moving values between
    rows or columns changes the sum."""
    parts: list[sql.Composable] = []
    for n, column in enumerate(columns, start=1):
        ref = sql.SQL("r.{}").format(sql.Identifier(column.name))
        native = _NATIVE_HASH.get((column.type_schema, column.type_name))
        if native is None:
            value: sql.Composable = sql.SQL("{}::text").format(ref)
            function = "hashtextextended"
        else:
            function, collated = native
            value = sql.SQL('{} COLLATE "C"').format(ref) if collated else ref
        parts.append(
            sql.SQL("coalesce(pg_catalog.{}({}, {}), {})").format(
                sql.Identifier(function),
                value,
                sql.Literal(n),
                sql.Literal(-(n * 0x9E3779B97F4A7C15 % (1 << 63))),
            )
        )
    return sql.SQL(" # ").join(parts) if parts else sql.SQL("0::int8")


def checksum_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    compared: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
) -> tuple[sql.Composed, list[Any]]:
    """Rows (range index, count, checksum) for every range, in one statement."""
    row = row_hash(compared)

    def inner(has_lo: bool, has_hi: bool) -> sql.Composable:
        return sql.SQL(
            "SELECT count(*) AS n, coalesce(sum({row}), 0) AS h"
            " FROM {table} AS r WHERE {range} AND {where}"
        ).format(
            row=row,
            table=table.identifier(),
            range=range_predicate(key, has_lo, has_hi),
            where=_where(where),
        )

    outer = sql.SQL("{}, s.n, s.h").format(_b(_I))
    return _ranges_select(key, ranges, {}, inner, outer)


# Below this mean step, numbering every row (a window function) beats walking the index.
WALK_MIN_STEP = 512


def boundaries_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
    steps: Sequence[int],
) -> tuple[sql.Composed, list[Any]]:
    """Rows (range index, n, key text...) of every ``steps[i]``-th row of range i in key order
    (n = 1, 2, ...), in one statement: the split points of each range, from one pass over
    the key index per range.

    Big steps (the first level): a recursive walk whose every step is ``key > previous
    ORDER BY key OFFSET step-1 LIMIT 1`` — an index-only scan skipping ``step`` entries, 3-4x
    faster than numbering every row. Small steps: ``row_number() OVER (ORDER BY key)``
    filtered to every step-th row (the walk's per-step overhead would dominate)."""
    if steps and sum(steps) / len(steps) < WALK_MIN_STEP:
        return _numbered_boundaries(table, key, where, ranges, steps)
    cols = [sql.Identifier(f"k{n}") for n in range(len(key))]
    r_key = _key_row(key)
    order = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in key)
    picked = sql.SQL(", ").join(
        sql.SQL("r.{} AS {}").format(sql.Identifier(c.name), n)
        for c, n in zip(key, cols, strict=True)
    )
    walk = sql.Identifier("restoredrill_w")
    previous = _row([sql.SQL("{}.{}").format(walk, n) for n in cols])
    offset = sql.SQL("OFFSET ({} - 1) LIMIT 1").format(_b("restoredrill_step"))

    def inner(has_lo: bool, has_hi: bool) -> sql.Composable:
        first = sql.SQL(
            "SELECT {picked} FROM {table} AS r WHERE {range} AND {where} ORDER BY {order} {offset}"
        )
        step = sql.SQL(
            "SELECT x.* FROM {walk} CROSS JOIN LATERAL (SELECT {picked} FROM {table} AS r"
            " WHERE {r_key} > {previous} AND {hi} AND {where} ORDER BY {order} {offset}) AS x"
        )
        fmt = {
            "picked": picked,
            "table": table.identifier(),
            "where": _where(where),
            "order": order,
            "offset": offset,
            "walk": walk,
            "r_key": r_key,
            "previous": previous,
        }
        return sql.SQL(
            "WITH RECURSIVE {walk}({cols}) AS (({first}) UNION ALL ({step}))"
            " SELECT row_number() OVER () AS rn, {texts} FROM {walk}"
        ).format(
            walk=walk,
            cols=sql.SQL(", ").join(cols),
            first=first.format(range=range_predicate(key, has_lo, has_hi), **fmt),
            step=step.format(hi=range_predicate(key, False, has_hi), **fmt),
            texts=sql.SQL(", ").join(sql.SQL("{}.{}::text AS {}").format(walk, n, n) for n in cols),
        )

    outer = sql.SQL("{}, s.rn, {}").format(
        _b(_I), sql.SQL(", ").join(sql.SQL("s.{}").format(n) for n in cols)
    )
    select, params = _ranges_select(
        key, ranges, {"restoredrill_step": ("int8", list(steps))}, inner, outer
    )
    return sql.SQL("SELECT * FROM ({}) AS u ORDER BY 1, 2").format(select), params


def _numbered_boundaries(
    table: TableName,
    key: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
    steps: Sequence[int],
) -> tuple[sql.Composed, list[Any]]:
    cols = [sql.Identifier(f"k{n}") for n in range(len(key))]
    order = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in key)
    picked = sql.SQL(", ").join(
        sql.SQL("r.{} AS {}").format(sql.Identifier(c.name), n)
        for c, n in zip(key, cols, strict=True)
    )

    def inner(has_lo: bool, has_hi: bool) -> sql.Composable:
        return sql.SQL(
            "SELECT x.rn / {step} AS rn, {texts} FROM (SELECT {picked},"
            " row_number() OVER (ORDER BY {order}) AS rn"
            " FROM {table} AS r WHERE {range} AND {where}) AS x"
            " WHERE pg_catalog.mod(x.rn, {step}) = 0"
        ).format(
            texts=sql.SQL(", ").join(sql.SQL("x.{}::text AS {}").format(n, n) for n in cols),
            picked=picked,
            order=order,
            table=table.identifier(),
            range=range_predicate(key, has_lo, has_hi),
            where=_where(where),
            step=_b("restoredrill_step"),
        )

    outer = sql.SQL("{}, s.rn, {}").format(
        _b(_I), sql.SQL(", ").join(sql.SQL("s.{}").format(n) for n in cols)
    )
    select, params = _ranges_select(
        key, ranges, {"restoredrill_step": ("int8", list(steps))}, inner, outer
    )
    return sql.SQL("SELECT * FROM ({}) AS u ORDER BY 1, 2").format(select), params


def fetch_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    columns: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
) -> tuple[sql.Composed, list[Any]]:
    """Rows (range index, column text...) of every row in the ranges, in key order."""
    key_order = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in key)
    texts = sql.SQL(", ").join(
        sql.SQL("r.{}::text AS {}").format(sql.Identifier(c.name), sql.Identifier(f"c{n}"))
        for n, c in enumerate(columns)
    )

    def inner(has_lo: bool, has_hi: bool) -> sql.Composable:
        return sql.SQL(
            "SELECT {texts}, row_number() OVER (ORDER BY {order}) AS rn"
            " FROM {table} AS r WHERE {range} AND {where}"
        ).format(
            texts=texts,
            order=key_order,
            table=table.identifier(),
            range=range_predicate(key, has_lo, has_hi),
            where=_where(where),
        )

    outer = sql.SQL("{}, s.rn, {}").format(
        _b(_I),
        sql.SQL(", ").join(
            sql.SQL("s.{}").format(sql.Identifier(f"c{n}")) for n in range(len(columns))
        ),
    )
    select, params = _ranges_select(key, ranges, {}, inner, outer)
    return sql.SQL("SELECT * FROM ({}) AS u ORDER BY 1, 2").format(select), params


# --- reapply -----------------------------------------------------------------------------------

ARCHIVE_SCHEMA = pg.ARCHIVE_SCHEMA


def _value(text: str | None) -> sql.Composable:
    """A value as an untyped literal: the column's input function converts it exactly."""
    return sql.SQL("NULL") if text is None else sql.Literal(text)


def key_match(key: Sequence[str], values: RowValues) -> sql.Composable:
    """``("k1", "k2") = ('1', 'x')`` — typed equality on the key (served by its index)."""
    return sql.SQL("{} = {}").format(
        _row([sql.Identifier(k) for k in key]), _row([_value(values[k]) for k in key])
    )


def guard(compared: Sequence[str], values: RowValues) -> sql.Composable:
    """Every compared column still holds exactly (by text form) the guard's value.
    (Key columns are matched by ``key_match`` and left out of the callers' lists.)"""
    if not compared:
        return sql.SQL("TRUE")
    return sql.SQL(" AND ").join(
        sql.SQL("{}::text IS NOT DISTINCT FROM {}").format(sql.Identifier(c), _value(values[c]))
        for c in compared
    )


def lock_and_read(
    table: TableName,
    key: Sequence[str],
    compared: Sequence[str],
    keys: Sequence[RowValues],
    for_update: bool,
) -> sql.Composed:
    """Current text forms of the rows with these keys (locked FOR UPDATE when writing)."""
    cols = [*key, *[c for c in compared if c not in key]]
    return sql.SQL("SELECT {cols} FROM {table} WHERE {keys} IN ({values}){lock}").format(
        cols=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in cols),
        table=table.identifier(),
        keys=_row([sql.Identifier(k) for k in key]),
        values=sql.SQL(", ").join(_row([_value(v[k]) for k in key]) for v in keys),
        lock=sql.SQL(" FOR UPDATE") if for_update else sql.SQL(""),
    )


def archive_table_name(table: TableName, stamp: str) -> TableName:
    """``restoredrill_archive."<table>_<stamp>"`` (schema-prefixed outside public), cut to
    PostgreSQL's 63-byte identifier limit while keeping the stamp."""
    base = table.name if table.schema == pg.DEFAULT_SCHEMA else f"{table.schema}.{table.name}"
    suffix = f"_{stamp}"
    room = 63 - len(suffix.encode())
    encoded = base.encode()[:room]
    return TableName(ARCHIVE_SCHEMA, encoded.decode(errors="ignore") + suffix)


def create_archive(table: TableName, archive: TableName) -> list[sql.Composed]:
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(archive.schema)),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {})").format(
            archive.identifier(), table.identifier()
        ),
    ]


def archive_row(
    table: TableName,
    archive: TableName,
    all_columns: Sequence[str],
    key: Sequence[str],
    compared: Sequence[str],
    row_key: RowValues,
    guard_values: RowValues,
) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in all_columns)
    return sql.SQL(
        "INSERT INTO {archive} ({cols}) SELECT {cols} FROM {table} WHERE {k} AND {g}"
    ).format(
        archive=archive.identifier(),
        cols=cols,
        table=table.identifier(),
        k=key_match(key, row_key),
        g=guard(compared, guard_values),
    )


def revert_row(
    table: TableName,
    key: Sequence[str],
    compared: Sequence[str],
    set_columns: Sequence[str],
    restored: RowValues,
    guard_values: RowValues,
) -> sql.Composed:
    """UPDATE one row back to its restored values, only while it holds the guard values."""
    return sql.SQL("UPDATE {table} SET {sets} WHERE {k} AND {g}").format(
        table=table.identifier(),
        sets=sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), _value(restored[c])) for c in set_columns
        ),
        k=key_match(key, restored),
        g=guard(compared, guard_values),
    )


def insert_rows(
    table: TableName,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[RowValues],
    overriding: bool,
) -> sql.Composed:
    """Multi-row INSERT ... ON CONFLICT (key) DO NOTHING RETURNING the inserted keys."""
    return sql.SQL(
        "INSERT INTO {table} ({cols}){overriding} VALUES {values}"
        " ON CONFLICT ({key}) DO NOTHING RETURNING {returning}"
    ).format(
        table=table.identifier(),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        overriding=sql.SQL(" OVERRIDING SYSTEM VALUE") if overriding else sql.SQL(""),
        values=sql.SQL(",\n  ").join(_row([_value(r.get(c)) for c in columns]) for r in rows),
        key=sql.SQL(", ").join(sql.Identifier(k) for k in key),
        returning=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(k)) for k in key),
    )


def batch_settings(lock_timeout: str, statement_timeout: str) -> list[sql.Composed]:
    return [
        sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(lock_timeout)),
        sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(statement_timeout)),
    ]


# Reapply pins the settings that change text forms (its guards compare text), but not
# search_path: triggers on production tables may rely on it, and every name reapply writes is
# schema-qualified anyway. (Only reg* typed columns print differently under another
# search_path; their guards then fail safe, as conflicts.)
WRITE_SETTINGS: dict[str, str] = {
    name: value for name, value in pg.SESSION_SETTINGS.items() if name != "search_path"
}


def pin_for_writes(conn: Connection) -> None:
    for name, value in WRITE_SETTINGS.items():
        conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (name, value))
    if not conn.autocommit:
        conn.commit()


def session_settings() -> list[sql.Composed]:
    """``pin_for_writes`` as statements, for the top of a reviewable script."""
    return [
        sql.SQL("SELECT pg_catalog.set_config({}, {}, false)").format(
            sql.Literal(name), sql.Literal(value)
        )
        for name, value in WRITE_SETTINGS.items()
    ]


def filter_query(
    columns: Sequence[ColumnInfo], rows: Sequence[RowValues], where: sql.Composable
) -> tuple[sql.Composed, list[Any]]:
    """Which of ``rows`` (given as text forms) satisfy the user's ``where``: each row becomes a
    typed record whose columns carry the table's column names, then ``where`` filters."""
    names = [f"restoredrill_c{n}" for n in range(len(columns))]
    arrays = [sql.SQL("%s::pg_catalog.int4[]")] + [
        sql.SQL("%s::pg_catalog.text[]") for _ in columns
    ]
    params: list[Any] = [list(range(len(rows)))]
    params += [[r.get(c.name) for r in rows] for c in columns]
    typed = sql.SQL(", ").join(
        sql.SQL("v.{}::{} AS {}").format(sql.Identifier(n), c.cast_type(), sql.Identifier(c.name))
        for n, c in zip(names, columns, strict=True)
    )
    query = sql.SQL(
        "SELECT v.restoredrill_i FROM unnest({arrays}) AS v(restoredrill_i, {names})"
        " CROSS JOIN LATERAL (SELECT {typed}) AS r WHERE {where}"
    ).format(
        arrays=sql.SQL(", ").join(arrays),
        names=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        typed=typed,
        where=_where(where),
    )
    return query, params


def one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


__all__ = [
    "ARCHIVE_SCHEMA",
    "ColumnInfo",
    "KeyRange",
    "KeyText",
    "archive_row",
    "archive_table_name",
    "batch_settings",
    "boundaries_query",
    "checksum_query",
    "column_info",
    "count_rows",
    "create_archive",
    "estimate_rows",
    "fetch_query",
    "filter_query",
    "guard",
    "has_key_index",
    "insert_rows",
    "is_unique_key",
    "key_columns",
    "key_match",
    "lock_and_read",
    "one_line",
    "range_predicate",
    "revert_row",
    "server_identity",
    "session_settings",
    "table_exists",
]
