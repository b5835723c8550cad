"""The WAL archive catalogue (segments, timelines, backup history files), the segment header
check, and reading pg_waldump's lines — on small synthetic archives, no server needed."""

from __future__ import annotations

import gzip
import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restoredrill.engines.postgres.basebackups import parse_label_time
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.engines.postgres.wal_archive import (
    TimelineStep,
    read_history_file,
    scan_archive,
    scan_wal,
    validate_segment,
)
from restoredrill.engines.postgres.wal_scan import WalEvent, parse_line, rmgr_filter
from restoredrill.errors import BackupCorrupt, ConfigError
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE as SEG
from restoredrill.lsn import parse_lsn, segment_name
from restoredrill.models import WalSegment
from restoredrill.storage.local import LocalStorage

SYSID = 7_312_345_678_901_234_567


def header(segno: int, tli: int = 1, magic: int = 0xD110, info: int = 0x0002) -> bytes:
    """XLogLongPageHeaderData of a segment's first page."""
    return struct.pack("<HHIQI4xQII", magic, info, tli, segno * SEG, 0, SYSID, SEG, 8192)


def write_segment(path: Path, content: bytes, size: int = SEG) -> Path:
    with path.open("wb") as handle:
        handle.write(content)
        handle.truncate(size)  # sparse: cheap 16 MiB files
    return path


def segment(path: Path) -> WalSegment:
    """What scan_archive makes of one file."""
    (found,) = [s for per in scan_archive(path.parent).segments.values() for s in per.values()]
    return found


