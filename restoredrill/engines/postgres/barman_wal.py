"""The WAL of a barman-cloud store as a :class:`WalArchive`: ``wals/<timeline+log>/``
directories of segments (optionally compressed), backup history files beside them, timeline
history files at the top. Segments in a local directory are read in place; remote ones get
a path in a local cache and are fetched when the plan first reads them (``wal_remote``)."""

from __future__ import annotations

import re
from pathlib import Path

from restoredrill.engines.postgres.basebackups import BackupHistory
from restoredrill.engines.postgres.wal_archive import WalArchive, read_history_file
from restoredrill.errors import BackupCorrupt, ConfigError, InvalidTarget
from restoredrill.lsn import parse_segment_name
from restoredrill.models import WalSegment
from restoredrill.storage.base import Storage, StoredObject
from restoredrill.storage.cache import PrefetchCache
from restoredrill.storage.compression import compression_of, decompress_to, strip_suffix

_HISTORY = re.compile(r"^([0-9A-F]{8})\.history$")
_BACKUP = re.compile(r"^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$")
_SEGMENT = re.compile(r"^[0-9A-F]{24}$")
_HASH_DIR = re.compile(r"^[0-9A-F]{16}$")
_UNREAD = (".bz2", ".snappy", ".xz")  # barman-cloud-wal-archive can write these; we cannot


def catalogue_wal(
    storage: Storage,
    prefix: str,
    cache: Path,
    segment_size: int | None,
    workers: int = 8,
    prefetch: int = 8,
) -> tuple[WalArchive, PrefetchCache | None]:
    cache.mkdir(parents=True, exist_ok=True)
    archive = WalArchive(cache)
    if segment_size is not None:
        archive.segment_size = segment_size
    remote: dict[str, StoredObject] = {}  # cache path -> object, for segments not local
    for obj in storage.list(prefix):
        rel = obj.key[len(prefix) + 1 :]
        folder, _sep, name = rel.rpartition("/")
        if folder and not _HASH_DIR.match(folder):
            continue  # not barman-cloud's layout
        plain = strip_suffix(name)
        if name.endswith(_UNREAD) and _SEGMENT.match(name.rsplit(".", 1)[0]):
            raise ConfigError(
                f"{storage.describe(obj.key)}: compressed with {name.rsplit('.', 1)[1]}, which "
                "restoredrill does not read (barman-cloud-wal-archive without compression, "
                "--gzip, --lz4 or --zstd)"
            )
        if match := _HISTORY.match(plain):
            local = _small(storage, obj, cache / plain)
            archive.histories[int(match.group(1), 16)] = read_history_file(local)
            continue
        if _BACKUP.match(plain):
            _add_backup_history(archive, storage, obj, cache / plain)
            continue
        if not _SEGMENT.match(plain):
            continue  # .partial, .tmp, anything else: not part of the chain
        timeline, segno = parse_segment_name(plain)
        in_place = storage.local_path(obj.key)
        path = in_place if in_place is not None else cache / name
        if name == plain and obj.size != archive.segment_size:
            # a Barman server compresses WAL under the segment's own name: found by its magic
            # bytes, and read through the cache under a name that says how
            kind = _sniff(storage, obj)
            if kind is not None:
                in_place, path = None, cache / f"{name}{kind}"
        if in_place is None:
            remote[str(path)] = obj
        _add_segment(
            archive,
            WalSegment(
                name=plain,
                timeline=timeline,
                segno=segno,
                path=str(path),
                compression=compression_of(path),
                size_bytes=obj.size,
            ),
        )
    if not remote:
        return archive, None

    wanted = [s for per in archive.segments.values() for s in per.values() if s.path in remote]
    wanted += [s for copies in archive.duplicates.values() for s in copies if s.path in remote]
    wanted.sort(key=lambda s: (s.segno, s.timeline))  # the order replay reads them in
    entries = [(Path(s.path), remote[s.path].key) for s in wanted]
    segments_cache = PrefetchCache.over(storage, cache, entries, workers, prefetch)
    return archive, segments_cache


_MAGIC = {b"\x1f\x8b": ".gz", b"\x28\xb5\x2f\xfd": ".zst", b"\x04\x22\x4d\x18": ".lz4"}
_UNREAD_MAGIC = {b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"\xff\x06\x00\x00sNaPpY": "snappy"}


def _sniff(storage: Storage, obj: StoredObject) -> str | None:
    """The suffix of a segment compressed without one (gzip, zstd, lz4), None if plain."""
    head = storage.read(obj.key, 0, 10)
    for magic, suffix in _MAGIC.items():
        if head.startswith(magic):
            return suffix
    for magic, kind in _UNREAD_MAGIC.items():
        if head.startswith(magic):
            raise ConfigError(
                f"{storage.describe(obj.key)}: compressed with {kind}, which restoredrill does "
                "not read (Barman's compression = gzip, or none)"
            )
    return None


def _add_segment(archive: WalArchive, segment: WalSegment) -> None:
    """As a directory archive does: the same segment twice (plain and compressed) is kept
    once, the other copy recorded so the plan compares them."""
    per_timeline = archive.segments.setdefault(segment.timeline, {})
    kept = per_timeline.get(segment.segno)
    if kept is None:
        per_timeline[segment.segno] = segment
        return
    other = segment
    if kept.compression != "none" and segment.compression == "none":
        kept, other = segment, kept
    per_timeline[segment.segno] = kept
    archive.duplicates.setdefault((segment.timeline, segment.segno), []).append(other)


def _small(storage: Storage, obj: StoredObject, dest: Path) -> Path:
    """A small object (history file) as a plain local file at ``dest``."""
    raw = dest.with_name(f".{obj.name}")
    storage.fetch(obj.key, raw)
    if compression_of(raw) == "none":  # a Barman server compresses without a suffix
        head = raw.read_bytes()[:10]
        suffix = next((x for magic, x in _MAGIC.items() if head.startswith(magic)), "")
        raw = raw.rename(raw.with_name(raw.name + suffix))
    if compression_of(raw) == "none":
        raw.replace(dest)
    else:
        decompress_to(raw, dest)
        raw.unlink()
    return dest


def _add_backup_history(
    archive: WalArchive, storage: Storage, obj: StoredObject, dest: Path
) -> None:
    local = _small(storage, obj, dest)
    history = BackupHistory(local.read_text(errors="replace"))
    try:  # read both now, so a damaged file is reported here, by name
        start_lsn, _stop_lsn = history.start_lsn, history.stop_lsn
    except (KeyError, IndexError, ValueError, InvalidTarget) as exc:
        raise BackupCorrupt(
            f"{storage.describe(obj.key)}: unreadable backup history file ({exc})"
        ) from exc
    archive.backup_histories[start_lsn] = history
