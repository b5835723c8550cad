"""Recovery targets are parsed once, from user input, with one clear error per mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from restoredrill.errors import InvalidTarget
from restoredrill.models import RecoveryTarget
from restoredrill.targets import parse_target, parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T03:14:00+00:00", datetime(2026, 11, 21, 3, 14, tzinfo=UTC)),
        ("2026-11-21T03:14:00Z", datetime(2026, 11, 21, 3, 14, tzinfo=UTC)),
        ("2026-11-21 03:14:00.123456+01:00", datetime(2026, 11, 21, 2, 14, 0, 123456, tzinfo=UTC)),
        (" 2026-11-21T03:14-05:00 ", datetime(2026, 11, 21, 8, 14, tzinfo=UTC)),
    ],
)
def test_times_with_a_zone(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize("text", ["2026-11-21T03:14:00", "2026-11-21", "2026-11-21 03:14"])
def test_naive_time_is_refused(text: str) -> None:
    with pytest.raises(InvalidTarget, match="has no time zone; add one") as caught:
        parse_target(time=text)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("text", ["yesterday", "", "21/11/2026 03:14", "2026-13-01T00:00Z"])
def test_unparseable_time_is_refused(text: str) -> None:
    with pytest.raises(InvalidTarget, match="is not an ISO 8601 time"):
        parse_target(time=text)


def test_each_kind() -> None:
    at = datetime(2026, 11, 21, 3, 14, tzinfo=timezone(timedelta(hours=2)))
    assert parse_target(time=at.isoformat()) == RecoveryTarget(kind="time", time=at)
    assert parse_target(lsn="0/16B3748") == RecoveryTarget(kind="lsn", lsn=0x16B3748)
    assert parse_target(xid=" 745 ") == RecoveryTarget(kind="xid", xid=745)
    assert parse_target(name="before-migration") == RecoveryTarget(
        kind="name", name="before-migration"
    )
    assert parse_target(target="latest") == RecoveryTarget(kind="latest")
    assert parse_target(target="immediate") == RecoveryTarget(kind="immediate")


@pytest.mark.parametrize(
    "given", [{"time": "2026-11-21T03:14:00Z"}, {"lsn": "1/0"}, {"xid": "1234"}]
)
def test_exclusive_applies_to_time_lsn_and_xid(given: dict[str, Any]) -> None:
    assert parse_target(**given).inclusive is True
    assert parse_target(**given, exclusive=True).inclusive is False


@pytest.mark.parametrize("given", [{"target": "latest"}, {"target": "immediate"}, {"name": "rp"}])
def test_exclusive_is_refused_where_it_means_nothing(given: dict[str, Any]) -> None:
    with pytest.raises(InvalidTarget, match="--exclusive does not apply"):
        parse_target(**given, exclusive=True)


def test_exactly_one_target() -> None:
    with pytest.raises(InvalidTarget, match="choose a recovery target"):
        parse_target()
    with pytest.raises(
        InvalidTarget, match="give exactly one recovery target, not --target-lsn and --target"
    ):
        parse_target(lsn="0/1", target="latest")


@pytest.mark.parametrize("xid", ["abc", "", "-5", "0", "2", "1.5", "²", "٣", "0x10", str(1 << 64)])
def test_bad_xids(xid: str) -> None:
    with pytest.raises(InvalidTarget, match="is not a transaction id"):
        parse_target(xid=xid)


def test_epoch_qualified_xid_means_its_low_32_bits() -> None:
    """What pg_current_xact_id() returns after a wraparound; PostgreSQL does the same."""
    assert parse_target(xid=str((2 << 32) + 745)).xid == 745


@pytest.mark.parametrize("name", ["", "   ", "x" * 64])
def test_bad_restore_point_names(name: str) -> None:
    with pytest.raises(InvalidTarget, match="1-63 characters"):
        parse_target(name=name)


def test_longest_restore_point_name() -> None:
    assert parse_target(name="x" * 63).name == "x" * 63


@pytest.mark.parametrize("target", ["LATEST", "now", "", "end"])
def test_unknown_target_words(target: str) -> None:
    with pytest.raises(InvalidTarget, match="expected 'latest' or 'immediate'"):
        parse_target(target=target)


def test_bad_lsn_is_an_invalid_target() -> None:
    with pytest.raises(InvalidTarget, match="not an LSN"):
        parse_target(lsn="16B3748")


def test_describe() -> None:
    assert parse_target(lsn="0/16B3748", exclusive=True).describe() == "lsn 0/16B3748 (exclusive)"
    assert parse_target(xid="745").describe() == "xid 745"
    assert parse_target(name="rp").describe() == "name 'rp'"
    assert parse_target(target="latest").describe() == "latest"
    assert parse_target(time="2026-11-21T03:14:00Z").describe() == "time 2026-11-21T03:14:00+00:00"
