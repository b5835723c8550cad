"""MariaDB / MySQL dialect: DSNs, connections (PyMySQL), session pinning, catalog, the text
form of every column type, and the SQL that fingerprints a table inside the server.

Identifiers are only ever taken from information_schema (user specs are resolved against it
first) and backtick-quoted by ``quote_ident``; values are SQL literals built by ``literal`` /
``value_sql`` under a pinned ``sql_mode`` (backslash escapes on), so statements are complete
strings and PyMySQL never formats them.

A fingerprint is ``COUNT(*)`` plus the exact (DECIMAL) sums of two 32-bit CRCs of each row's
canonical text, of the text and of its characters reversed (the second is no function of the
first, so together they are a 64-bit check; CRC32 runs ~5x faster than MD5 and its hex-to-
number conversions). The row's text: per column ``N`` for NULL, else numbers and temporal
values as they are (they hold no ',' nor 'N'), strings as ``<chars>:<text>`` (a length
prefix, so '' and NULL and any separator inside values stay apart), long and binary values
as the MD5 of their bytes. The text of a value is exact: HEX for binary strings,
BLOBs and geometry; the double nearest a FLOAT (its own text drops digits); DECIMAL keeps its
scale; datetime/timestamp with their fractional digits, timestamps under time_zone +00:00.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
from pymysql.constants import CLIENT
from pymysql.converters import escape_string

from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, DatabaseUnavailable
from restoredrill.models import TableFingerprint

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
META_SCHEMA = "restoredrill_sandbox"  # only in restored sandboxes: where replay stopped
META_TABLE = "restored_point"
ARCHIVE_SCHEMA = "restoredrill_archive"
HIDDEN_SCHEMAS = (*SYSTEM_SCHEMAS, META_SCHEMA, ARCHIVE_SCHEMA)
# Pinned on every session: no backslash-escape surprises, no CHAR padding on read, exact
# errors instead of silent truncation, explicit ids kept (0 included) on reinsert.
SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
SESSION_STATEMENTS = (
    "SET NAMES utf8mb4",
    "SET SESSION time_zone = '+00:00'",
    f"SET SESSION sql_mode = '{SQL_MODE}'",
)

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
_MASK64 = (1 << 64) - 1
_POS_SHIFT = 32


# --- DSNs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MysqlDsn:
    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int
    database: str | None
    unix_socket: str | None

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"user": self.user or "root", "password": self.password or ""}
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        else:
            kwargs["host"] = self.host
            kwargs["port"] = self.port
        if self.database:
            kwargs["database"] = self.database
        return kwargs


def parse_dsn(dsn: str) -> MysqlDsn:
    """``mysql://user:pass@host:port/db?unix_socket=/path`` (or ``mariadb://``)."""
    try:
        parts = urlsplit(dsn.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"not a valid MariaDB/MySQL DSN: {redact(dsn)} ({exc})") from None
    if parts.scheme not in ("mysql", "mariadb"):
        raise ConfigError(f"not a MariaDB/MySQL DSN: {redact(dsn)} (expected mysql://…)")
    query = parse_qs(parts.query)
    unknown = set(query) - {"unix_socket", "socket"}
    if unknown:
        raise ConfigError(f"{redact(dsn)}: unknown DSN option(s) {', '.join(sorted(unknown))}")
    sockets = query.get("unix_socket") or query.get("socket") or []
    database = unquote(parts.path.lstrip("/")) or None
    if database is not None and "/" in database:
        raise ConfigError(f"{redact(dsn)}: the path must be one database name")
    return MysqlDsn(
        scheme=parts.scheme,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname or "localhost",
        port=port or 3306,
        database=database,
        unix_socket=sockets[-1] if sockets else None,
    )


def redact(dsn: str) -> str:
    """The DSN with its password replaced. The credentials end at the LAST '@', so a password
    holding '@', '/' or '?' is hidden whole (an '@' later in the DSN only hides more)."""
    text = dsn.strip()
    scheme, sep, rest = text.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0:
        return text
    user, colon, _password = rest[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}"


