"""Archive contents that make "which WAL does replay read?" ambiguous: a segment present
twice with different contents, and a later timeline whose .history file is missing (replay
would silently stay on the old timeline)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from restoredrill.engines.postgres.wal_archive import TimelineStep, WalArchive
from restoredrill.errors import BackupCorrupt
from restoredrill.lsn import segment_name
from restoredrill.models import WalSegment
from restoredrill.storage.cache import ensure_local
from restoredrill.storage.compression import open_decompressed

CHUNK = 1 << 20


def _digest(segment: WalSegment) -> str:
    digest = hashlib.sha256()
    ensure_local([segment.path])  # a remote archive's copy: fetched into its cache
    try:
        with open_decompressed(Path(segment.path)) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    except (OSError, EOFError) as exc:
        raise BackupCorrupt(f"WAL segment {segment.name}: unreadable ({exc})") from exc
    return digest.hexdigest()


def conflicting_copies(archive: WalArchive, segments: list[WalSegment]) -> str | None:
    """A one-line complaint naming both files when one of ``segments`` is archived twice
    with different contents (identical copies are fine)."""
    for segment in segments:
        others = archive.duplicates.get((segment.timeline, segment.segno), [])
        if not others:
            continue
        try:
            mine = _digest(segment)
            for other in others:
                if _digest(other) != mine:
                    return (
                        f"WAL segment {segment.name} is archived twice with different contents: "
                        f"{segment.path} and {other.path}; restoredrill will not pick one"
                    )
        except BackupCorrupt as exc:
            return str(exc)
    return None


def orphan_timelines(archive: WalArchive, steps: list[TimelineStep]) -> list[tuple[int, str]]:
    """Timelines newer than the one replay will follow whose segments are archived but whose
    .history file is not: (timeline, its first segment's name)."""
    followed = steps[-1].timeline
    on_path = {step.timeline for step in steps}
    found = []
    for timeline, segments in sorted(archive.segments.items()):
        unknown = timeline not in on_path and timeline not in archive.histories
        if timeline > followed and unknown and segments:
            found.append((timeline, segment_name(timeline, min(segments), archive.segment_size)))
    return found


def orphan_complaint(archive: WalArchive, steps: list[TimelineStep]) -> str | None:
    orphans = orphan_timelines(archive, steps)
    if not orphans:
        return None
    timeline, first = orphans[0]
    followed = steps[-1].timeline
    return (
        f"timeline {timeline} has WAL segments in the archive (from {first}) but no "
        f"{timeline:08X}.history, so the restore would silently ignore it and stay on timeline "
        f"{followed}; put the history file back, or pass --timeline {followed} to follow "
        f"timeline {followed} on purpose"
    )
