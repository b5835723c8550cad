"""Verify's user input, parsed once (shared with the CLI): tables, as-of columns, as-of time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from restoredrill.errors import ConfigError, InvalidTarget


def parse_as_of(text: str) -> datetime:
    """An ISO time with a timezone; a naive or unparseable time → InvalidTarget (exit 2)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTarget(f"--as-of {text!r} is not an ISO 8601 time") from None
    require_aware(value)
    return value


def require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTarget(
            f"--as-of {value.isoformat()} has no timezone (add one, e.g. +00:00 or Z)"
        )


def split_tables(items: Iterable[str] | None) -> list[str] | None:
    """``--tables a,b --tables c`` → ['a', 'b', 'c']; None when not given."""
    if not items:
        return None
    specs = [part.strip() for item in items for part in item.split(",")]
    return [s for s in specs if s] or None


def parse_as_of_columns(items: Iterable[str] | None) -> dict[str, str]:
    """``TABLE=COLUMN`` items → {table: column}; the last '=' separates (tables may hold one)."""
    result: dict[str, str] = {}
    for item in items or ():
        table, sep, column = item.rpartition("=")
        if not sep or not table.strip() or not column.strip():
            raise ConfigError(f"--as-of-column {item!r}: expected TABLE=COLUMN")
        result[table.strip()] = column.strip()
    return result
