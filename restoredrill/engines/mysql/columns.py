"""MariaDB / MySQL columns and the text form of every column type.

The row's text: per column ``N`` for NULL, else numbers and temporal values as they are (they
hold no ',' nor 'N'), strings as ``<chars>:<text>`` (a length prefix, so '' and NULL and any
separator inside values stay apart), long and binary values as the MD5 of their bytes. The
text of a value is exact: HEX for binary strings, BLOBs and geometry; the double nearest a
FLOAT (its own text drops digits); DECIMAL keeps its scale; datetime/timestamp with their
fractional digits, timestamps under time_zone +00:00."""

from __future__ import annotations

import re
from dataclasses import dataclass

from restoredrill.engines.mysql.session import (
    MyConn,
    int_or_none,
    literal,
    quote_ident,
    schema_sql,
    text_of,
)
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError

BINARY_TYPES = {
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
}
LONG_TYPES = {"tinytext", "text", "mediumtext", "longtext", "json", *BINARY_TYPES}
INT_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}

# --- columns and their text forms ----------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # COLUMN_TYPE, e.g. "decimal(12,2)", "int(10) unsigned"
    data_type: str  # DATA_TYPE, e.g. "decimal"
    not_null: bool
    generated: bool
    charset: str | None
    collation: str | None
    precision: int | None  # decimal: precision; datetime/time/timestamp: fractional digits
    scale: int | None

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.type.lower()


def _ref(column: ColumnInfo, alias: str | None) -> str:
    name = quote_ident(column.name)
    return f"{alias}.{name}" if alias else name


def text_expr(column: ColumnInfo, alias: str | None = "r") -> str:
    """The exact text form of the column's value, computed in the server."""
    ref = _ref(column, alias)
    kind = column.data_type.lower()
    if kind in BINARY_TYPES:
        return f"HEX({ref})"
    if kind == "bit":
        return f"CAST({ref} + 0 AS CHAR)"
    # A double's CAST AS CHAR is typed 22 characters long, and GROUP_CONCAT or a UNION's
    # temporary table cut it there ('-2.2250738585072014e-308' became '…e-3'): typed wider,
    # the same text whole.
    if kind == "float":
        return f"CAST(CAST({ref} AS DOUBLE) AS CHAR(64))"
    if kind in ("double", "real"):
        return f"CAST({ref} AS CHAR(64))"
    return f"CAST({ref} AS CHAR)"


# Text forms that hold no ',' and never read 'N' (digits, signs, '.', 'e', date and time
# punctuation): they need no length prefix to keep the row's pieces apart.
_PLAIN_TYPES = INT_TYPES | {
    *("decimal", "numeric", "float", "double", "real"),
    *("date", "datetime", "timestamp", "time", "year", "bit"),
}
_STRING_TYPES = {"char", "varchar", "enum", "set"}
_IMPLICIT_TYPES = _PLAIN_TYPES - {"float", "double", "real", "bit"}


def _hash_piece(column: ColumnInfo, alias: str | None = "r") -> str:
    ref = _ref(column, alias)
    kind = column.data_type.lower()
    long_varchar = kind in ("varchar", "varbinary") and _length(column) > 255
    if kind in ("binary", "varbinary") and not long_varchar:
        return f"IFNULL(HEX({ref}), 'N')"  # hex digits only: no prefix needed
    if kind in LONG_TYPES or long_varchar:
        source = ref if kind in BINARY_TYPES or kind == "varbinary" else text_expr(column, alias)
        return f"IF({ref} IS NULL, 'N', IFNULL(MD5({source}), 'E'))"
    if kind in _IMPLICIT_TYPES:
        # converted to text as CAST(... AS CHAR) would, without the cast's cost
        return f"IFNULL({ref}, 'N')"
    text = text_expr(column, alias)
    if kind in _PLAIN_TYPES:
        return f"IFNULL({text}, 'N')"
    if kind in _STRING_TYPES:
        # the value's character count is its text's (conversion to utf8mb4 keeps characters)
        return f"IF({ref} IS NULL, 'N', CONCAT(CHAR_LENGTH({ref}), ':', {text}))"
    return f"IF({ref} IS NULL, 'N', CONCAT(LENGTH({text}), ':', {text}))"


def _length(column: ColumnInfo) -> int:
    match = re.search(r"\((\d+)", column.type)
    return int(match.group(1)) if match else 0


def row_text(columns: list[ColumnInfo], alias: str | None = "r") -> str:
    """One row's canonical text (see the module docstring)."""
    if not columns:
        return "''"
    return "CONCAT_WS(','," + ", ".join(_hash_piece(c, alias) for c in columns) + ")"


# Longer values go in as their MD5: QUOTE and CONCAT_WS return NULL past max_allowed_packet
# (a row would silently drop out of the sums), and the row text is built twice per row.
_QUOTED_BYTES = 512


def _is_long(column: ColumnInfo) -> bool:
    """Hashed with MD5 past ``_QUOTED_BYTES`` rather than always QUOTEd whole."""
    kind = column.data_type.lower()
    return kind in LONG_TYPES or (kind in ("varchar", "varbinary") and _length(column) > 255)


