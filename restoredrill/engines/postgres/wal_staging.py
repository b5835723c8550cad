"""The sandbox's WAL staging directory: exactly the segments the plan read (replay can
reach no others), each a symbolic link to the archive's own file when it can be read in
place, a decompressed copy otherwise.

Reading in place saves a full copy of the WAL (about as long as a third of the replay on
a 1 GB restore). It stays read-only for the archive: the server's restore_command is
`cp <staging>/%f %p`, which only reads through the link, archive_mode is off, and nothing
here ever changes a linked file (no chown through a link; a link is removed, never its
target)."""

from __future__ import annotations

import os
from pathlib import Path

from restoredrill.levers import lever_off
from restoredrill.models import WalSegment
from restoredrill.osuser import RunAs
from restoredrill.storage.cache import PrefetchCache
from restoredrill.storage.compression import decompress_to


def stage_wal(
    segments: list[WalSegment], dest: Path, run_as: RunAs, cache: PrefetchCache | None = None
) -> int:
    """Stage ``segments`` in ``dest``; returns their (uncompressed) bytes. Segments of a
    remote archive are fetched into ``cache`` first (in parallel; the plan usually has
    already), copied out of it and dropped from it: one copy on disk is enough."""
    if cache is not None:
        cache.ensure(s.path for s in segments)
    total = 0
    for segment in segments:
        source = Path(os.path.abspath(segment.path))  # a relative archive would dangle
        target = dest / segment.name
        cached = cache is not None and cache.owns(segment.path)
        if not cached and _in_place(segment, source, run_as):
            target.symlink_to(source)
            total += source.stat().st_size
        else:
            total += decompress_to(source, target)
            run_as.own(target)
            if cached:
                source.unlink(missing_ok=True)
    return total


def _in_place(segment: WalSegment, source: Path, run_as: RunAs) -> bool:
    if segment.compression != "none" or lever_off("in-place") or not run_as.sees_host:
        return False
    return source.is_file() and run_as.can_read(source)