BACKUP_HISTORY = """\
START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)
CHECKPOINT LOCATION: 0/2000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-11-21 12:11:57 UTC
LABEL: restoredrill
START TIMELINE: 1
STOP TIME: 2026-11-21 12:11:58 UTC
STOP TIMELINE: 1
"""


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Timeline 1: segments 2, 3 (gzip), 4, 6 and 6.gz (a duplicate); timeline 2 branched at
    0/5000000 and holds segments 5 and 7. Plus files that are not part of the chain."""
    root = tmp_path / "archive"
    root.mkdir()
    for tli, segno in ((1, 2), (1, 4), (1, 6), (2, 5), (2, 7)):
        (root / segment_name(tli, segno)).write_bytes(b"x")
    with gzip.open(root / f"{segment_name(1, 3)}.gz", "wb") as handle:
        handle.write(b"x")
    with gzip.open(root / f"{segment_name(1, 6)}.gz", "wb") as handle:
        handle.write(b"x")
    (root / "00000002.history").write_text(
        "# comment\n\n1\t0/5000000\tno recovery target specified\n"
    )
    (root / "000000010000000000000002.00000028.backup").write_text(BACKUP_HISTORY)
    (root / "000000010000000000000005.partial").write_bytes(b"x")
    (root / "README").write_text("not WAL")
    (root / "000000010000000000000009").mkdir()
    return root


def test_scan_finds_segments_per_timeline(archive: Path) -> None:
    scanned = scan_archive(archive)
    assert {tli: sorted(per) for tli, per in scanned.segments.items()} == {
        1: [2, 3, 4, 6],
        2: [5, 7],
    }
    assert scanned.segments[1][3].compression == "gzip"
    assert scanned.segments[1][3].name == segment_name(1, 3)  # without the suffix
    assert scanned.segments[1][6].compression == "none"  # the uncompressed duplicate wins
    assert scanned.histories == {2: [(1, 0x5000000)]}
    assert scanned.timelines() == [1, 2]


def test_a_nested_layout_is_read_when_asked(archive: Path, tmp_path: Path) -> None:
    """Barman-style wals/<timeline+log>/ subdirectories: skipped by the flat scan, read with
    flat=False; each segment keeps its storage key for a remote cache."""
    nested = tmp_path / "nested"
    (nested / "0000000100000000").mkdir(parents=True)
    for entry in archive.iterdir():
        if entry.is_file():
            shutil.copy(entry, nested / "0000000100000000" / entry.name)
    storage = LocalStorage(nested)
    assert scan_wal(storage).segments == {}
    scanned = scan_wal(storage, flat=False)
    assert {tli: sorted(per) for tli, per in scanned.segments.items()} == {
        1: [2, 3, 4, 6],
        2: [5, 7],
    }
    assert scanned.histories == {2: [(1, 0x5000000)]}
    two = scanned.segments[1][2]
    assert scanned.keys[two.path] == f"0000000100000000/{segment_name(1, 2)}"


def test_scan_reads_backup_history_files(archive: Path) -> None:
    (history,) = scan_archive(archive).backup_histories.values()
    assert scan_archive(archive).backup_histories.keys() == {0x2000028}
    assert history.start_lsn == 0x2000028
    assert history.stop_lsn == 0x2000100
    assert history.stop_time == datetime(2026, 11, 21, 12, 11, 58, tzinfo=UTC)


def test_timeline_path_and_segment_choice(archive: Path) -> None:
    scanned = scan_archive(archive)
    steps = scanned.path_to(2)
    assert steps == [TimelineStep(1, 0, 0x5000000), TimelineStep(2, 0x5000000, None)]
    assert scanned.path_to(1) == [TimelineStep(1, 0, None)]
    # the segment holding the switch point and later ones come from the new timeline
    assert [scanned.timeline_for_segment(steps, n) for n in (3, 4, 5, 6, 7)] == [1, 1, 2, 2, 2]
    assert scanned.head_segno(steps) == 7
    assert scanned.head_segno(scanned.path_to(1)) == 6


def test_reachable_timelines_depend_on_where_the_backup_starts(archive: Path) -> None:
    scanned = scan_archive(archive)
    assert scanned.reachable_timelines(1, parse_lsn("0/2000028")) == [1, 2]
    # a backup taken on timeline 1 after the branch point cannot follow timeline 2
    assert scanned.reachable_timelines(1, parse_lsn("0/6000028")) == [1]


def test_chain_reports_missing_segments_on_the_right_timeline(archive: Path) -> None:
    scanned = scan_archive(archive)
    present, missing = scanned.chain(scanned.path_to(2), 2, 8)
    assert [(s.timeline, s.segno) for s in present] == [(1, 2), (1, 3), (1, 4), (2, 5), (2, 7)]
    # segment 6 exists only on timeline 1, but replay on timeline 2 needs 2's copy
    assert missing == [segment_name(2, 6), segment_name(2, 8)]
    assert scanned.segment_at(scanned.path_to(2), 6) is None
    assert scanned.segment_at(scanned.path_to(1), 6) is not None


def test_missing_archive_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--wal-archive .*: no such directory") as caught:
        scan_archive(tmp_path / "nope")
    assert caught.value.exit_code == 2


def test_history_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "00000003.history"
    path.write_text("1\t0/5000000\tno recovery target specified\n\n2\t0/70000A0\tbefore xid 9\n")
    assert read_history_file(path) == [(1, 0x5000000), (2, 0x70000A0)]
    path.write_text("1\tnot-an-lsn\treason\n")
    with pytest.raises(BackupCorrupt, match="unreadable timeline history line"):
        read_history_file(path)


def test_unreadable_backup_history_file_is_corrupt_not_a_crash(archive: Path) -> None:
    (archive / "000000010000000000000004.00000028.backup").write_text("START WAL LOCATION: x\n")
    with pytest.raises(BackupCorrupt, match=r"000000010000000000000004\.00000028\.backup"):
        scan_archive(archive)
    (archive / "000000010000000000000004.00000028.backup").write_text("garbage\n")
    with pytest.raises(BackupCorrupt, match="unreadable backup history file"):
        scan_archive(archive)


# --- times in backup labels and history files ------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset_hours"),
    [
        ("2026-11-21 12:07:49 UTC", 0),
        ("2026-11-21 12:07:49 GMT", 0),
        ("2026-11-21 12:07:49 CET", 1),
        ("2026-07-01 12:07:49 CEST", 2),
        ("2026-07-01 12:07:49 PDT", -7),
        ("2026-11-21 12:07:49 MSK", 3),
        ("2026-11-21 12:07:49 +04", 4),
        ("2026-11-21 12:07:49 -0330", -3.5),
    ],
)
def test_label_times_in_unambiguous_zones(text: str, offset_hours: float) -> None:
    parsed = parse_label_time(text)
    assert parsed.utcoffset() == timedelta(hours=offset_hours)
    assert parsed.strftime("%Y-%m-%d %H:%M:%S") == text.rsplit(" ", 1)[0]


def test_ambiguous_zone_abbreviations_are_settled_by_a_nearby_time() -> None:
    text = "2026-11-21 06:22:56 CST"  # Chicago (-6), Shanghai (+8) or Havana (-5)
    chicago = datetime(2026, 11, 21, 12, 22, 56, tzinfo=UTC)
    assert parse_label_time(text, hint=chicago + timedelta(seconds=1)) == chicago
    shanghai = datetime(2026, 11, 20, 22, 22, 56, tzinfo=UTC)
    assert parse_label_time(text, hint=shanghai) == shanghai
    # a stop time takes the offset of the start time from the same server
    start = parse_label_time(text, hint=chicago)
    stop = parse_label_time("2026-11-21 07:00:00 CST", zone_of=start)
    assert stop.utcoffset() == timedelta(hours=-6)
    with pytest.raises(ConfigError, match=r"'CST' is ambiguous .*TZ set to the server"):
        parse_label_time(text, hint=chicago + timedelta(hours=5))


def test_unknown_zone_and_bad_times() -> None:
    with pytest.raises(ConfigError, match="unknown time zone abbreviation 'XYZ'"):
        parse_label_time("2026-11-21 12:07:49 XYZ")
    with pytest.raises(BackupCorrupt, match="is not a time"):
        parse_label_time("2026-11-21 12:07 UTC")


# --- segment header check -----------------------------------------------------------


def test_valid_segment(tmp_path: Path) -> None:
    path = write_segment(tmp_path / segment_name(1, 7), header(7))
    assert validate_segment(segment(path)) == SYSID


def test_valid_segment_on_a_later_timeline_may_start_with_its_parents_page(
    tmp_path: Path,
) -> None:
    # the first segment of a new timeline is a copy of the parent's, page headers included
    path = write_segment(tmp_path / segment_name(2, 7), header(7, tli=1))
    assert validate_segment(segment(path)) == SYSID


@pytest.mark.parametrize(
    ("content", "size", "says"),
    [
        (b"", 0, "is empty"),
        (header(7), SEG // 2, "is 8388608 bytes, expected 16777216 (truncated copy?)"),
        (b"\x5a" * 64, SEG, "is not a valid WAL segment (bad page header)"),
        (header(6), SEG, "is not a valid WAL segment"),  # another segment's content
        (header(7, tli=3), SEG, "is not a valid WAL segment"),  # from a later timeline
        (header(7, magic=0x1234), SEG, "is not a valid WAL segment"),
        (header(7, info=0), SEG, "is not a valid WAL segment"),  # no long header
    ],
)
def test_damaged_segments(tmp_path: Path, content: bytes, size: int, says: str) -> None:
    path = write_segment(tmp_path / segment_name(1, 7), content, size)
    with pytest.raises(BackupCorrupt, match=re.escape(f"WAL segment {segment_name(1, 7)} {says}")):
        validate_segment(segment(path))


def _gzip(path: Path, payload: bytes) -> Path:
    target = path.with_name(path.name + ".gz")
    with gzip.open(target, "wb") as handle:
        handle.write(payload)
    return target


def test_compressed_segments_are_checked_after_decompression(tmp_path: Path) -> None:
    name = segment_name(1, 7)
    good = _gzip(tmp_path / name, header(7) + bytes(4096))
    assert validate_segment(segment(good)) == SYSID
    good.unlink()
    bad = _gzip(tmp_path / name, b"\x5a" * 4096)
    with pytest.raises(BackupCorrupt, match="not a valid WAL segment"):
        validate_segment(segment(bad))
    bad.unlink()
    short = _gzip(tmp_path / name, b"")
    with pytest.raises(BackupCorrupt, match="too short to be WAL"):
        validate_segment(segment(short))
    short.unlink()
    (tmp_path / f"{name}.gz").write_bytes(b"this is not gzip data at all")
    with pytest.raises(BackupCorrupt, match="unreadable"):
        validate_segment(segment(tmp_path / f"{name}.gz"))


@pytest.mark.parametrize(("tool", "suffix"), [("lz4", ".lz4"), ("zstd", ".zst")])
def test_lz4_and_zstd_segments(tmp_path: Path, tool: str, suffix: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed on this machine")
    raw = write_segment(tmp_path / "raw", header(7))
    packed = tmp_path / f"{segment_name(1, 7)}{suffix}"
    with packed.open("wb") as sink:
        subprocess.run([tool, "-q", "-c", str(raw)], stdout=sink, check=True)
    raw.unlink()
    found = segment(packed)
    assert found.compression == {"lz4": "lz4", "zstd": "zstd"}[tool]
    assert validate_segment(found) == SYSID


# --- pg_waldump lines ------------------------------------------------------------------

_LINE = (
    "rmgr: {rmgr:<11} len (rec/tot):     34/    34, tx:        {tx}, lsn: 0/{lsn}, "
    "prev 0/08000238, desc: {desc}"
)


def line(rmgr: str, tx: int, lsn: str, desc: str) -> str:
    return _LINE.format(rmgr=rmgr, tx=tx, lsn=lsn, desc=desc)


def test_commit_lines() -> None:
    at = datetime(2026, 11, 21, 12, 11, 59, 196379, tzinfo=UTC)
    assert parse_line(
        line("Transaction", 734, "08000278", "COMMIT 2026-11-21 12:11:59.196379 UTC")
    ) == WalEvent(0x8000278, "commit", 734, at)
    with_invals = "COMMIT 2026-11-21 12:11:59.196379 UTC; inval msgs: catcache 7 relcache 16390"
    assert parse_line(line("Transaction", 734, "08000278", with_invals)) == WalEvent(
        0x8000278, "commit", 734, at
    )
    whole_second = line("Transaction", 9, "08000278", "COMMIT 2026-11-21 12:11:59 UTC")
    event = parse_line(whole_second)
    assert event is not None and event.time == datetime(2026, 11, 21, 12, 11, 59, tzinfo=UTC)


def test_abort_and_prepared_lines() -> None:
    """COMMIT/ABORT PREPARED are logged with the finishing session's xid (0); the prepared
    transaction's own xid, which recovery_target_xid matches, is in the description."""
    at = datetime(2026, 11, 21, 12, 19, 18, 508520, tzinfo=UTC)
    assert parse_line(
        line("Transaction", 0, "01527C40", "COMMIT_PREPARED 725: 2026-11-21 12:19:18.508520 UTC")
    ) == WalEvent(0x1527C40, "commit", 725, at)
    assert parse_line(
        line("Transaction", 0, "01527C40", "ABORT_PREPARED 726: 2026-11-21 12:19:18.508520 UTC")
    ) == WalEvent(0x1527C40, "abort", 726, at)
    assert parse_line(
        line("Transaction", 726, "01527CB0", "ABORT 2026-11-21 12:19:18.508520 UTC")
    ) == WalEvent(0x1527CB0, "abort", 726, at)
    prepare = line("Transaction", 725, "01527B48", "PREPARE gid g1: 2026-11-21 12:19:18 UTC")
    assert parse_line(prepare) == WalEvent(0x1527B48, "record", 725)


def test_restore_point_and_other_lines() -> None:
    assert parse_line(line("XLOG", 0, "03000028", "RESTORE_POINT after-8")) == WalEvent(
        0x3000028, "restore_point", 0, name="after-8"
    )
    assert parse_line(line("Heap", 735, "080002A0", "INSERT off 10 flags 0x00")) == WalEvent(
        0x80002A0, "record", 735
    )
    assert parse_line(line("XLOG", 0, "08000350", "SWITCH")) == WalEvent(0x8000350, "record", 0)
    assert parse_line("pg_waldump: error: could not find file 000000010000000000000009") is None
    assert parse_line("") is None


def test_rmgr_filter_only_where_it_is_repeatable() -> None:
    """pg_waldump takes several -r from 15 on; before, the last one wins (a Transaction+XLOG
    filter would print no commit), so older majors print every record."""
    assert rmgr_filter(PgTools(Path("/x"), "15.2"), "Transaction", "XLOG") == [
        "-r", "Transaction", "-r", "XLOG",
    ]  # fmt: skip
    assert rmgr_filter(PgTools(Path("/x"), "13.23"), "Transaction", "XLOG") == []
    assert rmgr_filter(PgTools(Path("/x"), "9.6.24"), "Heap") == []
