"""MariaDB / MySQL keys: which columns identify a row (primary key, else the narrowest
unique key on NOT NULL columns), whether an index serves range scans or the guarded inserts
over them, the planner's row estimate, and the tables a table's foreign keys reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from restoredrill.engines.mysql.session import (
    MyConn,
    literal,
    schema_sql,
)
from restoredrill.engines.names import TableName


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
