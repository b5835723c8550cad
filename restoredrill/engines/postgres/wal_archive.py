"""Catalogue of a WAL archive (a directory, an S3 prefix) as a cp-style archive_command
writes it: segments per timeline (optionally .gz/.lz4/.zst), timeline .history files,
backup history files; plus the arithmetic of which segments a recovery needs and where
the chain breaks."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from restoredrill.engines.postgres.basebackups import BackupHistory
from restoredrill.errors import BackupCorrupt, ConfigError, InvalidTarget
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE, parse_lsn, parse_segment_name, segment_of
from restoredrill.models import WalSegment
from restoredrill.storage.base import Storage
from restoredrill.storage.cache import ensure_local
from restoredrill.storage.compression import compression_of, open_decompressed, strip_suffix
from restoredrill.storage.local import LocalStorage

_HISTORY_RE = re.compile(r"^([0-9A-F]{8})\.history$")
_BACKUP_RE = re.compile(r"^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$")
_LONG_HEADER = struct.Struct("<HHIQI4xQII")  # XLogLongPageHeaderData
XLP_LONG_HEADER = 0x0002


@dataclass(frozen=True)
class TimelineStep:
    """One timeline on the way to the target: its segments run from ``begin_lsn``
    (the parent's switch point) up to ``end_lsn`` (where the next timeline branched off)."""

    timeline: int
    begin_lsn: int
    end_lsn: int | None


@dataclass
class WalArchive:
    root: Path
    segments: dict[int, dict[int, WalSegment]] = field(default_factory=dict)
    histories: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    backup_histories: dict[int, BackupHistory] = field(default_factory=dict)
    segment_size: int = DEFAULT_SEGMENT_SIZE
    # (timeline, segno) -> the other copies of a segment present more than once (plain and
    # compressed): the plan compares them (wal_conflicts) rather than silently taking one.
    duplicates: dict[tuple[int, int], list[WalSegment]] = field(default_factory=dict)
    # name -> contents of the timeline .history files, which replay is given as they are
    history_files: dict[str, bytes] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # segment path -> its storage key

    # --- timelines -----------------------------------------------------------------

    def timelines(self) -> list[int]:
        return sorted(set(self.segments) | set(self.histories) | {1})

    def path_to(self, target_timeline: int) -> list[TimelineStep]:
        """Ancestry of ``target_timeline`` as steps, oldest first (from its .history)."""
        entries = self.histories.get(target_timeline, [])
        steps: list[TimelineStep] = []
        begin = 0
        for parent, switch in entries:
            steps.append(TimelineStep(parent, begin, switch))
            begin = switch
        steps.append(TimelineStep(target_timeline, begin, None))
        return steps

    def reachable_timelines(self, timeline: int, start_lsn: int) -> list[int]:
        """Timelines recovery can follow from a backup on ``timeline`` starting at
        ``start_lsn``: the backup's own, and descendants that branched off after it."""
        found = []
        for candidate in self.timelines():
            for step in self.path_to(candidate):
                if step.timeline == timeline and (step.end_lsn is None or step.end_lsn > start_lsn):
                    found.append(candidate)
                    break
        return found

    # --- segments --------------------------------------------------------------------

    def timeline_for_segment(self, steps: list[TimelineStep], segno: int) -> int:
        """PostgreSQL reads a segment from the newest timeline on the path that covers it."""
        chosen = steps[0].timeline
        for step in steps:
            if segment_of(step.begin_lsn, self.segment_size) <= segno:
                chosen = step.timeline
        return chosen

    def head_segno(self, steps: list[TimelineStep]) -> int | None:
        """Last segment of the contiguous chain is not needed here: the newest segment on
        the path, whichever timeline holds it."""
        best: int | None = None
        for step in steps:
            for segno in self.segments.get(step.timeline, {}):
                if self.timeline_for_segment(steps, segno) == step.timeline and (
                    best is None or segno > best
                ):
                    best = segno
        return best

    def chain(
        self, steps: list[TimelineStep], first: int, last: int
    ) -> tuple[list[WalSegment], list[str]]:
        """Segments first..last along the path, and the names of those missing."""
        present: list[WalSegment] = []
        missing: list[str] = []
        for segno in range(first, last + 1):
            timeline = self.timeline_for_segment(steps, segno)
            segment = self.segments.get(timeline, {}).get(segno)
            if segment is None:
                from restoredrill.lsn import segment_name

                missing.append(segment_name(timeline, segno, self.segment_size))
            else:
                present.append(segment)
        return present, missing

    def segment_at(self, steps: list[TimelineStep], segno: int) -> WalSegment | None:
        return self.segments.get(self.timeline_for_segment(steps, segno), {}).get(segno)


def read_history_file(path: Path) -> list[tuple[int, int]]:
    """Parse a timeline history file into (parent timeline, switch LSN) pairs."""
    return parse_history(path.read_text(), path.name)


def parse_history(text: str, name: str) -> list[tuple[int, int]]:
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            entries.append((int(parts[0]), parse_lsn(parts[1])))
        except (IndexError, ValueError, InvalidTarget) as exc:
            raise BackupCorrupt(f"{name}: unreadable timeline history line {line!r}") from exc
    return entries


def scan_archive(root: Path) -> WalArchive:
    """The WAL archive in the directory ``root``."""
    return scan_wal(LocalStorage(root))


def scan_wal(storage: Storage, cache: Path | None = None, flat: bool = True) -> WalArchive:
    """The WAL archive on ``storage``: the flat layout an archive_command writes, or with
    ``flat=False`` files in any subdirectory (Barman's wals/<timeline+log>/). A segment is
    read in place when the storage has it on this machine; otherwise its path is
    ``cache/<name>``, where a :class:`PrefetchCache` puts it when it is first read
    (``WalArchive.keys`` maps that path to the object's key)."""
    root = storage.local_path("")
    if root is not None and not root.is_dir():
        raise ConfigError(f"--wal-archive {root}: no such directory")
    archive = WalArchive(root if root is not None else cache or Path("."))
    for obj in storage.list():
        name = obj.name
        if flat and name != obj.key:
            continue  # not the flat layout an archive_command writes
        plain = strip_suffix(name)
        if match := _HISTORY_RE.match(plain):
            if name == plain:
                data = storage.read(obj.key)
                archive.histories[int(match.group(1), 16)] = parse_history(data.decode(), name)
                archive.history_files[name] = data
            continue
        if _BACKUP_RE.match(plain) and name == plain:
            history = BackupHistory(storage.read(obj.key).decode(errors="replace"))
            try:  # read both now, so a damaged file is reported here, by name
                start_lsn, _stop_lsn = history.start_lsn, history.stop_lsn
            except (KeyError, IndexError, ValueError, InvalidTarget) as exc:
                raise BackupCorrupt(f"{name}: unreadable backup history file ({exc})") from exc
            archive.backup_histories[start_lsn] = history
            continue
        try:
            timeline, segno = parse_segment_name(plain)
        except ValueError:
            continue  # .partial files, notes, anything else: not part of the chain
        path = storage.local_path(obj.key)
        if path is None:
            assert cache is not None, "a remote WAL archive needs a cache directory"
            path = cache / name
        segment = WalSegment(
            name=plain,
            timeline=timeline,
            segno=segno,
            path=str(path),
            compression=compression_of(Path(name)),
            size_bytes=obj.size,
        )
        archive.keys[segment.path] = obj.key
        per_timeline = archive.segments.setdefault(timeline, {})
        if segno in per_timeline:  # the same segment twice: prefer the uncompressed copy
            kept, other = per_timeline[segno], segment
            if kept.compression != "none" and segment.compression == "none":
                kept, other = segment, kept
            per_timeline[segno] = kept
            archive.duplicates.setdefault((timeline, segno), []).append(other)
            continue
        per_timeline[segno] = segment
    return archive


def all_segments(archive: WalArchive) -> list[WalSegment]:
    """Every segment file, duplicates included, in the order replay reads them."""
    found = [s for per in archive.segments.values() for s in per.values()]
    found += [s for copies in archive.duplicates.values() for s in copies]
    return sorted(found, key=lambda s: (s.segno, s.timeline))


def validate_segment(segment: WalSegment, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int | None:
    """Check a segment's long page header; returns its system identifier.

    Catches the usual archive damage before anything is provisioned: an empty file, a
    truncated copy, and a file that is not WAL or not the segment its name claims."""
    ensure_local([segment.path])  # remote WAL: fetched now (with the next few, in parallel)
    if segment.size_bytes == 0:
        raise BackupCorrupt(f"WAL segment {segment.name} is empty ({segment.path})")
    if segment.compression == "none" and segment.size_bytes != segment_size:
        raise BackupCorrupt(
            f"WAL segment {segment.name} is {segment.size_bytes} bytes, expected {segment_size}"
            " (truncated copy?)"
        )
    try:
        with open_decompressed(Path(segment.path)) as stream:
            header = stream.read(_LONG_HEADER.size)
    except (OSError, EOFError) as exc:
        raise BackupCorrupt(f"WAL segment {segment.name}: unreadable ({exc})") from exc
    if len(header) < _LONG_HEADER.size:
        raise BackupCorrupt(f"WAL segment {segment.name} is too short to be WAL")
    magic, info, tli, pageaddr, _rem, sysid, seg_size, _blcksz = _LONG_HEADER.unpack(header)
    expected_addr = segment.segno * segment_size
    if (
        not (info & XLP_LONG_HEADER)
        or magic & 0xFF00 != 0xD100
        or pageaddr != expected_addr
        or seg_size != segment_size
        or tli > segment.timeline
    ):
        raise BackupCorrupt(
            f"WAL segment {segment.name} is not a valid WAL segment (bad page header) "
            f"({segment.path})"
        )
    return int(sysid)


def page_magic(segment: WalSegment) -> int | None:
    """XLOG_PAGE_MAGIC of the segment's first page (which major wrote it); None when it
    cannot be read (validate_segment says why, where it matters)."""
    try:
        ensure_local([segment.path])
        with open_decompressed(Path(segment.path)) as stream:
            header = stream.read(_LONG_HEADER.size)
    except (OSError, EOFError):
        return None
    return int(_LONG_HEADER.unpack(header)[0]) if len(header) == _LONG_HEADER.size else None


def contiguous_run(present: list[WalSegment], first: int) -> list[WalSegment]:
    """The unbroken run of segments starting at ``first``."""
    run: list[WalSegment] = []
    expected = first
    for segment in present:
        if segment.segno != expected:
            break
        run.append(segment)
        expected += 1
    return run
