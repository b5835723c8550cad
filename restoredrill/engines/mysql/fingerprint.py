"""MariaDB / MySQL fingerprints computed inside the server.

A fingerprint is ``COUNT(*)`` plus the exact (DECIMAL) sums of two 32-bit CRCs of each row's
canonical text (``columns.quoted_row_text``), of the text and of its characters reversed (the
second is no function of the first, so together they are a 64-bit check; CRC32 runs ~5x faster
than MD5 and its hex-to-number conversions). Sums, not BIT_XOR: duplicate rows of a keyless
table must not cancel out.

Not ``CHECKSUM TABLE``, though it is 3-6x faster: its value depends on the server's record
format (the same rows in a table of the pre-10.1 temporal format give another value; MariaDB
says it may change between versions), it takes no WHERE (the ``--as-of`` predicate), and it is
a 32-bit sum; a manifest is compared months later with a copy restored by another tool, maybe
onto another version (see bench/results/verify.md)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from restoredrill.engines.mysql.columns import (
    ColumnInfo,
    column_info,
    quoted_row_text,
    quoted_row_text_bound,
)
from restoredrill.engines.mysql.driver import pymysql
from restoredrill.engines.mysql.keys import estimate_rows, key_columns
from restoredrill.engines.mysql.session import MyConn, literal, quote_ident, quote_table
from restoredrill.engines.names import TableName
from restoredrill.models import TableFingerprint

_MASK64 = (1 << 64) - 1
# --- fingerprints ------------------------------------------------------------------------------

# recorded in manifests; /1 hashed ``columns.row_text`` (length prefixes, MD5 of long values)
CHECKSUM_ALGORITHM = "my-crc32-reverse-sum/2"


def _where(where: str | None) -> str:
    return "TRUE" if where is None else f"({where})"


def fingerprint_query(table: TableName, columns: list[ColumnInfo], where: str | None) -> str:
    # The row text is built twice (the server shares no subexpressions; a derived table
    # would be materialised): still far cheaper than MD5 and its hex-to-number conversions.
    text = quoted_row_text(columns)
    return (
        f"SELECT COUNT(*), COALESCE(SUM(CRC32({text})), 0),"
        f" COALESCE(SUM(CRC32(REVERSE({text}))), 0)"
        f" FROM {quote_table(table)} AS r WHERE {_where(where)}"
    )


def format_checksum(high: int | Decimal, low: int | Decimal) -> str:
    return f"{int(high) & _MASK64:016x}{int(low) & _MASK64:016x}"


def fingerprint(conn: MyConn, table: TableName, where: str | None = None) -> TableFingerprint:
    columns = column_info(conn, table)
    if not columns:
        raise pymysql.err.ProgrammingError(1146, f"Table '{table.display}' doesn't exist")
    packet = int(conn.rows("SELECT @@max_allowed_packet")[0][0])
    bound = quoted_row_text_bound(columns)
    if bound > packet:  # a row's text could come back NULL and leave the sums unnoticed
        raise pymysql.err.NotSupportedError(
            1301,
            f"{table.display}: a row's text can reach {bound} bytes, over this server's "
            f"max_allowed_packet ({packet}); raise max_allowed_packet to fingerprint it",
        )
    row = conn.rows(fingerprint_query(table, columns, where))[0]
    return TableFingerprint(rows=int(row[0]), checksum=format_checksum(row[1], row[2]))


# A table this big (the server's estimate) is fingerprinted in key ranges on several
# connections: MariaDB has no parallel query, each statement runs on one core.
PIECE_MIN_ROWS = 200_000
_INTEGERS = {"tinyint", "smallint", "mediumint", "int", "bigint"}


def fingerprint_pieces(
    conn: MyConn, table: TableName, where: str | None, pieces: int
) -> list[str] | None:
    """Disjoint WHEREs that together cover ``table`` (and ``where``): ranges of its integer
    single-column key, open at both ends so every row falls in exactly one whatever the
    bounds; None (one statement) for a small table or another key."""
    if pieces < 2 or (estimate_rows(conn, table) or 0) < PIECE_MIN_ROWS:
        return None
    key = key_columns(conn, table)
    types = {c.name: c.data_type.lower() for c in column_info(conn, table)}
    if key is None or len(key) != 1 or types.get(key[0]) not in _INTEGERS:
        return None
    column = quote_ident(key[0])
    low, high = conn.rows(
        f"SELECT MIN({column}), MAX({column}) FROM {quote_table(table)} WHERE {_where(where)}"
    )[0]
    if low is None or int(high) - int(low) < pieces:
        return None
    step = (int(high) - int(low) + 1) // pieces
    cuts = [int(low) + step * n for n in range(1, pieces)]
    bounds = [None, *cuts, None]
    found = []
    for start, end in itertools.pairwise(bounds):
        parts = [] if where is None else [f"({where})"]
        parts += [] if start is None else [f"{column} >= {start}"]
        parts += [] if end is None else [f"{column} < {end}"]
        found.append(" AND ".join(parts))
    return found


def as_of_predicate(column: str, as_of: datetime) -> str:
    """```column` <= 'as_of'`` in UTC (the session's time_zone is +00:00)."""
    moment = as_of.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return f"{quote_ident(column)} <= CAST({literal(moment)} AS DATETIME(6))"
