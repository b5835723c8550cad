"""Catalogue of pg_basebackup output (tar — plain, .gz, .lz4, .zst — or plain format) in a
directory that may hold several backups, one per subdirectory."""

from __future__ import annotations

import functools
import json
import re
import tarfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Literal

from restoredrill.errors import BackupCorrupt, ConfigError, InvalidTarget
from restoredrill.lsn import parse_lsn
from restoredrill.models import BaseBackup
from restoredrill.storage.compression import compression_of, open_decompressed

BASE_TAR_NAMES = ("base.tar", "base.tar.gz", "base.tar.lz4", "base.tar.zst")
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


def _read_tar_members(
    path: Path, wanted: set[str], scan_limit: int = 200
) -> tuple[dict[str, bytes], dict[str, datetime]]:
    """Read a few small members from the start of a (compressed) tar without unpacking it,
    and their mtimes. pg_basebackup writes backup_label first, so this touches only the
    head of the file."""
    found: dict[str, bytes] = {}
    mtimes: dict[str, datetime] = {}
    try:
        with open_decompressed(path) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for index, member in enumerate(tar):
                if member.name in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[member.name] = handle.read()
                        mtimes[member.name] = datetime.fromtimestamp(member.mtime, UTC)
                if len(found) == len(wanted) or index >= scan_limit:
                    break
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupCorrupt(f"{path}: not a readable tar archive ({exc})") from exc
    return found, mtimes


def _manifest_facts(manifest: Path) -> tuple[int | None, datetime | None]:
    """End LSN from WAL-Ranges and the newest file time (≈ when the backup finished)."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise BackupCorrupt(f"{manifest}: unreadable backup_manifest ({exc})") from exc
    end_lsn = None
    newest = None
    try:
        ranges = data.get("WAL-Ranges") or []
        if ranges:
            end_lsn = max(parse_lsn(r["End-LSN"]) for r in ranges)
        for entry in data.get("Files", []):
            stamp = entry.get("Last-Modified")
            if stamp:
                when = parse_label_time(stamp)
                newest = when if newest is None or when > newest else newest
    except (AttributeError, KeyError, TypeError, ValueError, InvalidTarget) as exc:
        raise BackupCorrupt(f"{manifest}: unreadable backup_manifest ({exc!r})") from exc
    return end_lsn, newest


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def read_backup(directory: Path, histories: Mapping[int, BackupHistory]) -> BaseBackup | None:
    """Catalogue one backup directory; None when the directory is not a base backup."""
    base_tar = next((directory / n for n in BASE_TAR_NAMES if (directory / n).is_file()), None)
    pg_version: str | None = None
    fmt: Literal["tar", "plain"]
    if base_tar is not None:
        members, mtimes = _read_tar_members(base_tar, {"backup_label", "PG_VERSION"})
        if "backup_label" not in members:
            raise BackupCorrupt(f"{base_tar}: no backup_label inside (not a pg_basebackup tar?)")
        label_text = members["backup_label"].decode()
        label_written = mtimes.get("backup_label")
        if "PG_VERSION" in members:
            pg_version = members["PG_VERSION"].decode().strip()
        fmt, compression = "tar", compression_of(base_tar)
    elif (directory / "backup_label").is_file():
        label_text = (directory / "backup_label").read_text()
        label_written = datetime.fromtimestamp((directory / "backup_label").stat().st_mtime, UTC)
        version_file = directory / "PG_VERSION"
        pg_version = version_file.read_text().strip() if version_file.is_file() else None
        fmt, compression = "plain", "none"
    else:
        return None

    fields = parse_label(label_text)
    try:
        start_lsn = parse_lsn(fields["START WAL LOCATION"].split()[0])
        # the label's mtime (when the server sent it) settles an ambiguous zone abbreviation
        start_time = parse_label_time(fields["START TIME"], hint=label_written)
        timeline = int(fields.get("START TIMELINE", "1"))
    except (KeyError, ValueError, IndexError, InvalidTarget) as exc:
        raise BackupCorrupt(f"{directory}: backup_label is incomplete ({exc})") from exc

    end_lsn: int | None = None
    stop_time: datetime | None = None
    stop_source = "unknown"
    history = histories.get(start_lsn)
    if history is not None:
        stop_text = history.fields.get("STOP TIME")
        end_lsn = history.stop_lsn
        stop_time = parse_label_time(stop_text, zone_of=start_time) if stop_text else None
        stop_source = "backup-history" if stop_time else "unknown"
    manifest = directory / "backup_manifest"
    if manifest.is_file():
        manifest_end, newest_file = _manifest_facts(manifest)
        end_lsn = end_lsn or manifest_end
        if stop_time is None and newest_file is not None:
            stop_time, stop_source = newest_file, "manifest-mtime"
    return BaseBackup(
        path=str(directory),
        format=fmt,
        compression=compression,
        label=fields.get("LABEL", directory.name),
        timeline=timeline,
        start_lsn=start_lsn,
        end_lsn=end_lsn if end_lsn is not None else start_lsn,
        start_time=start_time,
        stop_time=stop_time,
        stop_time_source=stop_source,  # type: ignore[arg-type]
        pg_version=pg_version,
        size_bytes=_size(directory),
    )


def list_base_backups(root: Path, histories: Mapping[int, BackupHistory]) -> list[BaseBackup]:
    """Every base backup in ``root`` (itself a backup, or one per subdirectory), oldest first."""
    if not root.is_dir():
        raise ConfigError(f"--base-backups {root}: no such directory")
    own = read_backup(root, histories)
    if own is not None:
        return [own]
    backups = [
        backup
        for child in sorted(root.iterdir())
        if child.is_dir() and (backup := read_backup(child, histories)) is not None
    ]
    return sorted(backups, key=lambda b: (b.end_lsn, b.start_time))
