"""The arithmetic and message parsing of the plan's WAL read: where a record ends, and which
segment and LSN a pg_waldump complaint names (or that it is the genuine end of WAL)."""

from __future__ import annotations

from restoredrill.engines.postgres.wal_scan import WaldumpError
from restoredrill.engines.postgres.wal_verify import _damage, _position, record_end
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE as SEG
from restoredrill.lsn import segment_name
from restoredrill.models import WalSegment


def seg(segno: int) -> WalSegment:
    name = segment_name(1, segno)
    return WalSegment(
        name=name, timeline=1, segno=segno, path=f"/a/{name}", compression="none", size_bytes=SEG
    )


def test_record_end_inside_a_page() -> None:
    assert record_end(0x3000160, 34, SEG) == 0x3000182


def test_record_end_crossing_pages_and_segments() -> None:
    # 100 bytes starting 40 before a page boundary: 60 more after the 24-byte short header
    assert record_end(0x3002000 - 40, 100, SEG) == 0x3002000 + 24 + 60
    # crossing into the next segment: its first page has the 40-byte long header
    assert record_end(0x4000000 - 16, 50, SEG) == 0x4000000 + 40 + 34


def test_positions_named_by_pg_waldump() -> None:
    crc = (
        "error in WAL record at 0/40000B0: incorrect resource manager data checksum in "
        "record at 0/40000D8"
    )
    assert _position(crc, SEG) == 0x40000D8
    header = (
        "error in WAL record at 0/3000328: invalid magic number 0000 in log segment "
        "000000010000000000000004, offset 8192"
    )
    assert _position(header, SEG) == 0x4002000
    assert _position("could not read from file 000000010000000000000004, offset 0", SEG) == (
        0x4000000
    )


def test_zeros_end_the_archive_only_in_its_newest_segment() -> None:
    run = [seg(3), seg(4)]
    zeros = "error in WAL record at 0/4000100: invalid record length at 0/4000128: wanted 24, got 0"
    assert _damage(WaldumpError(zeros, run), run, SEG, at_head=True) is None
    damage = _damage(WaldumpError(zeros, run), run, SEG, at_head=False)
    assert damage is not None and damage.segment.name == seg(4).name
    mid = zeros.replace("0/4000", "0/3000")
    damage = _damage(WaldumpError(mid, run), run, SEG, at_head=True)
    assert damage is not None and damage.segment.name == seg(3).name
    assert damage.lsn == 0x3000128
    assert damage.describe().startswith(f"WAL segment {seg(3).name} is damaged at 0/3000128 (")
    crc = zeros.replace(
        "invalid record length at", "incorrect resource manager data checksum in record at"
    )
    assert _damage(WaldumpError(crc, run), run, SEG, at_head=True) is not None
