"""PostgreSQL dialect: identifier quoting (only via psycopg.sql), user tables, key
introspection, and the SQL that fingerprints a table inside the server.

A fingerprint is ``count(*)`` plus an order-independent checksum of the rows (see
``pg_fingerprint.py``). Text output depends on a few session settings, so ``pin_session``
fixes them on every connection that fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
import psycopg.errors
from psycopg import sql

from restoredrill.engines.names import TableName as TableName
from restoredrill.engines.names import split_quoted
from restoredrill.engines.postgres import fingerprint as pgfp
from restoredrill.errors import ConfigError
from restoredrill.lsn import parse_lsn
from restoredrill.models import ServerIdentity, TableFingerprint

Connection = psycopg.Connection[Any]

DEFAULT_SCHEMA = "public"
# Where reapply archives the rows it overwrites: never user data to verify, diff or manifest.
ARCHIVE_SCHEMA = "restoredrill_archive"

# The table and every relation below it (partitions, inheritance children), at any depth:
# the CTE ``tree(oid)``; its parameters are (schema, name).
TABLE_TREE = """
WITH RECURSIVE tree(oid) AS (
    SELECT c.oid FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relname = %s
  UNION
    SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.oid
)"""

# Settings that change the text form of values (and so the checksums). Pinned on both sides.
SESSION_SETTINGS: dict[str, str] = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "lc_monetary": "C",
    # regclass/regtype values print schema-qualified the same way on both sides
    "search_path": "pg_catalog, pg_temp",
}


@dataclass(frozen=True)
class TableKey:
    columns: tuple[str, ...]
    primary: bool


# --- names --------------------------------------------------------------------------------


def resolve_table(spec: str, known: set[str]) -> str:
    """Map a user's table spec to one of the ``known`` display names.

    Accepted: the display form ``schema.table`` exactly, ``table`` (schema public), or the
    SQL-quoted form ``"My Schema"."we""ird Table"``. Unknown → ConfigError (exit 2).
    """
    text = spec.strip()
    candidates = [text, f"{DEFAULT_SCHEMA}.{text}"]
    parts = split_quoted(text, '"')
    if parts is not None and len(parts) in (1, 2):
        schema, name = (DEFAULT_SCHEMA, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        candidates.append(TableName(schema, name).display)
    for candidate in candidates:
        if candidate in known:
            return candidate
    raise ConfigError(
        f'unknown table {spec!r} (give it as table, schema.table or "schema"."table")'
    )


# --- session and catalog --------------------------------------------------------------------


def pin_session(conn: Connection) -> None:
    """Fix the settings that change values' text output (session-level; commits if needed)."""
    for name, value in SESSION_SETTINGS.items():
        conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (name, value))
    if not conn.autocommit:
        conn.commit()


def limit_session(conn: Connection, lock_seconds: float, statement_seconds: float) -> None:
    """Session-level lock_timeout and statement_timeout (production sides of verify / diff)."""
    for name, seconds in (("lock_timeout", lock_seconds), ("statement_timeout", statement_seconds)):
        value = f"{max(1, round(seconds * 1000))}ms"
        conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (name, value))
    if not conn.autocommit:
        conn.commit()


def timeout_kind(exc: BaseException) -> Literal["lock", "statement"] | None:
    """Which session limit ended a statement: lock_timeout raises 55P03; statement_timeout a
    57014 query_canceled, as does a cancel request, told apart by the server's message."""
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return "lock"
    if isinstance(exc, psycopg.errors.QueryCanceled) and "statement timeout" in str(exc):
        return "statement"
    return None


