"""PostgreSQL rules: the archiving settings (live from pg_settings, or offline from a
postgresql.conf) and, live only, the archiver's own statistics (pg_stat_archiver)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from restoredrill import dsn as dsnlib
from restoredrill.checks.registry import (
    REGISTRY,
    Facts,
    Finding,
    Policy,
    failed,
    ok,
    warning,
)
from restoredrill.durations import format_duration, parse_duration
from restoredrill.errors import DatabaseUnavailable
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE, parse_segment_name

ENGINE = "postgres"
SETTINGS = (
    "wal_level",
    "archive_mode",
    "archive_command",
    "archive_library",
    "archive_timeout",
    "wal_segment_size",
)
# Server defaults (PostgreSQL 10+) for settings a config file leaves out.
DEFAULTS = {
    "wal_level": "replica",
    "archive_mode": "off",
    "archive_command": "",
    "archive_library": "",
    "archive_timeout": "0",
}
NO_OP_COMMANDS = {"true", "/bin/true", "/usr/bin/true", ":", "exit 0", "/bin/true %p"}


def _setting(facts: Facts, name: str) -> tuple[str | None, str]:
    """(value, note): the value set, or the server default for an offline file."""
    if name in facts.settings:
        return facts.settings[name], ""
    if facts.defaults_apply and name in DEFAULTS:
        return DEFAULTS[name], " (not set: server default)"
    return None, ""


@REGISTRY.rule(ENGINE, "wal_level", "wal_level keeps enough WAL for archive recovery")
def wal_level(facts: Facts, policy: Policy) -> Finding | None:
    value, note = _setting(facts, "wal_level")
    if value is None:
        return None
    if value.lower() in ("replica", "logical", "archive", "hot_standby"):
        return ok(f"wal_level = {value}{note}", value)
    return failed(f"wal_level = {value}{note}: archive recovery needs replica or logical", value)


@REGISTRY.rule(ENGINE, "archive_mode", "archive_mode is on")
def archive_mode(facts: Facts, policy: Policy) -> Finding | None:
    value, note = _setting(facts, "archive_mode")
    if value is None:
        return None
    if value.lower() in ("on", "always", "true", "yes", "1"):
        return ok(f"archive_mode = {value}{note}", value)
    return failed(f"archive_mode = {value}{note}: WAL is not archived", value)


@REGISTRY.rule(ENGINE, "archive_command", "archive_command (or archive_library) really archives")
def archive_command(facts: Facts, policy: Policy) -> Finding | None:
    value, note = _setting(facts, "archive_command")
    library, _ = _setting(facts, "archive_library")
    if value is None and library is None:
        return None
    if library:
        return ok(f"archive_library = {library}", library)
    command = (value or "").strip()
    if not command or command == "(disabled)":
        return failed(f"archive_command is empty{note}: nothing is archived", command)
    if command.lower() in NO_OP_COMMANDS:
        return failed(f"archive_command = {command!r} discards WAL (reports success)", command)
    if "%p" not in command and "%f" not in command:
        return warning(f"archive_command = {command!r} uses neither %p nor %f", command)
    return ok(f"archive_command = {command!r}", command)


def _seconds(value: str) -> float:
    """archive_timeout as written (s by default, or with a unit: 60s, 1min, 5min, 1h)."""
    text = value.strip().lower().replace("min", "m")
    return parse_duration(text)


@REGISTRY.rule(ENGINE, "archive_timeout", "archive_timeout forces a segment switch within the RPO")
def archive_timeout(facts: Facts, policy: Policy) -> Finding | None:
    value, note = _setting(facts, "archive_timeout")
    if value is None:
        return None
    try:
        seconds = _seconds(value)
    except ValueError:
        return failed(f"archive_timeout = {value!r} is not a duration", value)
    if seconds == 0:
        detail = (
            f"archive_timeout = 0{note}: a quiet database can keep committed WAL unarchived "
            f"indefinitely (until a 16 MB segment fills)"
        )
        return failed(detail, value) if policy.rpo_seconds is not None else warning(detail, value)
    if policy.rpo_seconds is not None and seconds > policy.rpo_seconds:
        return failed(
            f"archive_timeout = {format_duration(seconds)} is longer than the RPO "
            f"{format_duration(policy.rpo_seconds)}",
            value,
        )
    within = f" (RPO {format_duration(policy.rpo_seconds)})" if policy.rpo_seconds else ""
    return ok(f"archive_timeout = {format_duration(seconds)}{within}", value)


# --- live: pg_stat_archiver ---------------------------------------------------------------------


@REGISTRY.rule(ENGINE, "archiver_failures", "the archiver is not failing")
def archiver_failures(facts: Facts, policy: Policy) -> Finding | None:
    stats = facts.data.get("archiver")
    if not isinstance(stats, dict):
        return None
    failed_count = int(stats.get("failed_count") or 0)
    last_failed: datetime | None = stats.get("last_failed_time")
    last_archived: datetime | None = stats.get("last_archived_time")
    if failed_count == 0:
        return ok("no archive failures recorded in pg_stat_archiver", 0)
    if last_failed is not None and (last_archived is None or last_failed >= last_archived):
        return failed(
            f"archive_command is failing: {failed_count} failure(s), the last for "
            f"{stats.get('last_failed_wal')} at {last_failed.isoformat()}, after the last "
            f"success ({last_archived.isoformat() if last_archived else 'never'})",
            failed_count,
        )
    return warning(
        f"{failed_count} earlier archive failure(s), the last at "
        f"{last_failed.isoformat() if last_failed else '?'}; archiving has succeeded since",
        failed_count,
    )


@REGISTRY.rule(ENGINE, "archiver_age", "the newest archived WAL is recent enough for the RPO")
def archiver_age(facts: Facts, policy: Policy) -> Finding | None:
    stats = facts.data.get("archiver")
    if not isinstance(stats, dict):
        return None
    last_time: datetime | None = stats.get("last_archived_time")
    last_wal: str | None = stats.get("last_archived_wal")
    server_now: datetime = stats.get("now") or policy.now
    if last_time is None or not last_wal:
        return failed("nothing has been archived yet (pg_stat_archiver is empty)")
    age = max(0.0, (server_now - last_time).total_seconds())
    pending = _pending_bytes(stats, last_wal)
    detail = f"last archived {last_wal} {format_duration(age)} ago"
    if policy.rpo_seconds is None or age <= policy.rpo_seconds:
        return ok(detail, round(age, 1))
    if pending is not None and pending <= 0:
        return ok(f"{detail}; no WAL written since (idle), nothing waits", round(age, 1))
    more = f", {pending} bytes of WAL not archived" if pending else ""
    return failed(
        f"{detail}: older than the RPO {format_duration(policy.rpo_seconds)}{more}",
        round(age, 1),
    )


def _pending_bytes(stats: dict[str, Any], last_wal: str) -> int | None:
    """WAL written after the end of the last archived segment (None when unknown)."""
    current = stats.get("current_lsn")
    if current is None:
        return None
    size = int(stats.get("segment_size") or DEFAULT_SEGMENT_SIZE)
    try:
        _timeline, segno = parse_segment_name(last_wal[:24], size)
    except ValueError:
        return None
    return int(current) - (segno + 1) * size


# --- reading facts ------------------------------------------------------------------------------


def live_facts(dsn: str) -> Facts:
    """Settings and archiver statistics of a running server (opened read-only)."""
    subject = dsnlib.redact(dsn)
    with dsnlib.connect(dsn, read_only=True, autocommit=True) as conn:
        try:
            rows = conn.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)",
                (list(SETTINGS),),
            ).fetchall()
            archiver = conn.execute(
                "SELECT archived_count, last_archived_wal, last_archived_time, failed_count,"
                " last_failed_wal, last_failed_time, now(), pg_is_in_recovery()"
                " FROM pg_stat_archiver"
            ).fetchone()
            current = None
            if archiver is not None and not archiver[7]:
                lsn_row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
                current = int(str(lsn_row[0])) if lsn_row is not None else None
        except psycopg.Error as exc:
            lines = str(exc).strip().splitlines()
            raise DatabaseUnavailable(
                f"{subject}: {lines[0] if lines else type(exc).__name__}"
            ) from exc
    settings: dict[str, str] = {}
    segment_size = DEFAULT_SEGMENT_SIZE
    for name, setting, unit in rows:
        value = str(setting)
        if name == "archive_timeout" and unit == "s":
            value = f"{value}s"
        if name == "wal_segment_size":
            segment_size = int(value) * (8192 if unit == "8kB" else 1)
            if unit == "B":
                segment_size = int(value)
            continue
        settings[str(name)] = value
    data: dict[str, Any] = {}
    if archiver is not None:
        data["archiver"] = {
            "archived_count": archiver[0],
            "last_archived_wal": archiver[1],
            "last_archived_time": archiver[2],
            "failed_count": archiver[3],
            "last_failed_wal": archiver[4],
            "last_failed_time": archiver[5],
            "now": archiver[6],
            "current_lsn": current,
            "segment_size": segment_size,
        }
    return Facts(ENGINE, subject, settings, data)


def offline_facts(settings: dict[str, str], subject: str) -> Facts:
    return Facts(ENGINE, subject, dict(settings), defaults_apply=True)