def describe(dsn: str) -> str:
    """host:port/db (or socket/db), for tables and the ledger."""
    try:
        parsed = parse_dsn(dsn)
    except ConfigError:
        return redact(dsn)
    where = parsed.unix_socket or f"{parsed.host}:{parsed.port}"
    return f"{where}/{parsed.database or ''}"


# --- connections -------------------------------------------------------------------------------


class MyConn:
    """A PyMySQL connection and what cancel() needs to reach the server again."""

    def __init__(self, raw: pymysql.connections.Connection[Any], dsn: MysqlDsn) -> None:
        self.raw = raw
        self.dsn = dsn
        version = str(self.scalar("SELECT @@version") or "")
        self.mariadb = "mariadb" in version.lower()
        self.version = version

    def cursor(self) -> Any:
        return self.raw.cursor()

    def run(self, statement: str) -> int:
        with self.raw.cursor() as cursor:
            return int(cursor.execute(statement))

    def rows(self, statement: str) -> list[tuple[Any, ...]]:
        with self.raw.cursor() as cursor:
            cursor.execute(statement)
            return [tuple(row) for row in cursor.fetchall()]

    def scalar(self, statement: str) -> Any:
        found = self.rows(statement)
        return found[0][0] if found else None

    def close(self) -> None:
        if self.raw.open:
            self.raw.close()


def one_line(exc: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return f"{args[1]} ({args[0]})"
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def connect(dsn: str, read_only: bool = False, timeout: float = 10.0) -> MyConn:
    """Open a connection (autocommit on, utf8mb4). ``read_only`` makes every transaction of
    the session read-only (SET SESSION TRANSACTION READ ONLY), autocommit ones included."""
    parsed = parse_dsn(dsn)
    try:
        raw = pymysql.connect(
            **parsed.connect_kwargs(),
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=int(max(1, timeout)),
            client_flag=CLIENT.FOUND_ROWS,  # UPDATE counts matched rows, as PostgreSQL does
        )
    except pymysql.err.MySQLError as exc:
        raise DatabaseUnavailable(f"cannot connect to {redact(dsn)}: {one_line(exc)}") from exc
    conn = MyConn(raw, parsed)
    try:
        if read_only:
            conn.run("SET SESSION TRANSACTION READ ONLY")
    except pymysql.err.MySQLError as exc:
        conn.close()
        raise DatabaseUnavailable(f"{redact(dsn)}: {one_line(exc)}") from exc
    return conn


def pin_session(conn: MyConn) -> None:
    for statement in SESSION_STATEMENTS:
        conn.run(statement)


# Error codes of the session limits: ER_LOCK_WAIT_TIMEOUT (metadata and InnoDB row locks),
# MariaDB's ER_STATEMENT_TIMEOUT (max_statement_time), MySQL's ER_QUERY_TIMEOUT.
LOCK_TIMEOUT_ERRORS = (1205,)
STATEMENT_TIMEOUT_ERRORS = (1969, 3024)


def limit_session(conn: MyConn, lock_seconds: float, statement_seconds: float) -> None:
    """lock_wait_timeout (metadata locks: a LOCK TABLES or an ALTER in production) and
    innodb_lock_wait_timeout (row locks), whole seconds, at least 1; a statement limit:
    MariaDB's max_statement_time (seconds), MySQL's max_execution_time (ms, SELECTs only)."""
    lock = max(1, math.ceil(lock_seconds))
    conn.run(f"SET SESSION lock_wait_timeout = {lock}")
    conn.run(f"SET SESSION innodb_lock_wait_timeout = {lock}")
    if conn.mariadb:
        conn.run(f"SET SESSION max_statement_time = {max(0.001, statement_seconds):.3f}")
    else:
        conn.run(f"SET SESSION max_execution_time = {max(1, round(statement_seconds * 1000))}")


def timeout_kind(exc: BaseException) -> Literal["lock", "statement"] | None:
    code = getattr(exc, "args", (None,))[0] if getattr(exc, "args", ()) else None
    if code in LOCK_TIMEOUT_ERRORS:
        return "lock"
    if code in STATEMENT_TIMEOUT_ERRORS:
        return "statement"
    return None


# --- quoting -------------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """Backtick-quote a name read from information_schema (or validated against it)."""
    if "\0" in name:
        raise ConfigError(f"invalid identifier {name!r}")
    return "`" + name.replace("`", "``") + "`"


def quote_table(table: TableName) -> str:
    """```db`.`table```, or ```table``` for a table of the connection's own database."""
    if not table.schema:
        return quote_ident(table.name)
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


def schema_sql(table: TableName) -> str:
    """The table's database as SQL: a literal, or DATABASE() for the connection's own."""
    return literal(table.schema) if table.schema else "DATABASE()"


def literal(text: str) -> str:
    """A utf8mb4 string literal (the session's sql_mode keeps backslash escapes on)."""
    return "_utf8mb4'" + escape_string(text) + "'"


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
    if kind == "float":
        return f"CAST(CAST({ref} AS DOUBLE) AS CHAR)"
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
                name=_text(r[0]),
                type=_text(r[1]),
                data_type=kind,
                not_null=_text(r[3]).upper() == "NO",
                generated="GENERATED" in _text(r[4]).upper(),
                charset=None if r[5] is None else _text(r[5]),
                collation=None if r[6] is None else _text(r[6]),
                precision=_int(r[9]) if temporal else _int(r[7]),
                scale=None if temporal else _int(r[8]),
            )
        )
    return result


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# --- tables --------------------------------------------------------------------------------------