def list_tables(conn: Connection) -> list[TableName]:
    """Permanent user tables (partitioned parents, not their partitions), sorted.

    Unlogged and temporary tables are left out: point-in-time recovery cannot restore them;
    so is reapply's archive schema (its own bookkeeping, not the user's data)."""
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND c.relpersistence = 'p'
          AND n.nspname <> 'information_schema'
          AND n.nspname !~ '^pg_'
          AND n.nspname <> %s
        ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
        """,
        (ARCHIVE_SCHEMA,),
    ).fetchall()
    return [TableName(str(schema), str(name)) for schema, name in rows]


def _table_oid(conn: Connection, table: TableName) -> int | None:
    row = conn.execute(
        "SELECT c.oid FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (table.schema, table.name),
    ).fetchone()
    return None if row is None else int(row[0])


def table_columns(conn: Connection, table: TableName) -> list[str]:
    """Column names in table order (dropped columns left out)."""
    oid = _table_oid(conn, table)
    if oid is None:
        return []
    rows = conn.execute(
        "SELECT attname FROM pg_catalog.pg_attribute"
        " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (oid,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def key_columns(conn: Connection, table: TableName) -> TableKey | None:
    """The primary key, else the narrowest valid unique index on NOT NULL plain columns;
    None when the table has no usable key. Column order is the index order."""
    oid = _table_oid(conn, table)
    if oid is None:
        return None
    row = conn.execute(
        """
        SELECT i.indisprimary, array_agg(a.attname::text ORDER BY k.ord)
        FROM pg_catalog.pg_index i
        CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        LEFT JOIN pg_catalog.pg_attribute a
               ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s
          AND i.indisunique AND i.indisvalid
          AND i.indpred IS NULL
          AND k.ord <= i.indnkeyatts
        GROUP BY i.indexrelid, i.indisprimary
        HAVING bool_and(k.attnum > 0 AND coalesce(a.attnotnull, false))
        ORDER BY i.indisprimary DESC, count(*), i.indexrelid
        LIMIT 1
        """,
        (oid,),
    ).fetchone()
    if row is None:
        return None
    return TableKey(columns=tuple(str(c) for c in row[1]), primary=bool(row[0]))


# --- fingerprints ------------------------------------------------------------------------------


def as_of_predicate(column: str, as_of: datetime) -> sql.Composed:
    """``"column" <= 'as_of'::timestamptz`` (the value is a literal so it can be shown)."""
    return sql.SQL("{} <= {}").format(sql.Identifier(column), sql.Literal(as_of))


def fingerprint(
    conn: Connection, table: TableName, where: sql.Composable | None = None
) -> TableFingerprint:
    """Count and checksum of ``table`` (rows matching ``where``), computed in the server
    (``pg_fingerprint.py``). The session must be pinned (``pin_session``)."""
    cols = pgfp.columns(conn, table)
    row = conn.execute(pgfp.fingerprint_query(table, cols, where)).fetchone()
    assert row is not None
    return TableFingerprint(rows=int(row[0]), checksum=pgfp.format_checksum(row[1]))


# --- server position -------------------------------------------------------------------------


def system_identifier(conn: Connection) -> int | None:
    """The cluster's system identifier (kept by restores from a base backup); None if unreadable."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT system_identifier FROM pg_catalog.pg_control_system()")
            value = row.fetchone()
    except psycopg.Error:
        return None
    return None if value is None or value[0] is None else int(value[0])


def wal_position(conn: Connection) -> int | None:
    """Where the server's WAL is now: the insert position, or the replay position on a standby."""
    row = conn.execute(
        "SELECT CASE WHEN pg_catalog.pg_is_in_recovery()"
        " THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END::text"
    ).fetchone()
    return None if row is None or row[0] is None else parse_lsn(str(row[0]))


@dataclass(frozen=True)
class ReplayEnd:
    """How far a restored server replayed: ``pg_last_wal_replay_lsn()`` and
    ``pg_last_xact_replay_timestamp()``. Both stay set after promotion (until a restart)."""

    lsn: int | None
    xact_time: datetime | None


def replay_end(conn: Connection) -> ReplayEnd:
    row = conn.execute(
        "SELECT pg_catalog.pg_last_wal_replay_lsn()::text,"
        " pg_catalog.pg_last_xact_replay_timestamp()"
    ).fetchone()
    assert row is not None
    lsn = None if row[0] is None else parse_lsn(str(row[0]))
    xact_time = row[1] if isinstance(row[1], datetime) else None
    return ReplayEnd(lsn=lsn, xact_time=xact_time)


def create_restore_point(conn: Connection, name: str) -> int:
    """``pg_create_restore_point(name)``; returns its LSN."""
    row = conn.execute("SELECT pg_catalog.pg_create_restore_point(%s)::text", (name,)).fetchone()
    assert row is not None
    return parse_lsn(str(row[0]))


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
        system_identifier=system_identifier(conn),
        postmaster_start_time=start,
        port=int(str(row[2])) if row[2] is not None else None,
        data_directory=None if row[4] is None else str(row[4]),
        server_version=None if row[3] is None else str(row[3]),
    )


def one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
