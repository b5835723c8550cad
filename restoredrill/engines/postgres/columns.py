"""PostgreSQL columns of a table as diff and reapply see them (name, type, nullability,
generated, identity), row counts, and the SQL pieces every statement over a table shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.catalog import Connection, TableName


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


def user_where(where: str) -> sql.SQL:
    """The user's --where (trusted input, like the DSN). '%' is doubled because the
    statements it goes into also carry placeholders."""
    return sql.SQL(where.replace("%", "%%"))


def where_clause(where: sql.Composable | None) -> sql.Composable:
    """The user's --where, parenthesised; TRUE without one."""
    return sql.SQL("TRUE") if where is None else sql.SQL("({})").format(where)


def sql_row(parts: Sequence[sql.Composable]) -> sql.Composable:
    """A row value ``(a, b, ...)``: composite keys compare as one."""
    return sql.SQL("({})").format(sql.SQL(", ").join(parts))


def count_rows(conn: Connection, table: TableName, where: sql.Composable | None = None) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} AS r WHERE {}").format(
            table.identifier(), where_clause(where)
        )
    ).fetchone()
    assert row is not None
    return int(str(row[0]))
