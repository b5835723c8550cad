"""MariaDB / MySQL dialect for diff and reapply: key introspection, the key-range SQL of
checksum bisection, and the guarded, idempotent reapply statements (the same shapes as
PostgreSQL's ``diff_ranges.py`` and ``reapply_sql.py``, behind the same ``Engine`` roles).

- Ranges are half-open ``[lo, hi)`` in key order; bounds are the key values' text forms
  turned back into typed values (``columns.value_sql``), so a BIGINT is never compared as a
  double and strings compare in the column's collation. Many ranges go into one statement
  as UNION ALL branches (no LATERAL in MariaDB), each an index range scan.
- A bucket's checksum is ``COUNT(*)`` plus the exact sum of the first 64 bits of each row's
  MD5 (of ``mysql.row_text``); it only decides which ranges to look at more closely, the
  final comparison is of the rows' text forms.
- Reapply: a lost row comes back through ``INSERT … SELECT … WHERE NOT EXISTS`` (the key),
  one statement per row so the rows really inserted are known (no RETURNING in MySQL); a
  changed row is reverted by an UPDATE whose WHERE repeats the guard: every compared column's
  text form is byte-for-byte (``CAST(… AS BINARY) <=>``) the guard's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from restoredrill.engines.mysql.catalog import ARCHIVE_SCHEMA
from restoredrill.engines.mysql.columns import ColumnInfo, row_text, text_expr, value_sql
from restoredrill.engines.mysql.session import (
    SESSION_STATEMENTS,
    MyConn,
    literal,
    quote_ident,
    quote_table,
    schema_sql,
)
from restoredrill.engines.names import TableName
from restoredrill.engines.ranges import KeyRange
from restoredrill.errors import ConfigError
from restoredrill.models import RowValues

MAX_RANGES_PER_STATEMENT = 256
IDENTIFIER_MAX = 64


def _where(where: str | None) -> str:
    return "TRUE" if where is None else f"({where})"


# --- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    name: str
    unique: bool
    columns: tuple[str, ...]
    nullable: bool
    prefix: bool  # a prefix (SUB_PART) or expression part: not the whole value
    btree: bool


def _indexes(conn: MyConn, table: TableName) -> list[_Index]:
    rows = conn.rows(
        "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, NULLABLE, SUB_PART, INDEX_TYPE"
        " FROM information_schema.STATISTICS"
        f" WHERE TABLE_SCHEMA = {schema_sql(table)} AND TABLE_NAME = {literal(table.name)}"
        " ORDER BY INDEX_NAME, SEQ_IN_INDEX"
    )
    grouped: dict[str, list[tuple[object, ...]]] = {}
    for row in rows:
        grouped.setdefault(str(row[0]), []).append(row)
    result = []
    for name, parts in grouped.items():
        result.append(
            _Index(
                name=name,
                unique=int(str(parts[0][1])) == 0,
                columns=tuple(str(p[2]) for p in parts),
                nullable=any(str(p[3] or "").upper() == "YES" for p in parts),
                prefix=any(p[4] is not None or p[2] is None for p in parts),
                btree=str(parts[0][5]).upper() == "BTREE",
            )
        )
    return result


def key_columns(conn: MyConn, table: TableName) -> tuple[str, ...] | None:
    """The primary key, else the narrowest unique index on NOT NULL whole columns."""
    usable = [i for i in _indexes(conn, table) if i.unique and not i.nullable and not i.prefix]
    if not usable:
        return None
    usable.sort(key=lambda i: (i.name != "PRIMARY", len(i.columns), i.name))
    return usable[0].columns


def has_key_index(conn: MyConn, table: TableName, key: Sequence[str]) -> bool:
    """A B-tree index whose leading whole columns are ``key``, in that order."""
    n = len(key)
    return any(
        i.btree and not i.prefix and i.columns[:n] == tuple(key) for i in _indexes(conn, table)
    )


def is_unique_key(conn: MyConn, table: TableName, key: Sequence[str]) -> bool:
    return any(
        i.unique and not i.prefix and sorted(i.columns) == sorted(key)
        for i in _indexes(conn, table)
    )


def estimate_rows(conn: MyConn, table: TableName) -> int | None:
    value = conn.scalar(
        "SELECT TABLE_ROWS FROM information_schema.TABLES"
        f" WHERE TABLE_SCHEMA = {schema_sql(table)} AND TABLE_NAME = {literal(table.name)}"
    )
    return None if value is None else int(value)


def referenced_tables(conn: MyConn, table: TableName) -> set[TableName]:
    rows = conn.rows(
        "SELECT DISTINCT IF(REFERENCED_TABLE_SCHEMA = DATABASE(), '', REFERENCED_TABLE_SCHEMA),"
        " REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE"
        f" WHERE TABLE_SCHEMA = {schema_sql(table)} AND TABLE_NAME = {literal(table.name)}"
        " AND REFERENCED_TABLE_NAME IS NOT NULL"
    )
    found = {TableName(str(r[0]), str(r[1])) for r in rows}
    found.discard(table)
    return found


# --- key ranges ------------------------------------------------------------------------------


def _key_ref(key: Sequence[ColumnInfo]) -> str:
    refs = [f"r.{quote_ident(c.name)}" for c in key]
    return refs[0] if len(refs) == 1 else "(" + ", ".join(refs) + ")"


def _key_value(key: Sequence[ColumnInfo], bound: Sequence[str]) -> str:
    values = [value_sql(c, v) for c, v in zip(key, bound, strict=True)]
    return values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"


def range_predicate(key: Sequence[ColumnInfo], bounds: KeyRange) -> str:
    parts = []
    if bounds.lo is not None:
        parts.append(f"{_key_ref(key)} >= {_key_value(key, bounds.lo)}")
    if bounds.hi is not None:
        parts.append(f"{_key_ref(key)} < {_key_value(key, bounds.hi)}")
    return " AND ".join(parts) if parts else "TRUE"


def _order(key: Sequence[ColumnInfo]) -> str:
    return ", ".join(f"r.{quote_ident(c.name)}" for c in key)


def row_hash(columns: Sequence[ColumnInfo]) -> str:
    return f"CAST(CONV(SUBSTRING(MD5({row_text(list(columns))}), 1, 16), 16, 10) AS UNSIGNED)"


def checksum_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    compared: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
) -> tuple[str, list[object]]:
    """Rows (range index, count, checksum) for every range, in one statement."""
    branches = [
        f"SELECT {i} AS restoredrill_i, COUNT(*) AS n, COALESCE(SUM({row_hash(compared)}), 0) AS h"
        f" FROM {quote_table(table)} AS r WHERE {range_predicate(key, bounds)} AND {_where(where)}"
        for i, bounds in enumerate(ranges)
    ]
    return " UNION ALL ".join(branches), []


def boundaries_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
    steps: Sequence[int],
) -> tuple[str, list[object]]:
    """Rows (range index, n, key text...) of every ``steps[i]``-th row of range i in key order."""
    texts = ", ".join(f"{text_expr(c)} AS k{n}" for n, c in enumerate(key))
    outs = ", ".join(f"x.k{n}" for n in range(len(key)))
    branches = []
    for i, (bounds, step) in enumerate(zip(ranges, steps, strict=True)):
        step = max(1, int(step))
        branches.append(
            f"SELECT {i} AS restoredrill_i, x.rn DIV {step} AS n, {outs} FROM (SELECT {texts},"
            f" ROW_NUMBER() OVER (ORDER BY {_order(key)}) AS rn FROM {quote_table(table)} AS r"
            f" WHERE {range_predicate(key, bounds)} AND {_where(where)}) AS x"
            f" WHERE MOD(x.rn, {step}) = 0"
        )
    return f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS u ORDER BY 1, 2", []


def fetch_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    columns: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
) -> tuple[str, list[object]]:
    """Rows (range index, n, column text...) of every row in the ranges, in key order."""
    texts = ", ".join(f"{text_expr(c)} AS c{n}" for n, c in enumerate(columns))
    branches = [
        f"SELECT {i} AS restoredrill_i, ROW_NUMBER() OVER (ORDER BY {_order(key)}) AS rn, {texts}"
        f" FROM {quote_table(table)} AS r WHERE {range_predicate(key, bounds)} AND {_where(where)}"
        for i, bounds in enumerate(ranges)
    ]
    return f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS u ORDER BY 1, 2", []


# --- reapply -------------------------------------------------------------------------------------


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


def insert_rows(
    table: TableName,
    key: Sequence[str],
    names: Sequence[str],
    rows: Sequence[RowValues],
    columns: Sequence[ColumnInfo],
) -> RowInserts:
    info = _by_name(columns)
    cols = ", ".join(quote_ident(c) for c in names)
    statements, keys = [], []
    for row in rows:
        values = ", ".join(value_sql(info[c], row.get(c)) for c in names)
        statements.append(
            f"INSERT INTO {quote_table(table)} ({cols}) SELECT {values} FROM DUAL"
            f" WHERE NOT EXISTS (SELECT 1 FROM {quote_table(table)}"
            f" WHERE {key_match(key, row, columns)})"
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
) -> tuple[str, list[object]]:
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