def list_tables(conn: MyConn) -> list[TableName]:
    """Base tables of the connection's database, named without it (so a restored copy and
    production match whatever their databases are called); every user database's, named
    ``db.table``, when the DSN names none."""
    hidden = ", ".join(literal(s) for s in HIDDEN_SCHEMAS)
    rows = conn.rows(
        "SELECT IF(TABLE_SCHEMA = DATABASE(), '', TABLE_SCHEMA), TABLE_NAME"
        " FROM information_schema.TABLES"
        f" WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ({hidden})"
        " AND (DATABASE() IS NULL OR TABLE_SCHEMA = DATABASE())"
        " ORDER BY BINARY TABLE_SCHEMA, BINARY TABLE_NAME"
    )
    return [TableName(_text(r[0]), _text(r[1])) for r in rows]


def _split_backticks(spec: str) -> list[str] | None:
    parts: list[str] = []
    i = 0
    while i < len(spec):
        if spec[i] == "`":
            j, buf = i + 1, []
            while True:
                if j >= len(spec):
                    return None
                if spec[j] == "`":
                    if j + 1 < len(spec) and spec[j + 1] == "`":
                        buf.append("`")
                        j += 2
                        continue
                    break
                buf.append(spec[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = spec.find(".", i)
            j = len(spec) if j < 0 else j
            parts.append(spec[i:j])
            i = j
        if i < len(spec):
            if spec[i] != ".":
                return None
            i += 1
    return parts if parts and all(parts) else None


def resolve_table(spec: str, known: set[str]) -> str:
    """``table`` (unique among the databases looked at), ``db.table`` or ```db`.`table```."""
    text = spec.strip()
    if text in known:
        return text
    parts = _split_backticks(text)
    if parts is not None and len(parts) == 2 and f"{parts[0]}.{parts[1]}" in known:
        return f"{parts[0]}.{parts[1]}"
    if parts is not None and len(parts) == 2 and parts[1] in known:
        return parts[1]  # db.table for a table of the connection's own database
    name = parts[0] if parts is not None and len(parts) == 1 else text
    matches = sorted(k for k in known if k.split(".", 1)[-1] == name)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(f"table {spec!r} is ambiguous ({', '.join(matches)}): give db.table")
    raise ConfigError(f"unknown table {spec!r} (give it as table, db.table or `db`.`table`)")


# --- fingerprints ------------------------------------------------------------------------------

CHECKSUM_ALGORITHM = "my-crc32-reverse-sum/1"  # recorded in manifests


def _where(where: str | None) -> str:
    return "TRUE" if where is None else f"({where})"


def fingerprint_query(table: TableName, columns: list[ColumnInfo], where: str | None) -> str:
    # The row text is built twice (the server shares no subexpressions; a derived table
    # would be materialised): still far cheaper than MD5 and its hex-to-number conversions.
    text = row_text(columns)
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
    row = conn.rows(fingerprint_query(table, columns, where))[0]
    return TableFingerprint(rows=int(row[0]), checksum=format_checksum(row[1], row[2]))


def as_of_predicate(column: str, as_of: datetime) -> str:
    """```column` <= 'as_of'`` in UTC (the session's time_zone is +00:00)."""
    moment = as_of.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return f"{quote_ident(column)} <= CAST({literal(moment)} AS DATETIME(6))"


# --- positions -------------------------------------------------------------------------------


def binlog_seq(name: str) -> int:
    suffix = name.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def encode_position(file: str, pos: int) -> int:
    """A comparable integer for binlog FILE:POS (file sequence number, then offset)."""
    return (binlog_seq(file) << _POS_SHIFT) | (pos & ((1 << _POS_SHIFT) - 1))


def format_position(value: int) -> str:
    return f"binlog {value >> _POS_SHIFT:06d}:{value & ((1 << _POS_SHIFT) - 1)}"


def master_status(conn: MyConn) -> tuple[str, int] | None:
    try:
        rows = conn.rows("SHOW MASTER STATUS")
    except pymysql.err.MySQLError:
        try:
            rows = conn.rows("SHOW BINARY LOG STATUS")  # MySQL 8.4+
        except pymysql.err.MySQLError:
            return None
    if not rows or rows[0][0] is None:
        return None
    return _text(rows[0][0]), int(rows[0][1])


@dataclass(frozen=True)
class RestoredPoint:
    """What a restored sandbox recorded about its replay (``restoredrill_sandbox``)."""

    source_server_id: int | None
    binlog_file: str | None
    binlog_pos: int | None
    gtid: str | None
    last_event_time: datetime | None

    @property
    def position(self) -> int | None:
        if self.binlog_file is None or self.binlog_pos is None:
            return None
        return encode_position(self.binlog_file, self.binlog_pos)


def restored_point(conn: MyConn) -> RestoredPoint | None:
    try:
        rows = conn.rows(
            "SELECT source_server_id, binlog_file, binlog_pos, gtid, last_event_time"
            f" FROM {quote_ident(META_SCHEMA)}.{quote_ident(META_TABLE)} LIMIT 1"
        )
    except pymysql.err.MySQLError:
        return None
    if not rows:
        return None
    r = rows[0]
    moment = r[4].replace(tzinfo=UTC) if isinstance(r[4], datetime) else None
    return RestoredPoint(
        source_server_id=_int(r[0]),
        binlog_file=None if r[1] is None else _text(r[1]),
        binlog_pos=_int(r[2]),
        gtid=None if r[3] is None else _text(r[3]),
        last_event_time=moment,
    )


def lineage_id(conn: MyConn) -> int | None:
    """PostgreSQL's system identifier, MariaDB-style: a restored sandbox reports the server id
    of the production its binlogs came from; any other server its own @@server_id."""
    point = restored_point(conn)
    if point is not None:
        return point.source_server_id
    value = conn.scalar("SELECT @@server_id")
    return None if value is None else int(value)


def start_time(conn: MyConn) -> datetime | None:
    """When the server started: UNIX_TIMESTAMP() - Uptime, both read at the same query start
    (MariaDB computes Uptime from the statement's start time), so the value is stable."""
    source = (
        "information_schema.GLOBAL_STATUS" if conn.mariadb else "performance_schema.global_status"
    )
    value = conn.scalar(
        f"SELECT UNIX_TIMESTAMP() - (SELECT VARIABLE_VALUE FROM {source}"
        " WHERE VARIABLE_NAME = 'UPTIME')"
    )
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


__all__ = [
    "ARCHIVE_SCHEMA",
    "ColumnInfo",
    "MyConn",
    "MysqlDsn",
    "column_info",
    "connect",
    "describe",
    "fingerprint",
    "literal",
    "parse_dsn",
    "quote_ident",
    "quote_table",
    "redact",
    "text_expr",
    "value_sql",
]
