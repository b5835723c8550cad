"""PostgreSQL SQL of reapply: guarded, idempotent statements that put restored rows back.

Values go back as untyped literals (``'…'``), which PostgreSQL converts with the column
type's own input function (exact); guards compare columns' text forms, so a row that changed
since the incident is never clobbered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from operator import itemgetter

from psycopg import sql

from restoredrill.engines.driver import Params
from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.catalog import Connection, TableName
from restoredrill.engines.postgres.columns import ColumnInfo, sql_row, user_where, where_clause
from restoredrill.models import RowValues

ARCHIVE_SCHEMA = pg.ARCHIVE_SCHEMA


def _value(text: str | None) -> sql.Composable:
    """A value as an untyped literal: the column's input function converts it exactly."""
    return sql.SQL("NULL") if text is None else sql.Literal(text)


def key_match(key: Sequence[str], values: RowValues) -> sql.Composable:
    """``("k1", "k2") = ('1', 'x')`` — typed equality on the key (served by its index)."""
    return sql.SQL("{} = {}").format(
        sql_row([sql.Identifier(k) for k in key]), sql_row([_value(values[k]) for k in key])
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
    columns: Sequence[ColumnInfo],
) -> sql.Composed:
    """Current text forms of the rows with these keys (locked FOR UPDATE when writing);
    ``columns``: the table's, which type the keys. (``columns`` below: the MariaDB
    dialect's need; PostgreSQL types values by the column they go into.)"""
    cols = [*key, *[c for c in compared if c not in key]]
    # The keys go as ONE literal, a JSON array of arrays of text forms, each cast to its key
    # column's type (its input function, as an untyped literal would be; filter_query does
    # the same): a VALUES list of 10,000 composed literals took longer to build in Python
    # than the server took to read the rows.
    types = {c.name: c.cast_type() for c in columns}
    wanted = json.dumps([[v.get(k) for k in key] for v in keys], ensure_ascii=False)
    return sql.SQL(
        "SELECT {cols} FROM {table} WHERE {keys} IN (SELECT {typed} FROM "
        "pg_catalog.json_array_elements({wanted}::pg_catalog.json) AS w(restoredrill_row)){lock}"
    ).format(
        cols=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in cols),
        table=table.identifier(),
        keys=sql_row([sql.Identifier(k) for k in key]),
        typed=sql.SQL(", ").join(
            sql.SQL("(w.restoredrill_row ->> {})::{}").format(sql.Literal(n), types[k])
            for n, k in enumerate(key)
        ),
        wanted=sql.Literal(wanted),
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
    columns: Sequence[ColumnInfo] = (),
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
    columns: Sequence[ColumnInfo] = (),
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


def rewrite_row(
    table: TableName,
    key: Sequence[str],
    set_columns: Sequence[str],
    restored: RowValues,
    columns: Sequence[ColumnInfo] = (),
) -> sql.Composed:
    """Put back the restored values a trigger overwrote on a row this transaction just wrote
    (unguarded: the write holds the row's lock)."""
    return revert_row(table, key, [], set_columns, restored, restored)


def insert_rows(
    table: TableName,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[RowValues],
    overriding: bool,
    infos: Sequence[ColumnInfo] = (),
) -> sql.Composed:
    """Multi-row INSERT ... ON CONFLICT (key) DO NOTHING RETURNING the inserted keys."""
    return sql.SQL(
        "INSERT INTO {table} ({cols}){overriding} VALUES {values}"
        " ON CONFLICT ({key}) DO NOTHING RETURNING {returning}"
    ).format(
        table=table.identifier(),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        overriding=sql.SQL(" OVERRIDING SYSTEM VALUE") if overriding else sql.SQL(""),
        values=sql.SQL(",\n  ").join(sql_row([_value(r.get(c)) for c in columns]) for r in rows),
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
    columns: Sequence[ColumnInfo], rows: Sequence[RowValues], where: str
) -> tuple[sql.Composed, Params]:
    """Which of ``rows`` (given as text forms) satisfy the user's ``where``: each row becomes a
    typed record whose columns carry the table's column names, then ``where`` filters.

    The rows travel as one JSON text (an array of arrays of strings or nulls, made in C):
    as parameter arrays, psycopg's per-element dumping was most of the filter's time. A
    value is its text form (``->>``, null as NULL) cast to the column's type, as before.
    ``json``, not ``jsonb``: a jsonb value stops at 256 MB, a chunk of wide rows may not."""
    get = itemgetter(*(c.name for c in columns))
    try:  # itemgetter: this runs once per row and column
        values = [get(r) for r in rows] if len(columns) > 1 else [[get(r)] for r in rows]
    except KeyError:  # a value the diff left out is NULL
        values = [[r.get(c.name) for c in columns] for r in rows]
    typed = sql.SQL(", ").join(
        sql.SQL("(v.restoredrill_row ->> {})::{} AS {}").format(
            sql.Literal(n), c.cast_type(), sql.Identifier(c.name)
        )
        for n, c in enumerate(columns)
    )
    query = sql.SQL(
        "SELECT (v.restoredrill_i - 1)::pg_catalog.int4 FROM"
        " pg_catalog.json_array_elements(%s::pg_catalog.json)"
        " WITH ORDINALITY AS v(restoredrill_row, restoredrill_i)"
        " CROSS JOIN LATERAL (SELECT {typed}) AS r WHERE {where}"
    ).format(typed=typed, where=where_clause(user_where(where)))
    return query, [json.dumps(values, ensure_ascii=False)]
