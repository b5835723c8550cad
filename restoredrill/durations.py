"""Durations as people write them in playbooks and options: ``500ms``, ``90s``, ``15m``, ``1h30m``,
``2 days``, or a plain number of seconds; and relative times such as ``15 minutes ago``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNITS = {
    "ms": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_AGO = re.compile(r"^\s*(.+?)\s+ago\s*$", re.IGNORECASE)


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``; ValueError with a one-line reason when it is not a duration."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.group(2) not in _UNITS:
            raise ValueError(
                f"{value!r} is not a duration (examples: 90s, 15m, 1h30m, 2 days, 3600)"
            )
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0:
        raise ValueError(f"{value!r} is not a duration")
    return total


def is_relative_time(text: str) -> bool:
    match = _AGO.match(text)
    if match is None:
        return False
    try:
        parse_duration(match.group(1))
    except ValueError:
        return False
    return True


def resolve_relative(text: str, now: datetime) -> datetime:
    """``15 minutes ago`` → now - 15 minutes (``now`` must be timezone-aware)."""
    match = _AGO.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a relative time (e.g. '15 minutes ago')")
    return now - timedelta(seconds=parse_duration(match.group(1)))


def format_duration(seconds: float | None) -> str:
    """Short, exact-enough form for reports: 850 ms, 42.3 s, 12m 05s, 3h 04m, 2d 05h."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_age(seconds: float | None) -> str:
    """How long ago, in format_duration's style: ``2d 05h ago``; ``never`` for None."""
    return "never" if seconds is None else f"{format_duration(max(seconds, 0.0))} ago"
