"""Archive rules, offline: is the WAL archive continuous, is the newest base backup
younger than the policy allows, and does retention keep point-in-time recovery reaching back
the recovery window? (For the file source — a directory of base backups and a cp-style WAL
archive — and a barman-cloud store.)"""

from __future__ import annotations

from datetime import datetime

from restoredrill.checks.registry import REGISTRY, Facts, Finding, Policy, failed, ok, warning
from restoredrill.durations import format_duration
from restoredrill.engines.postgres.source import Catalogue
from restoredrill.lsn import segment_of
from restoredrill.models import BaseBackup

ENGINE = "archive"


def _catalogue(facts: Facts) -> Catalogue | None:
    value = facts.data.get("catalogue")
    return value if isinstance(value, Catalogue) else None


def _newest(backups: list[BaseBackup]) -> BaseBackup | None:
    return max(backups, key=lambda b: b.end_lsn, default=None)


@REGISTRY.rule(ENGINE, "base_backup_age", "the newest base backup is younger than the policy")
def base_backup_age(facts: Facts, policy: Policy) -> Finding | None:
    catalogue = _catalogue(facts)
    if catalogue is None or not facts.data.get("has_backups_dir"):
        return None
    newest = _newest(catalogue.backups)
    if newest is None:
        return failed("no base backups found")
    when: datetime = newest.stop_time or newest.start_time
    age = max(0.0, (policy.now - when).total_seconds())
    detail = f"newest base backup {newest.label!r} ({newest.path}) is {format_duration(age)} old"
    limit = policy.max_backup_age_seconds
    if limit is not None and age > limit:
        return failed(f"{detail}: older than the policy {format_duration(limit)}", round(age, 1))
    return ok(detail, round(age, 1))


@REGISTRY.rule(
    ENGINE, "wal_continuity", "the WAL archive is continuous from the backups to its head"
)
def wal_continuity(facts: Facts, policy: Policy) -> Finding | None:
    catalogue = _catalogue(facts)
    if catalogue is None:
        return None
    archive = catalogue.archive
    if not archive.segments:
        return failed("the WAL archive holds no segments")
    newest = _newest(catalogue.backups)
    oldest = min(catalogue.backups, key=lambda b: b.start_lsn, default=None)
    timeline = max(archive.segments)
    steps = archive.path_to(timeline)
    head = archive.head_segno(steps)
    if head is None:
        return failed(f"no segments on timeline {timeline}'s path")
    if oldest is not None:
        first = segment_of(oldest.start_lsn, archive.segment_size)
    else:
        first = min(min(per) for per in archive.segments.values())
    present, missing = archive.chain(steps, first, head)
    span = f"{len(present)} segment(s) up to the head {present[-1].name if present else '?'}"
    if not missing:
        return ok(f"continuous: {span}", 0)
    if newest is not None:
        after_newest = segment_of(newest.start_lsn, archive.segment_size)
        blocking = [name for name in missing if _segno(name, archive.segment_size) >= after_newest]
        if not blocking:
            return warning(
                f"{len(missing)} segment(s) missing between older backups (first {missing[0]}): "
                f"their point-in-time window is shorter; the newest backup reaches the head",
                len(missing),
            )
        return failed(
            f"{len(blocking)} segment(s) missing after the newest base backup (first "
            f"{blocking[0]}): recovery stops there, the head is unreachable",
            len(missing),
        )
    return failed(f"{len(missing)} segment(s) missing (first {missing[0]})", len(missing))


def _segno(name: str, segment_size: int) -> int:
    from restoredrill.lsn import parse_segment_name

    return parse_segment_name(name, segment_size)[1]


@REGISTRY.rule(ENGINE, "archive_head_age", "the newest archived segment is recent (RPO)")
def archive_head_age(facts: Facts, policy: Policy) -> Finding | None:
    catalogue = _catalogue(facts)
    newest_mtime = facts.data.get("newest_segment_mtime")
    if catalogue is None or not isinstance(newest_mtime, datetime):
        return None
    age = max(0.0, (policy.now - newest_mtime).total_seconds())
    detail = f"newest segment archived {format_duration(age)} ago"
    if policy.rpo_seconds is not None and age > policy.rpo_seconds:
        return warning(
            f"{detail}, longer than the RPO {format_duration(policy.rpo_seconds)} (an idle "
            f"database archives nothing: check live with --dsn)",
            round(age, 1),
        )
    return ok(detail, round(age, 1))


@REGISTRY.rule(
    ENGINE,
    "recovery_window",
    "retention keeps point-in-time recovery reaching back the recovery window",
)
def recovery_window(facts: Facts, policy: Policy) -> Finding | None:
    """How far back a restore can aim: the end of the oldest base backup whose WAL is
    continuous to the head (retention — barman-cloud-backup-delete, a cron job — removes
    older backups and their WAL; the store does not record the policy, so its effect is
    measured)."""
    catalogue = _catalogue(facts)
    if catalogue is None or not facts.data.get("has_backups_dir") or not catalogue.backups:
        return None  # base_backup_age says there are none
    limit = policy.recovery_window_seconds
    oldest = _oldest_restorable(catalogue)
    if oldest is None:
        if limit is None:
            return None  # wal_continuity says why no backup reaches the head
        return failed(
            f"no base backup has continuous WAL to the archive head: point-in-time recovery "
            f"cannot reach back the recovery window {format_duration(limit)}",
            0,
        )
    earliest = oldest.stop_time or oldest.start_time
    window = max(0.0, (policy.now - earliest).total_seconds())
    detail = (
        f"point-in-time recovery reaches back {format_duration(window)}, to the end of "
        f"{oldest.label!r} ({oldest.path}) at {earliest.isoformat()}"
        + ("" if oldest.stop_time else " (its start: its end time is unknown)")
    )
    if limit is None:
        return ok(detail, round(window, 1))
    if window < limit:
        return failed(
            f"{detail}: shorter than the recovery window {format_duration(limit)} (retention "
            f"removed older backups and their WAL, or backups started too recently)",
            round(window, 1),
        )
    return ok(f"{detail} (recovery window {format_duration(limit)})", round(window, 1))


def _oldest_restorable(catalogue: Catalogue) -> BaseBackup | None:
    """The oldest backup from whose start the WAL is continuous up to the archive head."""
    archive = catalogue.archive
    if not archive.segments:
        return None
    steps = archive.path_to(max(archive.segments))
    head = archive.head_segno(steps)
    if head is None:
        return None
    for backup in sorted(catalogue.backups, key=lambda b: b.start_lsn):
        first = segment_of(backup.start_lsn, archive.segment_size)
        _present, missing = archive.chain(steps, first, head)
        if not missing:
            return backup
    return None
