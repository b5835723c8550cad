"""PostgreSQL table fingerprints: ``count(*)`` plus an order-independent 64-bit checksum,
computed inside the server.

Each row hashes to 64 bits: the columns whose type has an exact hash of its own (integers,
oid, uuid, timestamp, timestamptz, bool, numeric with its scale, float4/8 but zeros, text and
varchar as bytes under "C", bounded char(n) with its length in the seed) are hashed natively,
each with a seed of its own (NULL has its own constant); every other column goes into one
``hashtextextended(ROW(...)::text)`` — the record's text form, which tells NULL from '', and
'1 day' from '24 hours' — and all of it is combined with XOR. The rows' hashes are summed
exactly (``sum(int8)`` is numeric) and folded to 64 bits, so duplicates count and order does
not. Native hashing skips the text output that dominated the md5 fingerprint (5-10x
faster); the plain aggregate lets PostgreSQL run it with parallel workers.

The algorithm name goes into manifests: a manifest made with another algorithm cannot be
compared. PostgreSQL's hash functions are stable across versions but not across byte orders
(a big-endian server hashes differently): that shows as differing checksums, never a match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg import sql

from restoredrill.engines.names import TableName

ALGORITHM = "pg-rowhash64-sum/1"

_MASK64 = (1 << 64) - 1

# (schema, type) → the SQL hashing a value {v} with seed {s} (or {s2}, a second one). Only
# what is injective on the value's text form under the pinned session settings: equal hash
# input means equal text output.
_NATIVE: dict[tuple[str, str], str] = {
    ("pg_catalog", "int2"): "pg_catalog.hashint2extended({v}, {s})",
    ("pg_catalog", "int4"): "pg_catalog.hashint4extended({v}, {s})",
    ("pg_catalog", "int8"): "pg_catalog.hashint8extended({v}, {s})",
    ("pg_catalog", "oid"): "pg_catalog.hashoidextended({v}, {s})",
    ("pg_catalog", "uuid"): "pg_catalog.uuid_hash_extended({v}, {s})",
    ("pg_catalog", "timestamp"): "pg_catalog.timestamp_hash_extended({v}, {s})",
    # the same instant whatever the session's TimeZone; 'UTC' has no gaps nor folds
    ("pg_catalog", "timestamptz"): (
        "pg_catalog.timestamp_hash_extended(({v} AT TIME ZONE 'UTC'), {s})"
    ),
    ("pg_catalog", "bool"): "pg_catalog.hashint4extended({v}::pg_catalog.int4, {s})",
    # bytes, whatever the column's collation (a nondeterministic one would fold case)
    ("pg_catalog", "text"): 'pg_catalog.hashtextextended({v} COLLATE "C", {s})',
    ("pg_catalog", "varchar"): 'pg_catalog.hashtextextended({v} COLLATE "C", {s})',
    # bounded only (see _template): the hash ignores trailing blanks, which char(n) pads back
    ("pg_catalog", "bpchar"): 'pg_catalog.hashbpcharextended({v} COLLATE "C", {s})',
    # numeric text is the value with its display scale: hash both. NaN and ±Infinity all
    # hash alike (and have no scale): those go by their text.
    ("pg_catalog", "numeric"): (
        "CASE WHEN pg_catalog.scale({v}) IS NULL"
        " THEN pg_catalog.hashtextextended({v}::pg_catalog.text, {s})"
        " ELSE pg_catalog.hash_numeric_extended({v}, {s})"
        " # pg_catalog.hashint4extended(pg_catalog.scale({v}), {s2}) END"
    ),
    # the float hashes fold -0 into 0: zeros go by their text ('-0' or '0')
    ("pg_catalog", "float8"): (
        "CASE WHEN {v} = 0 THEN pg_catalog.hashtextextended({v}::pg_catalog.text, {s})"
        " ELSE pg_catalog.hashfloat8extended({v}, {s}) END"
    ),
    ("pg_catalog", "float4"): (
        "CASE WHEN {v} = 0 THEN pg_catalog.hashtextextended({v}::pg_catalog.text, {s})"
        " ELSE pg_catalog.hashfloat4extended({v}, {s}) END"
    ),
}
_TEXT_SEED = 0  # seeds of native columns are >= 1
_PLACES = 2048  # more than a table's columns
_SECOND_SEED = 1 << 40  # above every first seed (char(n) lengths stay below 2^24)
_NO_COLUMNS = 0x5EED  # a table without columns: every row the same constant


@dataclass(frozen=True)
class Column:
    name: str
    type_schema: str
    type_name: str
    typmod: int


def columns(conn: Any, table: TableName) -> list[Column]:
    """Live columns of ``table`` in order; empty when it does not exist."""
    rows = conn.execute(
        """
        SELECT a.attname, tn.nspname, t.typname, a.atttypmod
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
    return [Column(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def _template(column: Column) -> str | None:
    template = _NATIVE.get((column.type_schema, column.type_name))
    if template is not None and column.type_name == "bpchar" and column.typmod < 0:
        return None
    return template


def row_hash(cols: Sequence[Column]) -> sql.Composable:
    """The 64-bit hash of a row ``r`` of a table with columns ``cols``."""
    parts: list[sql.Composable] = []
    as_text: list[sql.Composable] = []
    for n, column in enumerate(cols, start=1):
        ref = sql.SQL("r.{}").format(sql.Identifier(column.name))
        template = _template(column)
        if template is None:
            as_text.append(ref)
            continue
        seed = n
        if column.type_name == "bpchar":  # char(3) and char(5) pad the same value apart
            seed += _PLACES * column.typmod
        parts.append(
            sql.SQL("coalesce({}, {})").format(
                sql.SQL(template).format(
                    v=ref, s=sql.Literal(seed), s2=sql.Literal(seed + _SECOND_SEED)
                ),
                sql.Literal(-(n * 0x9E3779B97F4A7C15 % (1 << 63))),
            )
        )
    if as_text:
        parts.append(
            sql.SQL("pg_catalog.hashtextextended(ROW({})::text, {})").format(
                sql.SQL(", ").join(as_text), sql.Literal(_TEXT_SEED)
            )
        )
    if not parts:
        return sql.Literal(_NO_COLUMNS)
    return sql.SQL(" # ").join(parts)


def fingerprint_query(
    table: TableName, cols: Sequence[Column], where: sql.Composable | None = None
) -> sql.Composed:
    where_sql: sql.Composable = sql.SQL("") if where is None else sql.SQL(" WHERE ") + where
    return sql.SQL("SELECT count(*), coalesce(sum({h}), 0) FROM {table} AS r{where}").format(
        h=row_hash(cols), table=table.identifier(), where=where_sql
    )


def format_checksum(total: int | Decimal) -> str:
    """The exact sum folded to 64 bits, as 16 hex digits."""
    return f"{int(total) & _MASK64:016x}"
