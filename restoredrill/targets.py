"""Parsing a recovery target from user input, once, with one clear error per mistake."""

from __future__ import annotations

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


def parse_target(
    time: str | None = None,
    lsn: str | None = None,
    xid: str | None = None,
    name: str | None = None,
    target: str | None = None,
    exclusive: bool = False,
) -> RecoveryTarget:
    given = {
        k: v
        for k, v in {
            "--target-time": time,
            "--target-lsn": lsn,
            "--target-xid": xid,
            "--target-name": name,
            "--target": target,
        }.items()
        if v is not None
    }
    if len(given) != 1:
        choices = (
            "--target-time, --target-lsn, --target-xid, --target-name, --target latest|immediate"
        )
        if not given:
            raise InvalidTarget(f"choose a recovery target: one of {choices}")
        raise InvalidTarget(f"give exactly one recovery target, not {' and '.join(given)}")
    inclusive = not exclusive
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
