"""The dry run: choose a base backup, work out the WAL a recovery needs, and run the
preflight checks. Nothing is provisioned here, and a failed check says exactly why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from restoredrill.engines.pg_tools import PgTools
from restoredrill.errors import BackupCorrupt
from restoredrill.lsn import format_lsn, segment_name, segment_of
from restoredrill.models import (
    BaseBackup,
    CheckStatus,
    PreflightCheck,
    RecoveryTarget,
    RestorePlan,
    WalRange,
    WalSegment,
)
from restoredrill.sandboxes.diskspace import space_checks
from restoredrill.sources.base import SelfPlanning, Source
from restoredrill.sources.file import Catalogue
from restoredrill.sources.wal_archive import TimelineStep, WalArchive, validate_segment
from restoredrill.sources.wal_scan import WalEvent, scan

HEAD_LOOKBACK = 8
STOP_TIME_RESOLUTION = timedelta(seconds=1)


@dataclass
class PlanOutcome:
    """The printable plan, plus what a restore needs to carry it out."""

    plan: RestorePlan
    segments: list[WalSegment] = field(default_factory=list)


@dataclass
class _Checks:
    items: list[PreflightCheck] = field(default_factory=list)

    def ok(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.OK, detail=detail))

    def fail(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.FAILED, detail=detail))

    def warn(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.WARNING, detail=detail))


def _fmt_time(value: datetime | None) -> str:
    return value.isoformat() if value else "unknown"


@dataclass
class _Stop:
    """Where replay will stop, found by scanning the WAL for the target."""

    lsn: int | None = None
    last_commit: datetime | None = None
    last_commit_lsn: int | None = None
    found: bool = False


def _matches(target: RecoveryTarget, event: WalEvent) -> bool:
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


def _locate(tools: PgTools, target: RecoveryTarget, segments: list[WalSegment]) -> _Stop:
    stop = _Stop()
    for event in scan(tools, segments):
        if _matches(target, event):
            stop.lsn, stop.found = event.lsn, True
            stopping_commit = target.kind == "xid" and target.inclusive and event.kind == "commit"
            if stopping_commit:
                stop.last_commit, stop.last_commit_lsn = event.time, event.lsn
            return stop
        if event.kind == "commit":
            stop.last_commit, stop.last_commit_lsn = event.time, event.lsn
    return stop


def _head(tools: PgTools, archive: WalArchive, steps: list[TimelineStep], head: int) -> _Stop:
    """Last record and last commit at the archive head (looking back a few segments)."""
    result = _Stop()
    for segno in range(head, max(head - HEAD_LOOKBACK, -1), -1):
        segment = archive.segment_at(steps, segno)
        if segment is None:
            break
        events = list(scan(tools, [segment], all_records=True))
        if result.lsn is None and events:
            result.lsn = events[-1].lsn
        commits = [e for e in events if e.kind == "commit"]
        if commits:
            result.last_commit, result.last_commit_lsn = commits[-1].time, commits[-1].lsn
            break
    return result


def _choose_backup(
    target: RecoveryTarget, backups: list[BaseBackup], target_lsn: int | None
) -> BaseBackup | None:
    """The newest backup that ends before the target."""
    candidates: list[BaseBackup]
    if target.kind == "time":
        assert target.time is not None
        # Stop times are recorded in whole seconds: a backup stopped at 12:00:00 may have
        # ended at 12:00:00.9, and everything it contains is restored whatever the target.
        # Only a backup whose recorded second is over before the target surely precedes it.
        candidates = [
            b
            for b in backups
            if b.stop_time is not None and b.stop_time + STOP_TIME_RESOLUTION <= target.time
        ]
    elif target_lsn is not None:
        candidates = [b for b in backups if b.end_lsn <= target_lsn]
    else:
        candidates = list(backups)
    return max(candidates, key=lambda b: b.end_lsn, default=None)


def _backup_detail(backup: BaseBackup) -> str:
    fmt = backup.format if backup.compression == "none" else f"{backup.format}.{backup.compression}"
    return (
        f"{backup.path} ({fmt}, label {backup.label!r}, timeline {backup.timeline}, "
        f"ends at {format_lsn(backup.end_lsn)} / {_fmt_time(backup.stop_time)})"
    )


def plan_restore(
    source: Source | SelfPlanning, target: RecoveryTarget, tools: PgTools
) -> PlanOutcome:
    """Plan from any source: a directory, S3 or pgBackRest through their catalogue, RDS by
    asking the provider (it keeps the backups and the WAL to itself)."""
    if not isinstance(source, Source):
        return PlanOutcome(source.plan(target))
    catalogue = source.catalogue()
    return _plan(catalogue, source.describe(), target, tools)


def _plan(
    catalogue: Catalogue, described: str, target: RecoveryTarget, tools: PgTools
) -> PlanOutcome:
    checks = _Checks()
    archive = catalogue.archive

    def outcome(**extra: object) -> PlanOutcome:
        fields: dict[str, object] = {
            "engine": "postgres",
            "source": described,
            "target": target,
            "base_backup": None,
            "wal_range": None,
            "target_timeline": None,
            "archive_head_lsn": None,
            "archive_head_time": None,
            "checks": checks.items,
        }
        fields.update({k: v for k, v in extra.items() if k != "segments"})
        segments = extra.get("segments", [])
        assert isinstance(segments, list)
        return PlanOutcome(RestorePlan.model_validate(fields), segments)

    if not catalogue.backups:
        checks.fail("base backup", f"no base backups found in {described}")
        return outcome()

    # Targets known only by their position in the WAL (xid, restore point) are located by
    # scanning from the oldest backup; the newest backup ending before them is then chosen.
    target_lsn = target.lsn if target.kind == "lsn" else None
    if target.kind in ("xid", "name"):
        oldest = catalogue.backups[0]
        steps = _steps_for(archive, oldest)
        head = archive.head_segno(steps)
        first = segment_of(oldest.start_lsn, archive.segment_size)
        present, gaps = archive.chain(steps, first, head if head is not None else first)
        contiguous = _contiguous(present, first)
        located = _locate(tools, target, contiguous)
        if not located.found:
            what = (
                f"restore point {target.name!r}" if target.kind == "name" else f"xid {target.xid}"
            )
            readable, damage = _readable(contiguous, archive.segment_size)
            blocker = damage or (f"missing WAL segment {gaps[0]}" if gaps else None)
            if blocker is not None:  # the WAL beyond it cannot be searched, nor replayed
                checks.fail(
                    "WAL chain",
                    f"{what} not found before {blocker}; latest reachable time "
                    f"{_reach(tools, readable, oldest)}",
                )
                return outcome()
            checks.fail(
                "target in archive",
                f"{what} not found in the WAL archive after the oldest base backup "
                f"(last commit seen {_fmt_time(located.last_commit)})",
            )
            return outcome()
        target_lsn = located.lsn

    backup = _choose_backup(target, catalogue.backups, target_lsn)
    if backup is None:
        oldest = catalogue.backups[0]
        resolution = ""
        if target.time and oldest.stop_time and oldest.stop_time <= target.time:
            resolution = " (backup end times are recorded to the second)"
        checks.fail(
            "target after backup end",
            f"target {target.describe()} is before the end of the oldest base backup "
            f"({format_lsn(oldest.end_lsn)} / {_fmt_time(oldest.stop_time)}){resolution}",
        )
        return outcome()
    checks.ok("base backup", _backup_detail(backup))
    if backup.stop_time_source != "backup-history" and target.kind == "time":
        checks.warn(
            "backup end time",
            f"no backup history file in the archive; end time taken from the manifest "
            f"({backup.stop_time_source})",
        )

    steps = _steps_for(archive, backup)
    target_timeline = steps[-1].timeline
    if target_timeline != backup.timeline:
        checks.ok(
            "timeline",
            f"following timeline {backup.timeline} → {target_timeline} (history files present)",
        )
    else:
        checks.ok("timeline", f"timeline {target_timeline}")

    first = segment_of(backup.start_lsn, archive.segment_size)
    head = archive.head_segno(steps)
    if head is None or head < segment_of(backup.end_lsn, archive.segment_size):
        first_missing = segment_name(
            backup.timeline, segment_of(backup.end_lsn, archive.segment_size)
        )
        checks.fail(
            "WAL chain",
            f"the archive lacks the WAL the base backup needs to become consistent "
            f"(first missing segment {first_missing})",
        )
        return outcome(base_backup=backup, target_timeline=target_timeline)
    present, missing = archive.chain(steps, first, head)
    contiguous = _contiguous(present, first)

    head_info = _head(tools, archive, steps, head)
    extra: dict[str, object] = {
        "base_backup": backup,
        "target_timeline": target_timeline,
        "archive_head_lsn": head_info.lsn,
        "archive_head_time": head_info.last_commit,
    }

    # Where does replay stop? That bounds the segments we need and must precede any gap.
    if target.kind == "immediate":
        stop = _Stop(lsn=backup.end_lsn, found=True)
    elif target.kind == "latest":
        stop = _Stop(lsn=head_info.lsn, last_commit=head_info.last_commit, found=True)
        if missing:
            stop.found = False
    elif target.kind == "lsn":
        assert target.lsn is not None
        if head_info.lsn is not None and target.lsn > head_info.lsn:
            checks.fail(
                "target before archive head",
                f"target LSN {format_lsn(target.lsn)} is after the archive head "
                f"{format_lsn(head_info.lsn)} (latest reachable time "
                f"{_fmt_time(head_info.last_commit)})",
            )
            return outcome(**extra)
        stop = _Stop(lsn=target.lsn, found=True)
    else:
        stop = _locate(tools, target, contiguous)

    if not stop.found:
        # A damaged segment ends the readable WAL just like a missing one does (pg_waldump
        # stops there), so say which, rather than blaming the target.
        readable, damage = _readable(contiguous, archive.segment_size)
        if damage is not None:
            checks.fail(
                "WAL segments",
                f"{damage}; latest reachable time {_reach(tools, readable, backup)}",
            )
        elif missing:
            checks.fail(
                "WAL chain",
                f"missing WAL segment {missing[0]} before the target; latest reachable time "
                f"{_reach(tools, contiguous, backup)}",
            )
        else:
            checks.fail(
                "target before archive head",
                f"target {target.describe()} is after the archive head: latest reachable "
                f"time {_fmt_time(head_info.last_commit)}",
            )
        return outcome(**extra)
    if target.kind == "time":
        checks.ok("target before archive head", f"archive head {_fmt_time(head_info.last_commit)}")

    # 'latest' replays everything up to the archive head (even if its last segment cannot
    # be read by pg_waldump: validation below then says why).
    if target.kind == "latest" or stop.lsn is None:
        last = head
    else:
        last = segment_of(stop.lsn, archive.segment_size)
    needed = [s for s in contiguous if s.segno <= last]
    if not needed or needed[-1].segno < last:
        gap = missing[0] if missing else "?"
        checks.fail(
            "WAL chain",
            f"missing WAL segment {gap} before the target; latest reachable time "
            f"{_reach(tools, contiguous, backup)}",
        )
        return outcome(**extra)
    try:
        identifiers = {validate_segment(s, archive.segment_size) for s in needed}
    except BackupCorrupt as exc:
        readable, _damage = _readable(needed, archive.segment_size)
        checks.fail(
            "WAL segments", f"{exc}; latest reachable time {_reach(tools, readable, backup)}"
        )
        return outcome(**extra)
    # Replay reads up to the first record at/after the stop point and all of it: for an LSN
    # in the unused tail of a segment (the LSN pg_switch_wal() returns), or a stop record
    # crossing a segment boundary, that is in the next segment. Stage it when we have it.
    following = next((s for s in contiguous if s.segno == last + 1), None)
    if following is not None and target.kind != "latest":
        try:
            if validate_segment(following, archive.segment_size) in identifiers:
                needed.append(following)
        except BackupCorrupt:
            pass  # not needed unless the stop record crosses into it; replay would say so
    if len(identifiers) > 1:
        checks.fail("WAL segments", "the segments come from more than one cluster (system ids)")
        return outcome(**extra)
    later_gap = [m for m in missing if m > needed[-1].name]
    checks.ok(
        "WAL chain",
        f"{len(needed)} segment(s) {needed[0].name} … {needed[-1].name}, continuous",
    )
    if later_gap:
        checks.warn("WAL chain", f"gap after the target at {later_gap[0]} (not needed here)")

    wal_range = WalRange(
        first=needed[0].name,
        last=needed[-1].name,
        segments=len(needed),
        bytes=len(needed) * archive.segment_size,
        timelines=sorted({s.timeline for s in needed}),
    )
    expected = stop.last_commit
    checks.items += space_checks(backup.size_bytes, wal_range.bytes)  # a warning, never a failure
    return outcome(
        **extra, wal_range=wal_range, segments=needed, expected_last_commit_time=expected
    )


def _readable(segments: list[WalSegment], segment_size: int) -> tuple[list[WalSegment], str | None]:
    """The segments before the first damaged one, and what is wrong with that one."""
    for index, segment in enumerate(segments):
        try:
            validate_segment(segment, segment_size)
        except BackupCorrupt as exc:
            return segments[:index], str(exc)
    return segments, None


def _reach(tools: PgTools, segments: list[WalSegment], backup: BaseBackup) -> str:
    """The last commit replay can reach through ``segments`` (for error messages)."""
    reach = _locate(tools, RecoveryTarget(kind="immediate"), segments)
    if reach.last_commit is not None:
        return _fmt_time(reach.last_commit)
    return f"{_fmt_time(backup.stop_time)} (the end of the base backup; no commits after it)"


def _steps_for(archive: WalArchive, backup: BaseBackup) -> list[TimelineStep]:
    reachable = archive.reachable_timelines(backup.timeline, backup.start_lsn)
    return archive.path_to(max(reachable, default=backup.timeline))


def _contiguous(present: list[WalSegment], first: int) -> list[WalSegment]:
    """The unbroken run of segments starting at ``first``."""
    run: list[WalSegment] = []
    expected = first
    for segment in present:
        if segment.segno != expected:
            break
        run.append(segment)
        expected += 1
    return run
