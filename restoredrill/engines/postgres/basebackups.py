"""Catalogue of pg_basebackup output (tar — plain, .gz, .lz4, .zst — or plain format) on any
storage (a directory, an S3 prefix) that may hold several backups, one per subdirectory;
labels are read from a tar's head (a ranged read), never by unpacking it."""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Literal

from restoredrill.errors import BackupCorrupt, ConfigError, InvalidTarget
from restoredrill.lsn import parse_lsn
from restoredrill.models import BaseBackup
from restoredrill.storage.base import Storage, StoredObject
from restoredrill.storage.compression import compression_of
from restoredrill.storage.local import LocalStorage
from restoredrill.storage.s3_head import decompress_prefix, tar_members
from restoredrill.storage.tree import relative_key

BASE_TAR_NAMES = ("base.tar", "base.tar.gz", "base.tar.lz4", "base.tar.zst")
HEAD_BYTES = 1 << 20
_LABEL_LINE = re.compile(r"^([A-Z ]+): (.*)$")


class BackupHistory:
    """A ``<segment>.<offset>.backup`` file the primary writes into the WAL archive."""

    def __init__(self, text: str) -> None:
        self.fields = parse_label(text)

    @property
    def start_lsn(self) -> int:
        return parse_lsn(self.fields["START WAL LOCATION"].split()[0])

    @property
    def stop_lsn(self) -> int:
        return parse_lsn(self.fields["STOP WAL LOCATION"].split()[0])

    @property
    def stop_time(self) -> datetime | None:
        value = self.fields.get("STOP TIME")
        return parse_label_time(value) if value else None


