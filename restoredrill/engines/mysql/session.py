"""MariaDB / MySQL sessions: DSNs, connections (PyMySQL), the pinned session settings,
timeouts, transactions and snapshots, and identifier and literal quoting.

Identifiers are only ever taken from information_schema (user specs are resolved against it
first) and backtick-quoted by ``quote_ident``; values are SQL literals built by ``literal``
under a pinned ``sql_mode`` (backslash escapes on), so statements are complete strings and
PyMySQL never formats them."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from restoredrill.engines.mysql.driver import CLIENT, escape_string, pymysql
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, DatabaseUnavailable

# Pinned on every session: no backslash-escape surprises, no CHAR padding on read, exact
# errors instead of silent truncation, explicit ids kept (0 included) on reinsert.
SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
SESSION_STATEMENTS = (
    "SET NAMES utf8mb4",
    "SET SESSION time_zone = '+00:00'",
    f"SET SESSION sql_mode = '{SQL_MODE}'",
)

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
        # set by shared_snapshot just before a snapshot starts (None: not known)
        self.lsn_before_snapshot: int | None = None

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
            # reapply's staging loads with LOAD DATA LOCAL; the client sends only what
            # restoredrill offered for that statement (driver.offered), never a file
            local_infile=not read_only,
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


def text_of(value: Any) -> str:
    """A value the driver returned as text (PyMySQL gives bytes for binary collations)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# --- transactions ------------------------------------------------------------------------------
# MySQL keeps a transaction going after a failed statement, so a per-table savepoint needs
# nothing; a running query is cancelled with KILL QUERY from a second connection.


def cancel(conn: MyConn) -> None:
    """KILL QUERY the connection's running statement, from a second connection."""
    other = pymysql.connect(**conn.dsn.connect_kwargs(), connect_timeout=5)
    try:
        with other.cursor() as cursor:
            cursor.execute(f"KILL QUERY {int(conn.raw.thread_id())}")  # type: ignore[no-untyped-call]
    finally:
        other.close()


def _abandon(conn: MyConn) -> None:
    """After Ctrl-C/SIGTERM the connection may be cut mid-statement and cannot be trusted
    to answer a ROLLBACK in order: stop the statement and disconnect (the server rolls
    the transaction back)."""
    with contextlib.suppress(Exception):
        cancel(conn)
    with contextlib.suppress(Exception):
        conn.close()


@contextlib.contextmanager
def transaction(conn: MyConn, start: str = "START TRANSACTION") -> Iterator[None]:
    conn.run(start)
    try:
        yield
    except KeyboardInterrupt:
        _abandon(conn)
        raise
    except BaseException:
        with contextlib.suppress(pymysql.err.MySQLError):
            conn.run("ROLLBACK")
        raise
    conn.run("COMMIT")


@contextlib.contextmanager
def snapshot(conn: MyConn) -> Iterator[None]:
    """A REPEATABLE READ, read-only snapshot of the whole database."""
    conn.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    with transaction(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"):
        yield
