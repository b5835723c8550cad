"""Connection strings: redaction for printing, and read-only production connections."""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from restoredrill.errors import ConfigError, DatabaseUnavailable

_URI_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def _is_mysql(dsn: str) -> bool:
    """mysql:// and mariadb:// DSNs (MariaDB/MySQL: engines/mysql/session.py parses them)."""
    return dsn.strip().lower().startswith(("mysql://", "mariadb://"))


def redact(dsn: str) -> str:
    """The DSN with any password replaced, for logs, JSON and reports."""
    if _is_mysql(dsn):
        from restoredrill.engines.mysql import session as mysql

        return mysql.redact(dsn)
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return _URI_PASSWORD.sub(r"\1***@", dsn)
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def describe(dsn: str) -> str:
    """host:port/dbname, for tables and the ledger."""
    if _is_mysql(dsn):
        from restoredrill.engines.mysql import session as mysql

        return mysql.describe(dsn)
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return redact(dsn)
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "5432")
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


def connect(
    dsn: str, read_only: bool = False, autocommit: bool = False
) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection; read_only sets default_transaction_read_only for the session so
    nothing can be written through it, whatever SQL runs later."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"not a valid connection string: {redact(dsn)} ({exc})") from exc
    options = None
    if read_only:
        options = f"{params.get('options') or ''} -c default_transaction_read_only=on".strip()
    try:
        conninfo = make_conninfo(dsn, options=options) if options else dsn
        conn = psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        # libpq's first line names the cause (refused, no such database, auth failed);
        # later lines are generic hints.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[0].removeprefix("connection failed: ") if lines else "connection failed"
        raise DatabaseUnavailable(f"cannot connect to {redact(dsn)}: {reason}") from exc
    if read_only:
        # Belt and braces: also pin it on the session in case 'options' were ignored by a pooler.
        conn.execute("SET default_transaction_read_only = on")
        if not autocommit:
            conn.commit()
    return conn
