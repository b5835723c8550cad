"""LSN text and arithmetic, WAL segment names."""

from __future__ import annotations

import pytest

from restoredrill.errors import InvalidTarget
from restoredrill.lsn import (
    DEFAULT_SEGMENT_SIZE,
    format_lsn,
    parse_lsn,
    parse_segment_name,
    segment_name,
    segment_of,
    segments_per_xlogid,
)
from restoredrill.models import RecoveryTarget


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0/0", 0),
        ("0/16B3748", 0x16B3748),
        ("0/16b3748", 0x16B3748),
        (" 1/0 ", 1 << 32),
        ("A/FF", (10 << 32) | 0xFF),
        ("FFFFFFFF/FFFFFFFF", (1 << 64) - 1),
    ],
)
def test_parse_lsn(text: str, value: int) -> None:
    assert parse_lsn(text) == value


@pytest.mark.parametrize(
    "text", ["", "16B3748", "0/", "/0", "1/2/3", "G/0", "123456789/0", "0/123456789", "0x1/0"]
)
def test_bad_lsn(text: str) -> None:
    with pytest.raises(InvalidTarget, match="not an LSN"):
        parse_lsn(text)


@pytest.mark.parametrize("value", [0, 0x16B3748, 1 << 32, (7 << 32) | 0x28, (1 << 64) - 1])
def test_format_round_trips(value: int) -> None:
    text = format_lsn(value)
    assert text == text.upper()
    assert parse_lsn(text) == value


def test_format_has_no_leading_zeros() -> None:
    assert format_lsn(0x16B3748) == "0/16B3748"
    assert format_lsn(1 << 32) == "1/0"


def test_segment_names() -> None:
    assert segments_per_xlogid() == 256
    assert segment_name(1, 0) == "000000010000000000000000"
    assert segment_name(1, 0x16) == "000000010000000000000016"
    assert segment_name(2, 256 + 5) == "000000020000000100000005"
    assert segment_name(0x1A, 3 * 256 + 0xFF) == "0000001A00000003000000FF"
    # other segment sizes change how many segments one xlogid holds
    assert segment_name(1, 4096 + 1, segment_size=1024 * 1024) == "000000010000000100000001"


@pytest.mark.parametrize(("timeline", "segno"), [(1, 0), (1, 255), (1, 256), (3, 70000)])
def test_segment_name_round_trips(timeline: int, segno: int) -> None:
    assert parse_segment_name(segment_name(timeline, segno)) == (timeline, segno)


@pytest.mark.parametrize(
    "name",
    [
        "00000001000000000000001",
        "0000000100000000000000016",
        "00000001000000000000001g",
        "000000010000000000000001.partial",
        "00000002.history",
    ],
)
def test_bad_segment_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a WAL segment name"):
        parse_segment_name(name)


def test_segment_of() -> None:
    assert segment_of(0) == 0
    assert segment_of(DEFAULT_SEGMENT_SIZE - 1) == 0
    assert segment_of(DEFAULT_SEGMENT_SIZE) == 1
    assert segment_of(parse_lsn("1/0")) == 256
    assert segment_name(1, segment_of(parse_lsn("0/7000378"))) == "000000010000000000000007"


def test_lsn_fields_accept_text_and_serialize_as_text() -> None:
    target = RecoveryTarget(kind="lsn", lsn="0/16B3748")  # type: ignore[arg-type]
    assert target.lsn == 0x16B3748
    assert target.model_dump(mode="json")["lsn"] == "0/16B3748"
    assert RecoveryTarget.model_validate_json(target.model_dump_json()) == target