def parse_label(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _LABEL_LINE.match(line.strip())
        if match:
            fields[match.group(1)] = match.group(2).strip()
    return fields


def parse_label_time(
    value: str, hint: datetime | None = None, zone_of: datetime | None = None
) -> datetime:
    """'2026-11-21 12:07:49 UTC' (backup_label / history) → aware datetime.

    The zone is the abbreviation of the server's log_timezone ('CET', 'CST', '+04'). One
    that means a single UTC offset at that time is used. An ambiguous one ('CST': Chicago,
    Shanghai or Havana; 'IST') is settled by ``zone_of`` (a time from the same server: same
    offset), by ``hint`` (an absolute time within minutes of this one, e.g. the mtime of
    backup_label), or by this machine's own zone (TZ=...) if it uses that abbreviation."""
    stamp, _, zone = value.rpartition(" ")
    try:
        parsed = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BackupCorrupt(f"backup time {value!r} is not a time") from None
    offsets = _offsets_named(zone, parsed)
    if not offsets:
        raise ConfigError(f"backup time {value!r}: unknown time zone abbreviation {zone!r}")
    if len(offsets) > 1 and zone_of is not None and zone_of.utcoffset() in offsets:
        offsets = {zone_of.utcoffset()}  # type: ignore[arg-type]
    if len(offsets) > 1 and hint is not None:
        utc_hint = hint.astimezone(UTC).replace(tzinfo=None)
        near = {o for o in offsets if abs(parsed - o - utc_hint) <= _HINT_SLACK}
        offsets = near or offsets
    if len(offsets) > 1:
        local = parsed.astimezone()  # this machine's zone (TZ) at that wall time
        if local.tzname() == zone and local.utcoffset() in offsets:
            offsets = {local.utcoffset()}  # type: ignore[arg-type]
    if len(offsets) > 1:
        choices = ", ".join(sorted(_fmt_offset(o) for o in offsets))
        raise ConfigError(
            f"backup time {value!r}: the time zone {zone!r} is ambiguous (UTC{choices}); "
            f"run restoredrill with TZ set to the server's log_timezone"
        )
    (offset,) = offsets
    return parsed.replace(tzinfo=UTC if not offset else timezone(offset))


_HINT_SLACK = timedelta(minutes=15)
_NUMERIC_ZONE = re.compile(r"^([+-])(\d\d)(\d\d)?$")


def _offsets_named(zone: str, wall: datetime) -> set[timedelta]:
    """UTC offsets the abbreviation ``zone`` stands for at local time ``wall``."""
    if zone in ("UTC", "GMT", "Z"):
        return {timedelta(0)}
    numeric = _NUMERIC_ZONE.match(zone)  # zones without an abbreviation: '+04', '-0330'
    if numeric:
        size = timedelta(hours=int(numeric.group(2)), minutes=int(numeric.group(3) or 0))
        return {size if numeric.group(1) == "+" else -size}
    offsets: set[timedelta] = set()
    for tz in _zones():
        for fold in (0, 1):  # a wall time in the hour a clock falls back happens twice
            aware = wall.replace(tzinfo=tz, fold=fold)
            offset = aware.utcoffset()
            if aware.tzname() == zone and offset is not None:
                offsets.add(offset)
    return offsets


@functools.cache
def _zones() -> tuple[tzinfo, ...]:
    from zoneinfo import ZoneInfo, available_timezones

    return tuple(ZoneInfo(key) for key in sorted(available_timezones()))


def _fmt_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _tar_head(storage: Storage, obj: StoredObject) -> tuple[dict[str, bytes], float | None]:
    """backup_label (and PG_VERSION, if near) from the first bytes of a base tar, read
    without unpacking it: pg_basebackup writes backup_label first, so a ranged read of a
    MiB is enough (more, eight times as much each round, if not)."""
    compression = compression_of(Path(obj.name))
    where = storage.describe(obj.key)
    length = HEAD_BYTES
    while True:
        whole = length >= obj.size
        data = storage.read(obj.key, 0, None if whole else length)
        try:
            members, mtime, problem = tar_members(decompress_prefix(data, compression))
        except zlib.error as exc:
            raise BackupCorrupt(f"{where}: not a readable tar archive ({exc})") from exc
        if "backup_label" in members:
            return members, mtime
        if whole:
            if problem is not None:
                raise BackupCorrupt(f"{where}: not a readable tar archive ({problem})")
            return members, mtime
        length *= 8


def _manifest_facts(data: bytes, where: str) -> tuple[int | None, datetime | None]:
    """End LSN from WAL-Ranges and the newest file time (≈ when the backup finished)."""
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise BackupCorrupt(f"{where}: unreadable backup_manifest ({exc})") from exc
    end_lsn = None
    newest = None
    try:
        ranges = manifest.get("WAL-Ranges") or []
        if ranges:
            end_lsn = max(parse_lsn(r["End-LSN"]) for r in ranges)
        for entry in manifest.get("Files", []):
            stamp = entry.get("Last-Modified")
            if stamp:
                when = parse_label_time(stamp)
                newest = when if newest is None or when > newest else newest
    except (AttributeError, KeyError, TypeError, ValueError, InvalidTarget) as exc:
        raise BackupCorrupt(f"{where}: unreadable backup_manifest ({exc!r})") from exc
    return end_lsn, newest


def read_backup(
    storage: Storage,
    prefix: str,
    objects: Sequence[StoredObject],
    histories: Mapping[int, BackupHistory],
) -> BaseBackup | None:
    """Catalogue the backup whose ``objects`` are under ``prefix``; None when they are not
    a base backup."""
    rel = {relative_key(prefix, o.key): o for o in objects}
    where = storage.describe(prefix)
    base_tar = next((n for n in BASE_TAR_NAMES if n in rel), None)
    pg_version: str | None = None
    fmt: Literal["tar", "plain"]
    if base_tar is not None:
        members, mtime = _tar_head(storage, rel[base_tar])
        if "backup_label" not in members:
            raise BackupCorrupt(
                f"{storage.describe(rel[base_tar].key)}: no backup_label inside "
                "(not a pg_basebackup tar?)"
            )
        label_text = members["backup_label"].decode()
        label_mtime = mtime
        if "PG_VERSION" in members:
            pg_version = members["PG_VERSION"].decode().strip()
        fmt, compression = "tar", compression_of(Path(base_tar))
    elif "backup_label" in rel:
        label_text = storage.read(rel["backup_label"].key).decode()
        label_mtime = rel["backup_label"].mtime
        if "PG_VERSION" in rel:
            pg_version = storage.read(rel["PG_VERSION"].key).decode().strip()
        fmt, compression = "plain", "none"
    else:
        return None
    label_written = datetime.fromtimestamp(label_mtime, UTC) if label_mtime is not None else None

    fields = parse_label(label_text)
    try:
        start_lsn = parse_lsn(fields["START WAL LOCATION"].split()[0])
        # the label's mtime (when the server sent it) settles an ambiguous zone abbreviation
        start_time = parse_label_time(fields["START TIME"], hint=label_written)
        timeline = int(fields.get("START TIMELINE", "1"))
    except (KeyError, ValueError, IndexError, InvalidTarget) as exc:
        raise BackupCorrupt(f"{where}: backup_label is incomplete ({exc})") from exc

    end_lsn: int | None = None
    stop_time: datetime | None = None
    stop_source = "unknown"
    history = histories.get(start_lsn)
    if history is not None:
        stop_text = history.fields.get("STOP TIME")
        end_lsn = history.stop_lsn
        stop_time = parse_label_time(stop_text, zone_of=start_time) if stop_text else None
        stop_source = "backup-history" if stop_time else "unknown"
    if "backup_manifest" in rel:
        manifest = rel["backup_manifest"].key
        manifest_end, newest_file = _manifest_facts(
            storage.read(manifest), storage.describe(manifest)
        )
        end_lsn = end_lsn or manifest_end
        if stop_time is None and newest_file is not None:
            stop_time, stop_source = newest_file, "manifest-mtime"
    return BaseBackup(
        path=where,
        format=fmt,
        compression=compression,
        label=fields.get("LABEL", where.rstrip("/").rsplit("/", 1)[-1]),
        timeline=timeline,
        start_lsn=start_lsn,
        end_lsn=end_lsn if end_lsn is not None else start_lsn,
        start_time=start_time,
        stop_time=stop_time,
        stop_time_source=stop_source,  # type: ignore[arg-type]
        pg_version=pg_version,
        size_bytes=sum(o.size for o in objects),
    )


def backup_groups(storage: Storage) -> dict[str, list[StoredObject]]:
    """The storage's objects by backup: the root itself is one, or each top-level "directory"
    may be one."""
    root = storage.local_path("")
    if root is not None and not root.is_dir():
        raise ConfigError(f"--base-backups {root}: no such directory")
    objects = storage.list()
    if any(o.key in BASE_TAR_NAMES or o.key == "backup_label" for o in objects):
        return {"": objects}
    groups: dict[str, list[StoredObject]] = {}
    for obj in objects:
        head, sep, _rest = obj.key.partition("/")
        if sep:
            groups.setdefault(head, []).append(obj)
    return dict(sorted(groups.items()))


def catalogue_backups(
    storage: Storage, histories: Mapping[int, BackupHistory]
) -> dict[str, tuple[BaseBackup, str, list[StoredObject]]]:
    """Every base backup in ``storage``, oldest first: its path -> (backup, prefix, objects)."""
    found = [
        (backup, prefix, objects)
        for prefix, objects in backup_groups(storage).items()
        if (backup := read_backup(storage, prefix, objects, histories)) is not None
    ]
    found.sort(key=lambda item: (item[0].end_lsn, item[0].start_time))
    return {backup.path: (backup, prefix, objects) for backup, prefix, objects in found}


def list_base_backups(root: Path, histories: Mapping[int, BackupHistory]) -> list[BaseBackup]:
    """Every base backup in the directory ``root`` (itself a backup, or one per
    subdirectory), oldest first."""
    return [backup for backup, _p, _o in catalogue_backups(LocalStorage(root), histories).values()]
