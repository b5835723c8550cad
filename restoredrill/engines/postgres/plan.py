"""The dry run: choose a base backup, work out the WAL a recovery needs, and run the
preflight checks. Nothing is provisioned here, and a failed check says exactly why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from restoredrill.engines.postgres.backup_choice import backup_detail, choose_backup
from restoredrill.engines.postgres.majors import match_server
from restoredrill.engines.postgres.source import Catalogue
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.engines.postgres.wal_archive import (
    TimelineStep,
    WalArchive,
    contiguous_run,
    validate_segment,
)
from restoredrill.engines.postgres.wal_conflicts import conflicting_copies, orphan_complaint
from restoredrill.engines.postgres.wal_verify import (
    WalRead,
    blocker,
    fmt_time,
    head_of,
    locate,
    reach,
    reached,
    read_wal,
    readable_prefix,
)
from restoredrill.errors import BackupCorrupt, ConfigError
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
from restoredrill.shared_work import SharedWork
from restoredrill.sources.base import SelfPlanning, Source


@dataclass
class PlanOutcome:
    """The printable plan, plus what a restore needs to carry it out."""

    plan: RestorePlan
    segments: list[WalSegment] = field(default_factory=list)
    tools: PgTools | None = None  # the binaries of the backup's major, to restore with


@dataclass
class _Checks:
    items: list[PreflightCheck] = field(default_factory=list)

    def ok(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.OK, detail=detail))

    def fail(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.FAILED, detail=detail))

    def warn(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.WARNING, detail=detail))


def plan_restore(
    source: Source | SelfPlanning,
    target: RecoveryTarget,
    tools: PgTools,
    shared: SharedWork | None = None,
) -> PlanOutcome:
    """Plan from any source: a directory, S3 or pgBackRest through their catalogue, RDS by
    asking the provider (it keeps the backups and the WAL to itself). ``shared``: the scan
    for an xid is done once for restores planned beside this one (recover's two)."""
    if not isinstance(source, Source):
        if target.timeline is not None:
            raise ConfigError("--timeline needs a WAL archive; this source plans its own recovery")
        return PlanOutcome(source.plan(target))
    catalogue = source.catalogue()
    return _plan(catalogue, source.describe(), target, tools, shared)


def _plan(
    catalogue: Catalogue,
    described: str,
    target: RecoveryTarget,
    tools: PgTools,
    shared: SharedWork | None = None,
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
        return PlanOutcome(RestorePlan.model_validate(fields), segments, tools)

    if not catalogue.backups:
        checks.fail("base backup", f"no base backups found in {described}")
        return outcome()

    # Targets known only by their position in the WAL (xid, restore point) are located by
    # scanning from the oldest backup; the newest backup ending before them is then chosen.
    target_lsn = target.lsn if target.kind == "lsn" else None
    located: WalRead | None = None
    located_steps: list[TimelineStep] = []
    if target.kind in ("xid", "name"):
        oldest = catalogue.backups[0]
        # the scan reads the WAL with pg_waldump: the backups' major's, not the one found first
        scanner = match_server(oldest.pg_version, tools)
        if isinstance(scanner, str):
            checks.fail("server version", scanner)
            return outcome(base_backup=oldest)
        steps = _steps_for(archive, oldest, target.timeline)
        head = archive.head_segno(steps)
        first = segment_of(oldest.start_lsn, archive.segment_size)
        present, gaps = archive.chain(steps, first, head if head is not None else first)
        contiguous = contiguous_run(present, first)
        located = locate(scanner, target, contiguous, archive.segment_size, head, shared)
        if not located.found:
            what = f"xid {target.xid}" if target.kind == "xid" else f"restore point {target.name!r}"
            damage, reach_time = blocker(scanner, located, contiguous, oldest, archive.segment_size)
            if damage is not None:  # the damage is the cause: the WAL past it is unreadable
                checks.fail(
                    "WAL segments",
                    f"{damage}; {what} cannot be searched for past it; "
                    f"latest reachable time {reach_time}",
                )
                return outcome()
            if gaps:  # the WAL beyond the gap cannot be searched, nor replayed
                checks.fail(
                    "WAL chain",
                    f"{what} not found before missing WAL segment {gaps[0]}; "
                    f"latest reachable time {reach_time}",
                )
                return outcome()
            checks.fail(
                "target in archive",
                f"{what} not found in the WAL archive after the oldest base backup "
                f"(last commit seen {fmt_time(located.last_commit)})",
            )
            return outcome()
        located_steps = steps
        target_lsn = located.lsn

    backup = choose_backup(target, catalogue.backups, target_lsn)
    if backup is None:
        oldest = catalogue.backups[0]
        resolution = ""
        if target.time and oldest.stop_time and oldest.stop_time <= target.time:
            resolution = " (backup end times are recorded to the second)"
        checks.fail(
            "target after backup end",
            f"target {target.describe()} is before the end of the oldest base backup "
            f"({format_lsn(oldest.end_lsn)} / {fmt_time(oldest.stop_time)}){resolution}",
        )
        return outcome()
    checks.ok("base backup", backup_detail(backup))
    server = match_server(backup.pg_version, tools)
    if isinstance(server, str):
        checks.fail("server version", server)
        return outcome(base_backup=backup)
    if server is not tools:
        checks.ok("server version", f"PostgreSQL {server.major_name} from {server.bindir}")
    tools = server
    if backup.stop_time_source != "backup-history" and target.kind == "time":
        checks.warn(
            "backup end time",
            f"no backup history file in the archive; end time taken from the manifest "
            f"({backup.stop_time_source})",
        )

    steps = _steps_for(archive, backup, target.timeline)
    target_timeline = steps[-1].timeline
    if target.timeline is not None and target.timeline not in archive.reachable_timelines(
        backup.timeline, backup.start_lsn
    ):
        checks.fail(
            "timeline",
            f"--timeline {target.timeline} cannot be reached from the base backup on timeline "
            f"{backup.timeline} (no {target.timeline:08X}.history leading to it)",
        )
        return outcome(base_backup=backup)
    orphan = None if target.timeline is not None else orphan_complaint(archive, steps)
    if orphan is not None:
        checks.fail("timeline", orphan)
        return outcome(base_backup=backup, target_timeline=target_timeline)
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
    contiguous = contiguous_run(present, first)
    conflict = conflicting_copies(archive, contiguous)
    if conflict is not None:
        checks.fail("WAL segments", conflict)
        return outcome(base_backup=backup, target_timeline=target_timeline)

    # One pass of pg_waldump reads every record replay needs (CRCs checked) and finds
    # where it stops. xid/name targets were located that way already, from the oldest backup.
    size = archive.segment_size
    if located is not None and located_steps == steps:
        read = located
    elif target.kind in ("immediate", "lsn"):
        until = backup.end_lsn if target.kind == "immediate" else target.lsn
        assert until is not None
        scope = [s for s in contiguous if s.segno <= segment_of(until, size) + 1]
        read = read_wal(tools, RecoveryTarget(kind="lsn", lsn=until), scope, size, head)
    else:
        read = read_wal(tools, target, contiguous, size, head)
    head_info = head_of(tools, archive, steps, head)
    extra: dict[str, object] = {
        "base_backup": backup,
        "target_timeline": target_timeline,
        "archive_head_lsn": head_info.lsn,
        "archive_head_time": head_info.last_commit,
    }

    # Where does replay stop? That bounds the segments we need and must precede any gap.
    stop_lsn: int | None = read.lsn
    if target.kind == "immediate":
        stop_lsn = backup.end_lsn
    elif target.kind == "lsn":
        assert target.lsn is not None
        stop_lsn = target.lsn
        if head_info.lsn is not None and target.lsn > head_info.lsn:
            checks.fail(
                "target before archive head",
                f"target LSN {format_lsn(target.lsn)} is after the archive head "
                f"{format_lsn(head_info.lsn)} (latest reachable time "
                f"{fmt_time(head_info.last_commit)})",
            )
            return outcome(**extra)
    found = read.found if target.kind in ("time", "xid", "name") else True
    if target.kind == "latest":
        found = not missing

    if read.damage is not None or not found:
        # A damaged segment ends the readable WAL just like a missing one does (pg_waldump
        # stops there), so say which, rather than blaming the target.
        damage, reach_time = blocker(tools, read, contiguous, backup, size)
        if damage is not None:
            checks.fail("WAL segments", f"{damage}; latest reachable time {reach_time}")
        elif missing:
            checks.fail(
                "WAL chain",
                f"missing WAL segment {missing[0]} before the target; latest reachable time "
                f"{reached(read, backup)}",
            )
        else:
            checks.fail(
                "target before archive head",
                f"target {target.describe()} is after the archive head: latest reachable "
                f"time {fmt_time(head_info.last_commit)}",
            )
        return outcome(**extra)
    if target.kind == "time":
        checks.ok("target before archive head", f"archive head {fmt_time(head_info.last_commit)}")
    # 'latest' replays everything up to the archive head (even if its last segment cannot
    # be read by pg_waldump: validation below then says why).
    if target.kind == "latest" or stop_lsn is None:
        last = head
    else:
        last = segment_of(stop_lsn, archive.segment_size)
    needed = [s for s in contiguous if s.segno <= last]
    if not needed or needed[-1].segno < last:
        gap = missing[0] if missing else "?"
        checks.fail(
            "WAL chain",
            f"missing WAL segment {gap} before the target; latest reachable time "
            f"{reach(tools, contiguous, backup, archive.segment_size)}",
        )
        return outcome(**extra)
    try:
        identifiers = {validate_segment(s, archive.segment_size) for s in needed}
    except BackupCorrupt as exc:
        readable, _damage = readable_prefix(needed, archive.segment_size)
        checks.fail(
            "WAL segments",
            f"{exc}; latest reachable time {reach(tools, readable, backup, archive.segment_size)}",
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
    if read.complete:  # pg_waldump read them all, so replay can (CRCs and page headers)
        reach_to = "the archive head" if target.kind == "latest" else "the stop point"
        checks.ok("WAL records", f"every record from {needed[0].name} to {reach_to} read intact")

    wal_range = WalRange(
        first=needed[0].name,
        last=needed[-1].name,
        segments=len(needed),
        bytes=len(needed) * archive.segment_size,
        timelines=sorted({s.timeline for s in needed}),
    )
    checks.items += space_checks(backup.size_bytes, wal_range.bytes)  # a warning, never a failure
    return outcome(
        **extra,
        wal_range=wal_range,
        segments=needed,
        expected_last_commit_time=_expected_commit(target, read, head_info),
        expected_end_lsn=_expected_end(target, read, head_info, backup),
        logs_checked=read.complete,
    )


def _steps_for(archive: WalArchive, backup: BaseBackup, timeline: int | None) -> list[TimelineStep]:
    """The timeline path replay follows: the newest reachable, or the one asked for."""
    if timeline is not None:
        return archive.path_to(timeline)
    reachable = archive.reachable_timelines(backup.timeline, backup.start_lsn)
    return archive.path_to(max(reachable, default=backup.timeline))


def _expected_commit(target: RecoveryTarget, read: WalRead, head: WalRead) -> datetime | None:
    """The last commit the restore must contain (None: not known from the plan)."""
    if target.kind == "latest":
        return head.last_commit
    return read.last_commit if target.kind in ("time", "xid", "name") else None


def _expected_end(
    target: RecoveryTarget, read: WalRead, head: WalRead, backup: BaseBackup
) -> int | None:
    """Where replay must reach: the end of the archive's last record for 'latest', else the
    end of the last commit at or before the target (at least the end of the backup)."""
    if target.kind == "latest":
        return head.last_end
    return max(read.last_commit_end or 0, backup.end_lsn)
