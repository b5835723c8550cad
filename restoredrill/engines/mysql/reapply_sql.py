"""MariaDB / MySQL SQL of reapply: guarded, idempotent statements that put restored rows
back (the same shapes as PostgreSQL's ``reapply_sql.py``, behind the same ``Reapplying`` role).

A lost row comes back through ``INSERT … SELECT … WHERE NOT EXISTS`` (the key), one statement
per row so the rows really inserted are known (no RETURNING in MySQL); a changed row is
reverted by an UPDATE whose WHERE repeats the guard: every compared column's text form is
byte-for-byte (``CAST(… AS BINARY) <=>``) the guard's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from restoredrill.engines.driver import Params
from restoredrill.engines.mysql.catalog import ARCHIVE_SCHEMA
from restoredrill.engines.mysql.columns import ColumnInfo, text_expr, value_sql
from restoredrill.engines.mysql.session import (
    SESSION_STATEMENTS,
    literal,
    quote_ident,
    quote_table,
)
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError
from restoredrill.models import RowValues

IDENTIFIER_MAX = 64


@dataclass(frozen=True)
class RowInserts:
    """Guarded single-row INSERTs (one per lost row) and the key text each one inserts."""

    statements: list[str]
    keys: list[tuple[str | None, ...]]


def _by_name(columns: Sequence[ColumnInfo]) -> dict[str, ColumnInfo]:
    return {c.name: c for c in columns}


def key_match(key: Sequence[str], values: RowValues, columns: Sequence[ColumnInfo]) -> str:
    info = _by_name(columns)
    return " AND ".join(
        f"{quote_ident(k)} <=> {value_sql(info[k], values.get(k))}"
        if values.get(k) is None
        else f"{quote_ident(k)} = {value_sql(info[k], values.get(k))}"
        for k in key
    )


def guard(compared: Sequence[str], values: RowValues, columns: Sequence[ColumnInfo]) -> str:
    """Every compared column still holds exactly (byte for byte, by text form) the guard's
    value; NULL only matches NULL."""
    if not compared:
        return "TRUE"
    info = _by_name(columns)
    parts = []
    for name in compared:
        text = text_expr(info[name], None)
        value = values.get(name)
        if value is None:
            parts.append(f"{quote_ident(name)} IS NULL")
        else:
            parts.append(f"CAST({text} AS BINARY) <=> CAST({literal(value)} AS BINARY)")
    return " AND ".join(parts)


def lock_and_read(
    table: TableName,
    key: Sequence[str],
    compared: Sequence[str],
    keys: Sequence[RowValues],
    for_update: bool,
    columns: Sequence[ColumnInfo],
) -> str:
    info = _by_name(columns)
    names = [*key, *[c for c in compared if c not in key]]
    texts = ", ".join(text_expr(info[c]) for c in names)
    refs = [f"r.{quote_ident(k)}" for k in key]
    target = refs[0] if len(refs) == 1 else "(" + ", ".join(refs) + ")"
    values = []
    for row in keys:
        parts = [value_sql(info[k], row.get(k)) for k in key]
        values.append(parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")")
    lock = " FOR UPDATE" if for_update else ""
    return (
        f"SELECT {texts} FROM {quote_table(table)} AS r"
        f" WHERE {target} IN ({', '.join(values)}){lock}"
    )


def archive_table_name(table: TableName, stamp: str) -> TableName:
    """``restoredrill_archive.<db>__<table>_<stamp>``, cut to 64 characters keeping the stamp."""
    base = f"{table.schema}__{table.name}" if table.schema else table.name
    suffix = f"_{stamp}"
    return TableName(ARCHIVE_SCHEMA, base[: IDENTIFIER_MAX - len(suffix)] + suffix)


def create_archive(table: TableName, archive: TableName) -> list[str]:
    """The archive has the table's columns and no keys (the same row may be archived twice)."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {quote_ident(archive.schema)}",
        f"CREATE TABLE IF NOT EXISTS {quote_table(archive)} AS SELECT * FROM {quote_table(table)}"
        " WHERE FALSE",
    ]


