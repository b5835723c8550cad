"""Parsing a recovery target from user input, once, with one clear error per mistake."""

from __future__ import annotations

import re
from datetime import datetime

from restoredrill.errors import InvalidTarget
from restoredrill.lsn import parse_lsn
from restoredrill.models import RecoveryTarget


def parse_time(text: str, option: str = "--target-time") -> datetime:
    """An ISO 8601 time that must carry a time zone (a naive time is ambiguous at 3 a.m.)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTarget(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-21T03:14:00+00:00)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTarget(
            f"{option} {text!r} has no time zone; add one, e.g. {text.strip()}+00:00 or Z"
        )
    return value


_MARIA_GTID = re.compile(r"\d+-\d+-\d+")
_MYSQL_GTID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:\d+"
)
_POSITION = re.compile(r"(?P<file>[^:/\s]+\.\d{6,}):(?P<pos>\d+)")


def parse_gtid(text: str, option: str = "--target-gtid") -> str:
    """A MariaDB (domain-server-seq) or MySQL (uuid:N) GTID, stripped."""
    value = text.strip()
    if not (_MARIA_GTID.fullmatch(value) or _MYSQL_GTID.fullmatch(value)):
        raise InvalidTarget(
            f"{option} {text!r} is not a GTID (MariaDB domain-server-seq such as "
            "0-1-42, or MySQL uuid:N)"
        )
    return value


def _position_target(text: str, exclusive: bool) -> RecoveryTarget:
    if exclusive:
        raise InvalidTarget(
            "--exclusive does not apply to --target-position (replay stops before the "
            "transaction at FILE:POS)"
        )
    if not _POSITION.fullmatch(text.strip()):
        raise InvalidTarget(
            f"--target-position {text!r} is not a binlog position FILE:POS "
            "(e.g. mysql-bin.000042:1234)"
        )
    return RecoveryTarget(kind="position", position=text.strip())


def parse_target(
    time: str | None = None,
    lsn: str | None = None,
    xid: str | None = None,
    name: str | None = None,
    target: str | None = None,
    exclusive: bool = False,
    position: str | None = None,
    gtid: str | None = None,
    engine: str = "postgres",
) -> RecoveryTarget:
    """One recovery target from the CLI's options. ``engine`` "mariadb"/"mysql" takes
    --target-position FILE:POS and --target-gtid instead of PostgreSQL's lsn/xid/name."""
    mysql = engine != "postgres"
    given = {
        k: v
        for k, v in {
            "--target-time": time,
            "--target-lsn": lsn,
            "--target-xid": xid,
            "--target-name": name,
            "--target": target,
            "--target-position": position,
            "--target-gtid": gtid,
        }.items()
        if v is not None
    }
    foreign = ["--target-lsn", "--target-xid", "--target-name"] if mysql else []
    foreign += [] if mysql else ["--target-position", "--target-gtid"]
    for option in foreign:
        if option in given:
            kind = "MariaDB/MySQL" if not mysql else "PostgreSQL"
            raise InvalidTarget(
                f"{option} is a {kind} target; with --engine {engine} use "
                + (
                    "--target-time, --target-position FILE:POS, --target-gtid or --target"
                    if mysql
                    else "--target-time, --target-lsn, --target-xid, --target-name or --target"
                )
            )
    if len(given) != 1:
        choices = (
            "--target-time, --target-position, --target-gtid, --target latest|immediate"
            if mysql
            else "--target-time, --target-lsn, --target-xid, --target-name, "
            "--target latest|immediate"
        )
        if not given:
            raise InvalidTarget(f"choose a recovery target: one of {choices}")
        raise InvalidTarget(f"give exactly one recovery target, not {' and '.join(given)}")
    inclusive = not exclusive
    if position is not None:
        return _position_target(position, exclusive)
    if gtid is not None:
        return RecoveryTarget(kind="gtid", gtid=parse_gtid(gtid), inclusive=inclusive)
    if time is not None:
        return RecoveryTarget(kind="time", time=parse_time(time), inclusive=inclusive)
    if lsn is not None:
        return RecoveryTarget(kind="lsn", lsn=parse_lsn(lsn), inclusive=inclusive)
    if xid is not None:
        text = xid.strip()
        # An epoch-qualified xid (pg_current_xact_id()) means its low 32 bits, as in PostgreSQL.
        value = int(text) & 0xFFFFFFFF if text.isascii() and text.isdigit() else -1
        if value < 3 or int(text) >= 1 << 64:
            raise InvalidTarget(f"--target-xid {xid!r} is not a transaction id (a number >= 3)")
        return RecoveryTarget(kind="xid", xid=value, inclusive=inclusive)
    if name is not None:
        if not name.strip() or len(name) > 63:
            raise InvalidTarget("--target-name must be a restore point name of 1-63 characters")
        if exclusive:
            raise InvalidTarget(
                "--exclusive does not apply to --target-name (recovery stops at the restore point)"
            )
        return RecoveryTarget(kind="name", name=name)
    assert target is not None
    if target not in ("latest", "immediate"):
        raise InvalidTarget(f"--target {target!r}: expected 'latest' or 'immediate'")
    if exclusive:
        raise InvalidTarget(f"--exclusive does not apply to --target {target}")
    return RecoveryTarget(kind=target)  # type: ignore[arg-type]
