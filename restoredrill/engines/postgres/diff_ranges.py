"""PostgreSQL SQL of diff bisection over key ranges: per range a row count and checksum,
the boundaries that split a range, and the rows themselves.

- Identifiers only ever go through ``psycopg.sql.Identifier``; values through placeholders.
  The one piece of raw SQL is the user's ``--where`` (trusted input, like the DSN),
  parenthesised.
- Values travel as their text form computed in the server (``col::text`` under the pinned
  session settings of ``catalog.pin_session``), so Python never compares typed values; key
  bounds go back as explicit casts to the key column's type (``::"pg_catalog"."int8"``).
- Key ranges are half-open ``[lo, hi)`` in key order, written as row-value comparisons
  ``(k1, k2) >= (lo1, lo2) AND (k1, k2) < (hi1, hi2)``, so composite and non-numeric keys
  work and a btree on the key serves each range.
- A bucket's checksum is ``count(*)`` plus the exact (numeric) sum of a 64-bit hash of each
  row. It only decides which ranges to look at more closely; the final comparison is of the
  rows' text forms. Should two servers ever hash differently (another CPU architecture),
  every bucket looks different and the diff is still exact, only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from psycopg import sql

from restoredrill.engines.driver import Params
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres.columns import ColumnInfo, sql_row, where_clause
from restoredrill.engines.ranges import KeyRange

_B = "restoredrill_b"  # alias of the ranges list (unlikely to clash with a user's --where)
_I = "restoredrill_i"
# builds a range shape's subquery: (has a lower bound, has an upper bound) -> SQL
Inner = Callable[[bool, bool], sql.Composable]
RANGES_ALIAS, RANGE_INDEX = _B, _I  # for dense.py


def _lo(k: int) -> str:
    return f"restoredrill_lo{k}"


def _hi(k: int) -> str:
    return f"restoredrill_hi{k}"


def _key_row(key: Sequence[ColumnInfo]) -> sql.Composable:
    return sql_row([sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in key])


def _bound_row(key: Sequence[ColumnInfo], name: Callable[[int], str]) -> sql.Composable:
    return sql_row(
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


def ranges_select(
    key: Sequence[ColumnInfo],
    ranges: Sequence[KeyRange],
    extra: dict[str, tuple[str, list[Any]]],
    inner: Inner,
    outer_columns: sql.Composable,
) -> tuple[sql.Composed, Params]:
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
) -> tuple[sql.Composed, Params]:
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
            where=where_clause(where),
        )

    outer = sql.SQL("{}, s.n, s.h").format(_b(_I))
    return ranges_select(key, ranges, {}, inner, outer)


# Below this mean step, numbering every row (a window function) beats walking the index.
WALK_MIN_STEP = 512


def boundaries_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
    steps: Sequence[int],
) -> tuple[sql.Composed, Params]:
    """Rows (range index, n, key text...) of every ``steps[i]``-th row of range i in key order
    (n = 1, 2, ...), in one statement: the split points of each range, from one pass over
    the key index per range.

    Big steps (the first level): a recursive walk whose every step is ``key > previous
    ORDER BY key OFFSET step-1 LIMIT 1`` — an index-only scan skipping ``step`` entries, 3-4x
    faster than numbering every row. Small steps: ``row_number() OVER (ORDER BY key)``
    filtered to every step-th row (the walk's per-step overhead would dominate)."""
    if steps and sum(steps) / len(steps) < WALK_MIN_STEP:
        return _numbered_boundaries(table, key, where, ranges, steps)
    cols, order, picked = _key_columns(key)
    r_key = _key_row(key)
    walk = sql.Identifier("restoredrill_w")
    previous = sql_row([sql.SQL("{}.{}").format(walk, n) for n in cols])
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
            "where": where_clause(where),
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

    return _boundaries_select(key, ranges, steps, cols, inner)


def _numbered_boundaries(
    table: TableName,
    key: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
    steps: Sequence[int],
) -> tuple[sql.Composed, Params]:
    cols, order, picked = _key_columns(key)

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
            where=where_clause(where),
            step=_b("restoredrill_step"),
        )

    return _boundaries_select(key, ranges, steps, cols, inner)


def _key_columns(
    key: Sequence[ColumnInfo],
) -> tuple[list[sql.Identifier], sql.Composable, sql.Composable]:
    """A boundary query's key: output names ``k0..``, the ORDER BY, and the key picked as them."""
    cols = [sql.Identifier(f"k{n}") for n in range(len(key))]
    order = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in key)
    picked = sql.SQL(", ").join(
        sql.SQL("r.{} AS {}").format(sql.Identifier(c.name), n)
        for c, n in zip(key, cols, strict=True)
    )
    return cols, order, picked


def _boundaries_select(
    key: Sequence[ColumnInfo],
    ranges: Sequence[KeyRange],
    steps: Sequence[int],
    cols: Sequence[sql.Identifier],
    inner: Inner,
) -> tuple[sql.Composed, Params]:
    """Rows (range index, n, key text...) of ``inner`` over every range, in order."""
    outer = sql.SQL("{}, s.rn, {}").format(
        _b(_I), sql.SQL(", ").join(sql.SQL("s.{}").format(n) for n in cols)
    )
    select, params = ranges_select(
        key, ranges, {"restoredrill_step": ("int8", list(steps))}, inner, outer
    )
    return sql.SQL("SELECT * FROM ({}) AS u ORDER BY 1, 2").format(select), params


def fetch_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    columns: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
) -> tuple[sql.Composed, Params]:
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
            where=where_clause(where),
        )

    outer = sql.SQL("{}, s.rn, {}").format(
        _b(_I),
        sql.SQL(", ").join(
            sql.SQL("s.{}").format(sql.Identifier(f"c{n}")) for n in range(len(columns))
        ),
    )
    select, params = ranges_select(key, ranges, {}, inner, outer)
    return sql.SQL("SELECT * FROM ({}) AS u ORDER BY 1, 2").format(select), params