def archive_row(
    table: TableName,
    archive: TableName,
    all_columns: Sequence[str],
    key: Sequence[str],
    compared: Sequence[str],
    row_key: RowValues,
    guard_values: RowValues,
    columns: Sequence[ColumnInfo],
) -> str:
    cols = ", ".join(quote_ident(c) for c in all_columns)
    return (
        f"INSERT INTO {quote_table(archive)} ({cols}) SELECT {cols} FROM {quote_table(table)}"
        f" WHERE {key_match(key, row_key, columns)} AND {guard(compared, guard_values, columns)}"
    )


def revert_row(
    table: TableName,
    key: Sequence[str],
    compared: Sequence[str],
    set_columns: Sequence[str],
    restored: RowValues,
    guard_values: RowValues,
    columns: Sequence[ColumnInfo],
) -> str:
    info = _by_name(columns)
    sets = ", ".join(
        f"{quote_ident(c)} = {value_sql(info[c], restored.get(c))}" for c in set_columns
    )
    return (
        f"UPDATE {quote_table(table)} SET {sets}"
        f" WHERE {key_match(key, restored, columns)} AND {guard(compared, guard_values, columns)}"
    )


def rewrite_row(
    table: TableName,
    key: Sequence[str],
    set_columns: Sequence[str],
    restored: RowValues,
    columns: Sequence[ColumnInfo],
) -> str:
    """Put back the restored values a trigger overwrote on a row this transaction just wrote
    (unguarded: the write holds the row's lock)."""
    return revert_row(table, key, [], set_columns, restored, restored, columns)


def insert_rows(
    table: TableName,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[RowValues],
    overriding: bool,
    infos: Sequence[ColumnInfo],
) -> RowInserts:
    """One guarded INSERT per row (``overriding`` is PostgreSQL's: AUTO_INCREMENT takes
    explicit values)."""
    info = _by_name(infos)
    cols = ", ".join(quote_ident(c) for c in columns)
    statements, keys = [], []
    for row in rows:
        values = ", ".join(value_sql(info[c], row.get(c)) for c in columns)
        statements.append(
            f"INSERT INTO {quote_table(table)} ({cols}) SELECT {values} FROM DUAL"
            f" WHERE NOT EXISTS (SELECT 1 FROM {quote_table(table)}"
            f" WHERE {key_match(key, row, infos)})"
        )
        keys.append(tuple(row.get(k) for k in key))
    return RowInserts(statements, keys)


_DURATION = re.compile(r"^\s*(\d+)\s*(us|ms|s|min|h|d)?\s*$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(duration: str) -> float:
    """A PostgreSQL-style duration ('5s', '500ms', '2min'; a bare number is milliseconds)."""
    match = _DURATION.match(duration)
    if not match:
        raise ConfigError(f"{duration!r}: expected a duration such as 500ms, 5s or 2min")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2) or "ms"]


def batch_settings(lock_timeout: str, statement_timeout: str, mariadb: bool) -> list[str]:
    lock = max(1, math.ceil(seconds(lock_timeout)))
    statement = seconds(statement_timeout)
    if mariadb:
        limit = f"SET SESSION max_statement_time = {statement:g}"
    else:  # MySQL only limits SELECTs, in milliseconds
        limit = f"SET SESSION max_execution_time = {round(statement * 1000)}"
    return [f"SET SESSION innodb_lock_wait_timeout = {lock}", limit]


def session_settings() -> list[str]:
    return list(SESSION_STATEMENTS)


def filter_query(
    columns: Sequence[ColumnInfo], rows: Sequence[RowValues], where: str
) -> tuple[str, Params]:
    """Which of ``rows`` (text forms) satisfy ``where``: a derived table of typed values named
    like the table's columns, filtered by ``where``."""
    if not rows:
        return "SELECT 0 FROM DUAL WHERE FALSE", []
    selects = []
    for n, row in enumerate(rows):
        values = ", ".join(
            f"{value_sql(c, row.get(c.name))} AS {quote_ident(c.name)}" for c in columns
        )
        selects.append(f"SELECT {n} AS restoredrill_i, {values}")
    return (
        f"SELECT r.restoredrill_i FROM ({' UNION ALL '.join(selects)}) AS r WHERE ({where})",
        [],
    )
