"""MySQL-family (MariaDB, MySQL) rules: binary logging as point-in-time recovery needs it.

Live facts come from any DB-API connection (PyMySQL, mysqlclient, ...) through
``SHOW GLOBAL VARIABLES``; ``connect()`` opens one with PyMySQL (optional dependency)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from restoredrill.checks.registry import REGISTRY, Facts, Finding, Policy, failed, ok, warning
from restoredrill.durations import format_duration
from restoredrill.errors import ConfigError, DatabaseUnavailable, ToolMissing

ENGINE = "mysql"
VARIABLES = (
    "log_bin",
    "binlog_format",
    "binlog_row_image",
    "binlog_checksum",
    "binlog_expire_logs_seconds",
    "expire_logs_days",
    "version",
    "version_comment",
)
SHOW_VARIABLES = (
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ("
    + ", ".join(f"'{name}'" for name in VARIABLES)
    + ")"
)


def _on(value: str) -> bool:
    return value.strip().upper() in ("ON", "1", "TRUE", "YES")


@REGISTRY.rule(ENGINE, "log_bin", "binary logging is on")
def log_bin(facts: Facts, policy: Policy) -> Finding | None:
    value = facts.settings.get("log_bin")
    if value is None:
        return None
    if _on(value):
        return ok("log_bin = ON", value)
    return failed("log_bin = OFF: no binary log, no point-in-time recovery", value)


@REGISTRY.rule(ENGINE, "binlog_format", "binlog_format is ROW")
def binlog_format(facts: Facts, policy: Policy) -> Finding | None:
    value = facts.settings.get("binlog_format")
    if value is None:
        return None
    if value.upper() == "ROW":
        return ok("binlog_format = ROW", value)
    return failed(
        f"binlog_format = {value}: statement-based events may replay differently; use ROW", value
    )


@REGISTRY.rule(ENGINE, "binlog_row_image", "binlog_row_image is FULL")
def binlog_row_image(facts: Facts, policy: Policy) -> Finding | None:
    value = facts.settings.get("binlog_row_image")
    if value is None:
        return None
    if value.upper() == "FULL":
        return ok("binlog_row_image = FULL", value)
    return failed(
        f"binlog_row_image = {value}: row events lack the full before/after images", value
    )


@REGISTRY.rule(ENGINE, "binlog_checksum", "binlog_checksum is CRC32")
def binlog_checksum(facts: Facts, policy: Policy) -> Finding | None:
    value = facts.settings.get("binlog_checksum")
    if value is None:
        return None
    if value.upper() == "CRC32":
        return ok("binlog_checksum = CRC32", value)
    return failed(
        f"binlog_checksum = {value}: a damaged binlog event cannot be detected and would be "
        "replayed as if it were good; use CRC32",
        value,
    )


def expiry_seconds(settings: dict[str, str]) -> float | None:
    """Binary log expiry: binlog_expire_logs_seconds when set (MySQL 8, MariaDB 10.6+), else
    expire_logs_days; 0 means never expire. None when neither variable exists."""
    seconds = settings.get("binlog_expire_logs_seconds")
    days = settings.get("expire_logs_days")
    try:
        if seconds is not None and float(seconds) > 0:
            return float(seconds)
        if days is not None:
            return float(days) * 86400
        if seconds is not None:
            return float(seconds)
    except ValueError:
        return None
    return None


@REGISTRY.rule(ENGINE, "binlog_expiry", "binary logs are kept longer than the recovery window")
def binlog_expiry(facts: Facts, policy: Policy) -> Finding | None:
    if "binlog_expire_logs_seconds" not in facts.settings and (
        "expire_logs_days" not in facts.settings
    ):
        return None
    seconds = expiry_seconds(facts.settings)
    if seconds is None:
        return warning("cannot read the binary log expiry")
    if seconds == 0:
        return ok("binary logs never expire (watch the disk)", 0)
    window = policy.pitr_window_seconds
    if window is None:
        return ok(f"binary logs expire after {format_duration(seconds)} (no policy given)", seconds)
    if seconds < window:
        return failed(
            f"binary logs expire after {format_duration(seconds)}, shorter than the recovery "
            f"window {format_duration(window)} (RPO / newest-backup age): the logs a "
            f"point-in-time restore needs may be gone",
            seconds,
        )
    return ok(
        f"binary logs expire after {format_duration(seconds)} (window {format_duration(window)})",
        seconds,
    )


def live_facts(conn: Any, subject: str) -> Facts:
    """Read the variables the rules need through a DB-API connection."""
    cursor = conn.cursor()
    try:
        cursor.execute(SHOW_VARIABLES)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    settings = {str(name).lower(): "" if value is None else str(value) for name, value in rows}
    return Facts(ENGINE, subject, settings)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def connect(url: str) -> Any:
    """A PyMySQL connection from ``mysql://user:password@host:port/db`` (or ``?unix_socket=``;
    password optional: MYSQL_PWD is read by us, never put on a command line)."""
    import os

    if urlsplit(url).scheme not in ("mysql", "mariadb"):
        raise ConfigError(f"not a mysql:// URL: {redact_url(url)}")
    try:
        import pymysql

        from restoredrill.engines.mysql.session import parse_dsn
    except ImportError:
        raise ToolMissing(
            "PyMySQL is needed for MySQL/MariaDB checks: pip install 'restoredrill[mysql]'"
        ) from None
    kwargs = parse_dsn(url).connect_kwargs()
    kwargs["password"] = kwargs["password"] or os.environ.get("MYSQL_PWD", "")
    try:
        return pymysql.connect(**kwargs, connect_timeout=10)
    except pymysql.Error as exc:
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {exc}") from exc
