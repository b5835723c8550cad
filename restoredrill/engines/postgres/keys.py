"""PostgreSQL keys: which columns identify a row (primary key, else the narrowest unique key
on NOT NULL columns), and whether an index serves range scans or ON CONFLICT over them."""

from __future__ import annotations

from collections.abc import Sequence

from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.catalog import Connection, TableName


def key_columns(conn: Connection, table: TableName) -> tuple[str, ...] | None:
    """The primary key, else the narrowest unique key on NOT NULL columns (catalog.key_columns)."""
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
