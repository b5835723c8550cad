"""PostgreSQL log sequence numbers and WAL segment names."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from restoredrill.errors import InvalidTarget

DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024
_LSN_RE = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
SEGMENT_NAME_RE = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")


def parse_lsn(text: str) -> int:
    match = _LSN_RE.match(text.strip())
    if not match:
        raise InvalidTarget(f"not an LSN: {text!r} (expected the form 0/16B3748)")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def _coerce_lsn(value: object) -> object:
    return parse_lsn(value) if isinstance(value, str) else value


Lsn = Annotated[int, BeforeValidator(_coerce_lsn), PlainSerializer(format_lsn, return_type=str)]


def segments_per_xlogid(segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    return 0x100000000 // segment_size


def segment_name(timeline: int, segno: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
    per = segments_per_xlogid(segment_size)
    return f"{timeline:08X}{segno // per:08X}{segno % per:08X}"


def parse_segment_name(name: str, segment_size: int = DEFAULT_SEGMENT_SIZE) -> tuple[int, int]:
    """Return (timeline, segment number) of a WAL segment file name."""
    match = SEGMENT_NAME_RE.match(name)
    if not match:
        raise ValueError(f"not a WAL segment name: {name}")
    timeline, log, seg = (int(g, 16) for g in match.groups())
    return timeline, log * segments_per_xlogid(segment_size) + seg


def segment_of(lsn: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    return lsn // segment_size
