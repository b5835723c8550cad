"""Reading every record of a WAL range once, as replay will, in the plan: pg_waldump checks
each record's CRC and each page header, so a segment damaged in its body is named (file and
LSN) before anything is provisioned. The same pass finds the recovery target and where
replay must reach."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime

from restoredrill.engines.postgres.tools import PgTools
from restoredrill.engines.postgres.wal_archive import TimelineStep, WalArchive, validate_segment
from restoredrill.engines.postgres.wal_scan import WaldumpError, WalEvent, scan
from restoredrill.errors import BackupCorrupt
from restoredrill.lsn import format_lsn, parse_lsn, parse_segment_name
from restoredrill.models import BaseBackup, RecoveryTarget, WalSegment
from restoredrill.shared_work import SharedWork

HEAD_LOOKBACK = 8
BLOCK_SIZE = 8192
SHORT_PAGE_HEADER = 24  # MAXALIGN(SizeOfXLogShortPHD)
LONG_PAGE_HEADER = 40  # MAXALIGN(SizeOfXLogLongPHD): the first page of a segment

_LSN = r"[0-9A-F]+/[0-9A-F]+"
# "invalid magic number 0000 in log segment S, offset N", "could not read from file S, offset N"
_IN_SEGMENT = re.compile(r"\b(?P<name>[0-9A-F]{24})\b\"?(?:,? offset (?P<offset>\d+))?")
_AT_LSN = re.compile(rf"(?:at|record at) (?P<lsn>{_LSN})")
# Zeros where the next record would start: the end of written WAL, not damage — but only
# in the archive's last segment (a segment followed by more archived WAL is complete).
_LAST_GOOD = re.compile(rf"^error in WAL record at {_LSN}: ")
_ZEROS = re.compile(rf"invalid record length at {_LSN}: wanted \d+, got 0")


def record_end(lsn: int, length: int, segment_size: int) -> int:
    """Where a record of ``length`` bytes starting at ``lsn`` ends (page headers it crosses
    included): what PostgreSQL reports as the end of the last replayed record."""
    pos, remaining = lsn, length
    while remaining > 0:
        page_end = (pos // BLOCK_SIZE + 1) * BLOCK_SIZE
        if remaining <= page_end - pos:
            return pos + remaining
        remaining -= page_end - pos
        pos = page_end + (LONG_PAGE_HEADER if page_end % segment_size == 0 else SHORT_PAGE_HEADER)
    return pos


@dataclass(frozen=True)
class WalDamage:
    """A record replay cannot read, in a segment that is not the end of the archive."""

    segment: WalSegment
    lsn: int
    reason: str

    def describe(self) -> str:
        return (
            f"WAL segment {self.segment.name} is damaged at {format_lsn(self.lsn)} "
            f"({self.reason}) ({self.segment.path}); replay stops there"
        )


@dataclass
class WalRead:
    """What one pass over the WAL found."""

    found: bool = False  # the target's record
    lsn: int | None = None  # the target's record (or the last record read, for 'latest')
    last_commit: datetime | None = None  # at or before the target
    last_commit_end: int | None = None
    last_end: int | None = None  # end of the last record read (as printed)
    damage: WalDamage | None = None
    complete: bool = False  # every record up to the target (or the end) was read
    events: int = 0
    stop: WalEvent | None = None  # the target's record, when found


@dataclass
class _Progress:
    read: WalRead = field(default_factory=WalRead)
    errors: list[WaldumpError] = field(default_factory=list)


def matches(target: RecoveryTarget, event: WalEvent) -> bool:
    """Does this WAL record end recovery (PostgreSQL's recoveryStopsBefore/After)?"""
    if target.kind == "name":
        return event.kind == "restore_point" and event.name == target.name
    if event.kind not in ("commit", "abort"):
        return False
    if target.kind == "xid":
        return event.xid == target.xid
    if target.kind == "time" and target.time is not None and event.time is not None:
        return event.time > target.time if target.inclusive else event.time >= target.time
    return False


def locate(
    tools: PgTools,
    target: RecoveryTarget,
    segments: list[WalSegment],
    segment_size: int,
    head: int | None,
    shared: SharedWork | None,
) -> WalRead:
    """``read_wal`` for a target known by its position in the WAL (xid, restore point). An
    xid's pass is shared: stopping just before and just after one transaction read the same
    records, and differ only in whether its commit counts as the last one."""
    if shared is None or target.kind != "xid":
        return read_wal(tools, target, segments, segment_size, head)
    before = target.model_copy(update={"inclusive": False})
    key = (
        "postgres-wal-xid",
        str(tools.bindir),
        target.xid,
        segment_size,
        head,
        tuple((s.path, s.segno, s.size_bytes) for s in segments),
    )

    shared_read = shared.once(key, lambda: read_wal(tools, before, segments, segment_size, head))
    read = dataclasses.replace(shared_read)  # each restore its own copy
    if read.stop is not None:
        _stopped_at(read, target, read.stop, segment_size)
    return read


def read_wal(
    tools: PgTools,
    target: RecoveryTarget,
    segments: list[WalSegment],
    segment_size: int,
    head: int | None,
) -> WalRead:
    """One pass of pg_waldump over ``segments`` (a contiguous run from the backup's first
    segment), every record read, stopping at the target's record. ``head``: the archive's
    newest segment number (zeros at the end of that one are the end of WAL, not damage).

    time/xid/name targets stop at their record; an LSN target reads every record before
    it; 'latest' and 'immediate' read the whole run."""
    state = _Progress()
    read = state.read
    # pg_waldump reads (and checks) every record whatever it prints: printing only
    # transactions and XLOG records keeps the pass fast on long ranges.
    for event in scan(tools, segments, errors=state.errors):
        if target.kind == "lsn" and target.lsn is not None and event.lsn >= target.lsn:
            read.found, read.lsn, read.complete = True, event.lsn, True
            return read
        read.events += 1
        if target.kind in ("time", "xid", "name") and matches(target, event):
            _stopped_at(read, target, event, segment_size)
            return read
        read.lsn = event.lsn
        read.last_end = record_end(event.lsn, event.length, segment_size)
        if event.kind == "commit":
            _commit(read, event, segment_size)
    if state.errors:
        at_head = segments[-1].segno == head
        read.damage = _damage(state.errors[0], segments, segment_size, at_head)
    read.complete = read.damage is None
    return read


def _stopped_at(read: WalRead, target: RecoveryTarget, event: WalEvent, segment_size: int) -> None:
    """The target's record ends the read; an inclusive xid target's own commit is the last
    commit the restore holds."""
    read.found, read.lsn, read.complete, read.stop = True, event.lsn, True, event
    if target.kind == "xid" and target.inclusive and event.kind == "commit":
        _commit(read, event, segment_size)


def _commit(read: WalRead, event: WalEvent, segment_size: int) -> None:
    read.last_commit = event.time
    read.last_commit_end = record_end(event.lsn, event.length, segment_size)


def _damage(
    error: WaldumpError, run: list[WalSegment], segment_size: int, at_head: bool
) -> WalDamage | None:
    """The damaged segment named by pg_waldump's complaint, or None for the genuine end of
    the archive (zeros in its newest segment)."""
    lsn = _position(error.message, segment_size)
    by_segno = {s.segno: s for s in run}
    segment = by_segno.get(lsn // segment_size) if lsn is not None else None
    if segment is None:  # no position in the message: blame the window's first segment
        segment = error.segments[0]
        lsn = segment.segno * segment_size
    assert lsn is not None
    if at_head and segment.segno == run[-1].segno and _ZEROS.search(error.message):
        return None
    return WalDamage(segment, lsn, _LAST_GOOD.sub("", error.message))


def _position(message: str, segment_size: int) -> int | None:
    """The LSN pg_waldump could not read: a file ("in log segment S, offset N") or the
    last LSN in the message ("error in WAL record at <last good>: ... at <bad>")."""
    if match := _IN_SEGMENT.search(message):
        _timeline, segno = parse_segment_name(match["name"], segment_size)
        return segno * segment_size + int(match["offset"] or 0)
    found = _AT_LSN.findall(message)
    return parse_lsn(found[-1]) if found else None


# --- the archive's reach, for plans and their error messages ------------------------------


def fmt_time(value: datetime | None) -> str:
    return value.isoformat() if value else "unknown"


def head_of(tools: PgTools, archive: WalArchive, steps: list[TimelineStep], head: int) -> WalRead:
    """Last record (its start and end) and last commit at the archive head (looking back
    a few segments)."""
    result = WalRead()
    for segno in range(head, max(head - HEAD_LOOKBACK, -1), -1):
        segment = archive.segment_at(steps, segno)
        if segment is None:
            break
        events = list(scan(tools, [segment], all_records=True))
        if result.lsn is None and events:
            result.lsn = events[-1].lsn
            result.last_end = record_end(events[-1].lsn, events[-1].length, archive.segment_size)
        commits = [e for e in events if e.kind == "commit"]
        if commits:
            result.last_commit = commits[-1].time
            break
    return result


def readable_prefix(
    segments: list[WalSegment], segment_size: int
) -> tuple[list[WalSegment], str | None]:
    """The segments before the first one with a bad first page, and what is wrong with it."""
    for index, segment in enumerate(segments):
        try:
            validate_segment(segment, segment_size)
        except BackupCorrupt as exc:
            return segments[:index], str(exc)
    return segments, None


def reached(read: WalRead, backup: BaseBackup) -> str:
    """The last commit a pass read before it stopped (for error messages)."""
    if read.last_commit is not None:
        return fmt_time(read.last_commit)
    return f"{fmt_time(backup.stop_time)} (the end of the base backup; no commits after it)"


def reach(tools: PgTools, segments: list[WalSegment], backup: BaseBackup, segment_size: int) -> str:
    """The last commit replay can reach through ``segments`` (for error messages)."""
    if not segments:
        return reached(WalRead(), backup)
    read = read_wal(tools, RecoveryTarget(kind="immediate"), segments, segment_size, None)
    return reached(read, backup)


def blocker(
    tools: PgTools, read: WalRead, run: list[WalSegment], backup: BaseBackup, size: int
) -> tuple[str | None, str]:
    """What ends the readable WAL of ``run`` (the damage, not the target, is the cause) and
    the latest time replay reaches. A bad first page keeps its precise message."""
    upto = run if read.damage is None else [s for s in run if s.segno <= read.damage.segment.segno]
    readable, damage = readable_prefix(upto, size)
    if damage is None and read.damage is not None:
        return read.damage.describe(), reached(read, backup)
    if damage is None:  # nothing unreadable: the pass itself says how far it got
        return None, reached(read, backup)
    return damage, reach(tools, readable, backup, size)