def _quoted_piece(column: ColumnInfo, alias: str | None) -> str:
    ref = _ref(column, alias)
    kind = column.data_type.lower()
    long_value = _is_long(column)
    if kind in ("binary", "varbinary") and not long_value:
        return f"IFNULL(HEX({ref}), 'N')"  # hex digits only
    if kind in _IMPLICIT_TYPES:
        return ref if column.not_null else f"IFNULL({ref}, 'N')"
    if kind in _PLAIN_TYPES:
        return f"IFNULL({text_expr(column, alias)}, 'N')"
    # QUOTE: NULL reads NULL, any other value '...' with ' and \ escaped: self-delimiting,
    # and never 32 hex digits. utf8mb4 text is taken as it is (a cast would copy it to the
    # same bytes), other text as utf8mb4 as before; binary values as their bytes.
    raw = kind in BINARY_TYPES or kind == "varbinary" or (column.charset or "") == "utf8mb4"
    value = ref if raw else text_expr(column, alias)
    if not long_value:
        return f"QUOTE({value})"
    return f"IF(LENGTH({value}) > {_QUOTED_BYTES}, MD5({value}), QUOTE({value}))"


def quoted_row_text_bound(columns: list[ColumnInfo]) -> int:
    """The most bytes ``quoted_row_text`` can be for one row (generous). The server makes a
    text longer than max_allowed_packet NULL, and a NULL text drops the row from the sums
    silently: the fingerprint refuses a table whose bound is over the server's limit."""
    total = max(len(columns) - 1, 0)  # the separators
    for column in columns:
        kind = column.data_type.lower()
        if _is_long(column):
            total += 2 * _QUOTED_BYTES + 2  # QUOTEd up to 512 bytes, else a 32-digit MD5
        elif kind in _PLAIN_TYPES:
            total += 80  # numbers and times print short ('N' for NULL)
        elif kind in ("char", "varchar"):
            total += 2 * 4 * _length(column) + 2  # utf8mb4, every byte escaped
        elif kind == "enum":
            total += 2 * 4 * 255 + 2
        else:  # set, geometry, anything else: a generous ceiling
            total += 1 << 17
    return total


def quoted_row_text(columns: list[ColumnInfo], alias: str | None = "r") -> str:
    """The fingerprint's row text: like ``row_text`` but strings QUOTEd (no length prefix),
    long values and blobs too up to 512 bytes (MD5 past that), NOT NULL numbers without a
    NULL marker. About half the server's work of ``row_text``, which diffs keep using."""
    if not columns:
        return "''"
    return "CONCAT_WS(','," + ", ".join(_quoted_piece(c, alias) for c in columns) + ")"


def value_sql(column: ColumnInfo, text: str | None) -> str:
    """A typed SQL value from the column's text form: exact going back into the server, and
    compared in the column's own type and collation (never as a double)."""
    if text is None:
        return "NULL"
    kind = column.data_type.lower()
    if kind in BINARY_TYPES:
        if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})*", text):
            raise ConfigError(f"column {column.name}: {text[:20]!r}… is not a hex value")
        return f"X'{text}'"
    lit = literal(text)
    if kind in INT_TYPES or kind == "year" or kind == "bit":
        target = "UNSIGNED" if column.unsigned or kind in ("year", "bit") else "SIGNED"
        return f"CAST({lit} AS {target})"
    if kind in ("decimal", "numeric"):
        return f"CAST({lit} AS DECIMAL({column.precision or 10},{column.scale or 0}))"
    if kind in ("float", "double", "real"):
        return f"CAST({lit} AS DOUBLE)"
    if kind == "date":
        return f"CAST({lit} AS DATE)"
    if kind in ("datetime", "timestamp"):
        return f"CAST({lit} AS DATETIME({column.precision or 0}))"
    if kind == "time":
        return f"CAST({lit} AS TIME({column.precision or 0}))"
    if column.charset and column.collation:
        return f"CONVERT({lit} USING {column.charset}) COLLATE {column.collation}"
    return lit


def column_info(conn: MyConn, table: TableName) -> list[ColumnInfo]:
    """Columns in table order; empty when the table does not exist."""
    rows = conn.rows(
        "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, EXTRA, CHARACTER_SET_NAME,"
        " COLLATION_NAME, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION"
        " FROM information_schema.COLUMNS"
        f" WHERE TABLE_SCHEMA = {schema_sql(table)} AND TABLE_NAME = {literal(table.name)}"
        " ORDER BY ORDINAL_POSITION"
    )
    result = []
    for r in rows:
        kind = str(r[2]).lower()
        temporal = kind in ("datetime", "timestamp", "time")
        result.append(
            ColumnInfo(
                name=text_of(r[0]),
                type=text_of(r[1]),
                data_type=kind,
                not_null=text_of(r[3]).upper() == "NO",
                generated="GENERATED" in text_of(r[4]).upper(),
                charset=None if r[5] is None else text_of(r[5]),
                collation=None if r[6] is None else text_of(r[6]),
                precision=int_or_none(r[9]) if temporal else int_or_none(r[7]),
                scale=None if temporal else int_or_none(r[8]),
            )
        )
    return result
