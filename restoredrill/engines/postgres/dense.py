"""PostgreSQL SQL of the diff's dense path (drill/diff_rows.py): list a range's rows as
(key, row hash) instead of fetching them whole, then fetch whole only the rows with the
differing keys.

Both are plain statements over the same key ranges as the bisection (diff_ranges.py), so
the two sides never have to agree on an ordering: a range holds the same keys on both sides
by construction, and the rows of a range are compared as sets. Key values travel as their
text forms and come back through a cast to the key column's type (typed equality, served by
the key's index)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from restoredrill.engines.driver import Params
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres import diff_ranges as dialect
from restoredrill.engines.postgres.columns import ColumnInfo
from restoredrill.engines.ranges import KeyRange, KeyText


def _escaped(value: sql.Composable) -> sql.Composable:
    """Backslash, tab and newline escaped (``\\``, ``\\t``, ``\\n``): the separators of a
    listing stay unambiguous whatever a key's text holds."""
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n")):
        value = sql.SQL("pg_catalog.replace({}, {}, {})").format(
            value, sql.Literal(raw), sql.Literal(escaped)
        )
    return value


def hash_list_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    compared: Sequence[ColumnInfo],
    where: sql.Composable | None,
    ranges: Sequence[KeyRange],
) -> tuple[sql.Composed, Params]:
    """Rows (range index, row count, listing) of the ranges' rows that match ``where``: the
    listing is one text per range, its rows in key order separated by newlines, each row
    ``hash<TAB>key text<TAB>key text...`` (key texts escaped). One text per range, not one
    row per row: the client splits it in C instead of building a tuple per row."""
    order = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in key)
    element = sql.SQL(" || E'\\t' || ").join(
        [
            sql.SQL("({})::text").format(dialect.row_hash(compared)),
            *(_escaped(sql.SQL("r.{}::text").format(sql.Identifier(c.name))) for c in key),
        ]
    )

    def inner(has_lo: bool, has_hi: bool) -> sql.Composable:
        return sql.SQL(
            "SELECT count(*) AS n, pg_catalog.string_agg({element}, E'\\n' ORDER BY {order}) AS l"
            " FROM {table} AS r WHERE {range} AND {where}"
        ).format(
            element=element,
            order=order,
            table=table.identifier(),
            range=dialect.range_predicate(key, has_lo, has_hi),
            where=sql.SQL("TRUE") if where is None else sql.SQL("({})").format(where),
        )

    outer = sql.SQL("{}.{}, s.n, s.l").format(
        sql.Identifier(dialect.RANGES_ALIAS), sql.Identifier(dialect.RANGE_INDEX)
    )
    return dialect.ranges_select(key, ranges, {}, inner, outer)


def rows_by_keys_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    columns: Sequence[ColumnInfo],
    keys: Sequence[KeyText],
) -> tuple[sql.Composed, Params]:
    """Rows (column text...) of the rows with these keys, whatever the diff's --where: one
    index probe per key (the LIMIT keeps the planner from turning the probes into a scan of
    the table; 2, not 1, so a key that is not unique still shows up twice)."""
    names = [f"restoredrill_k{n}" for n in range(len(key))]
    texts = sql.SQL(", ").join(
        sql.SQL("r.{}::text").format(sql.Identifier(c.name)) for c in columns
    )
    match = sql.SQL(" AND ").join(
        sql.SQL("r.{} = k.{}::{}").format(sql.Identifier(c.name), sql.Identifier(n), c.cast_type())
        for c, n in zip(key, names, strict=True)
    )
    query = sql.SQL(
        "SELECT s.* FROM unnest({arrays}) AS k({names})"
        " CROSS JOIN LATERAL (SELECT {texts} FROM {table} AS r WHERE {match} LIMIT 2) AS s"
    ).format(
        arrays=sql.SQL(", ").join(sql.SQL("%b::pg_catalog.text[]") for _ in key),
        names=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        texts=texts,
        table=table.identifier(),
        match=match,
    )
    return query, [[k[n] for k in keys] for n in range(len(key))]


__all__ = ["hash_list_query", "rows_by_keys_query"]
