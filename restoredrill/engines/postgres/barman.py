"""A barman-cloud object store as a source (what ``barman-cloud-backup`` and
``barman-cloud-wal-archive`` write, as CloudNativePG does), on S3 or in a local directory,
read through the one storage interface (``restoredrill/storage``)::

    <server>/base/<backup id>/backup.info
    <server>/base/<backup id>/data.tar[.gz]   (data_0001.tar… when split; <oid>.tar per tablespace)
    <server>/wals/<timeline+log>/<segment>[.gz]   (and <segment>.<offset>.backup)
    <server>/wals/<timeline>.history[.gz]

A Barman server's own directory (``<barman_home>/<server>``) has the same ``wals/``, and per
backup ``base/<id>/data/`` (a plain copy) with its backup.info beside it or, in newer
Barman, as ``meta/<id>-backup.info``; it is read in place.

The catalogue comes from each backup.info (only DONE backups); the WAL goes through the
plan's preflight like any other archive: segments are listed, fetched lazily into a local
cache (in place for a local directory) and read by the plan's checks, so chain, timelines
and damaged segments are judged exactly as for a directory of WAL.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from restoredrill.engines.postgres import tablespaces
from restoredrill.engines.postgres.barman_info import BackupInfo
from restoredrill.engines.postgres.barman_wal import catalogue_wal
from restoredrill.engines.postgres.source import Catalogue
from restoredrill.engines.postgres.untar import (
    extract_directory,
    tar_of_directory,
    untar_file,
    untar_stream,
)
from restoredrill.engines.postgres.wal_archive import WalArchive
from restoredrill.engines.postgres.wal_staging import stage_wal
from restoredrill.errors import BackupCorrupt, ConfigError
from restoredrill.models import BaseBackup, WalSegment
from restoredrill.osuser import RunAs
from restoredrill.storage.base import Storage, StoredObject, join
from restoredrill.storage.cache import PrefetchCache
from restoredrill.storage.compression import Compression
from restoredrill.storage.s3 import S3Storage

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig

_TAR = re.compile(r"^(data|\d+)(?:_(\d{4}))?\.tar(\.gz|\.lz4|\.zst|\.bz2|\.snappy|\.xz)?$")
_COMPRESSION: dict[str, Compression] = {"": "none", ".gz": "gzip", ".lz4": "lz4", ".zst": "zstd"}
PREFIX = "barman:"


@dataclass(frozen=True)
class _Backup:
    info: BackupInfo
    data: list[StoredObject]  # data.tar, data_0001.tar, … in order
    tablespaces: dict[int, list[StoredObject]]  # oid -> its tars, in order
    plain_size: int | None = None  # a Barman server's data/ directory (plain), its bytes


class BarmanSource:
    kind = "barman"

    def __init__(self, storage: Storage, server: str, workers: int = 8, prefetch: int = 8) -> None:
        if not server or "/" in server:
            raise ConfigError(f"barman server name {server!r}: expected one path component")
        self.storage = storage
        self.server = server
        self.workers = workers
        self.prefetch = prefetch
        self._tmp: Path | None = None
        self._cache: PrefetchCache | None = None
        self._backups: dict[str, _Backup] = {}
        self._archive: WalArchive | None = None

    # --- plumbing ---------------------------------------------------------------------

    def describe(self) -> str:
        return f"{PREFIX}{self.storage.describe(self.server)}"

    @property
    def retries(self) -> object:
        return getattr(self.storage, "retries", None)

    @property
    def workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="restoredrill-barman-"))
        return self._tmp

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self.storage.close()

    # --- catalogue -------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        infos = self._read_infos()
        segment_size = infos[-1].info.segment_size if infos else None
        archive, cache = catalogue_wal(
            self.storage, f"{self.server}/wals", self.workdir / "wal", segment_size,
            self.workers, self.prefetch,
        )  # fmt: skip
        if self._cache is not None:
            self._cache.close()
        self._cache = cache
        self._archive = archive
        backups = [self._base_backup(b, archive) for b in infos]
        return Catalogue(sorted(backups, key=lambda b: (b.end_lsn, b.start_time)), archive)

    def _read_infos(self) -> list[_Backup]:
        base = f"{self.server}/base/"
        groups: dict[str, list[StoredObject]] = {}
        nested: dict[str, int] = {}  # a Barman server's data/ (and <oid>/) directories: bytes
        for obj in self.storage.list(base.rstrip("/")):
            backup_id, sep, rest = obj.key[len(base) :].partition("/")
            if sep and "/" not in rest:
                groups.setdefault(backup_id, []).append(obj)
            elif sep:
                nested[backup_id] = nested.get(backup_id, 0) + obj.size
        # newer Barman servers keep backup.info as meta/<id>-backup.info
        meta = {
            obj.name[: -len("-backup.info")]: obj
            for obj in self.storage.list(f"{self.server}/meta")
            if obj.name.endswith("-backup.info")
        }
        found: list[_Backup] = []
        for backup_id in sorted(set(groups) | set(nested)):
            objects = groups.get(backup_id, [])
            info_obj = {o.name: o for o in objects}.get("backup.info") or meta.get(backup_id)
            if info_obj is None:
                continue  # an upload in progress, or not a backup
            where = self.storage.describe(info_obj.key)
            text = self.storage.read(info_obj.key).decode(errors="replace")
            info = BackupInfo.parse(backup_id, text, where)
            if not info.done:
                continue  # FAILED, or still running: barman-cloud-restore refuses those too
            found.append(self._tars(info, objects, nested.get(backup_id)))
        return sorted(found, key=lambda b: b.info.end_lsn)

    def _tars(self, info: BackupInfo, objects: list[StoredObject], nested: int | None) -> _Backup:
        data: list[tuple[int, StoredObject]] = []
        spaces: dict[int, list[tuple[int, StoredObject]]] = {}
        for obj in objects:
            match = _TAR.match(obj.name)
            if match is None:
                continue
            if match.group(3) in (".bz2", ".snappy", ".xz"):
                raise ConfigError(
                    f"{self.storage.describe(obj.key)}: compressed with "
                    f"{match.group(3)[1:]}, which restoredrill does not read "
                    "(barman-cloud-backup without compression, --gzip or --lz4)"
                )
            part = (int(match.group(2) or 0), obj)
            if match.group(1) == "data":
                data.append(part)
            else:
                spaces.setdefault(int(match.group(1)), []).append(part)
        where = self.storage.describe(f"{self.server}/base/{info.backup_id}")
        if not data and nested is not None:  # a Barman server's layout: base/<id>/data/
            return _Backup(info, [], {}, plain_size=nested + sum(o.size for o in objects))
        if not data:
            raise BackupCorrupt(f"{where}: backup.info says DONE but there is no data.tar")
        known = {t.oid for t in info.tablespaces}
        if set(spaces) - known or known - set(spaces):
            raise BackupCorrupt(
                f"{where}: tablespace archives {sorted(spaces)} do not match backup.info's "
                f"tablespaces {sorted(known)}"
            )
        return _Backup(
            info,
            [o for _n, o in sorted(data, key=lambda p: p[0])],
            {
                oid: [o for _n, o in sorted(parts, key=lambda p: p[0])]
                for oid, parts in spaces.items()
            },
        )

    def _base_backup(self, backup: _Backup, archive: WalArchive) -> BaseBackup:
        info = backup.info
        path = self.storage.describe(f"{self.server}/base/{info.backup_id}")
        # The stop time: the backup history file's if archived (as for every source), else
        # backup.info's end_time, which Barman records when pg_backup_stop() has returned,
        # as the history file does.
        history = archive.backup_histories.get(info.begin_lsn)
        stop_time = (history.stop_time if history is not None else None) or info.end_time
        suffix = backup.data[0].name.split(".tar", 1)[1] if backup.data else ""
        objects = [*backup.data, *(o for tars in backup.tablespaces.values() for o in tars)]
        self._backups[path] = backup
        return BaseBackup(
            path=path,
            format="tar" if backup.plain_size is None else "plain",
            compression=_COMPRESSION.get(suffix, "none"),
            label=info.backup_name or info.backup_id,
            timeline=info.timeline,
            start_lsn=info.begin_lsn,
            end_lsn=info.end_lsn,
            start_time=info.begin_time,
            stop_time=stop_time,
            stop_time_source="backup-history",
            pg_version=info.major,
            size_bytes=sum(o.size for o in objects) + (backup.plain_size or 0),
        )

    def backup_info(self, backup: BaseBackup) -> BackupInfo:
        return self._known(backup).info

    def _known(self, backup: BaseBackup) -> _Backup:
        found = self._backups.get(backup.path)
        if found is None:
            raise ConfigError(f"{backup.path}: not catalogued by this source")
        return found

    # --- fetching ----------------------------------------------------------------------

    def extract_base(self, backup: BaseBackup, datadir: Path, run_as: RunAs) -> int:
        """Unpack data.tar (and its parts) into ``datadir`` and each tablespace's tar into a
        directory of the sandbox, linked from pg_tblspc/<oid> as barman-cloud-restore does
        (the backup's own locations are production's, never written to)."""
        known = self._known(backup)
        if any(datadir.iterdir()):
            raise ConfigError(f"data directory {datadir} is not empty")
        if known.plain_size is not None:
            return self._extract_plain(known, backup, datadir, run_as)
        download = datadir.parent / "base-download"
        try:
            total = self._unpack(known.data, datadir, run_as, download, backup.size_bytes, 0)
            done = sum(o.size for o in known.data)
            placed = {oid: tablespaces.location(datadir, oid) for oid in known.tablespaces}
            for oid, tars in sorted(known.tablespaces.items()):
                total += self._unpack(tars, placed[oid], run_as, download, backup.size_bytes, done)
                done += sum(o.size for o in tars)
            tablespaces.place(datadir, placed, run_as, backup.path)
        finally:
            shutil.rmtree(download, ignore_errors=True)
        # pg_wal is not in the tars (barman-cloud leaves its content out); replay needs it
        for sub in (datadir / "pg_wal", datadir / "pg_wal" / "archive_status"):
            if not sub.exists():
                sub.mkdir(mode=0o700)
                run_as.own(sub)
        return total

    def _extract_plain(
        self, known: _Backup, backup: BaseBackup, datadir: Path, run_as: RunAs
    ) -> int:
        """A Barman server's backup: base/<id>/data copied as a plain backup is (tablespaces
        linked from pg_tblspc, or kept beside data/ as <oid>/, copied into the sandbox)."""
        home = f"{self.server}/base/{known.info.backup_id}"
        data = self.storage.local_path(f"{home}/data")
        if data is None or not data.is_dir():
            raise ConfigError(f"{backup.path}: a Barman server's backup is read from a directory")
        plain = backup.model_copy(update={"path": str(data), "format": "plain"})
        total = extract_directory(data, plain.format, datadir, run_as)
        linked = {int(p.name) for p in (datadir / "pg_tblspc").iterdir() if p.name.isdigit()}
        beside = {t.oid: data.parent / str(t.oid) for t in known.info.tablespaces}
        missing = {oid: path for oid, path in beside.items() if oid not in linked}
        if missing:
            placed = tablespaces.foreign_links(datadir)
            placed = {oid: Path(os.path.realpath(p)) for oid, p in placed.items()}
            for oid, source in sorted(missing.items()):
                target = tablespaces.location(datadir, oid)
                total += untar_stream(tar_of_directory(source), target, run_as)
                placed[oid] = target
            tablespaces.place(datadir, placed, run_as, backup.path)
        return total

    def _unpack(
        self,
        tars: list[StoredObject],
        dest: Path,
        run_as: RunAs,
        download: Path,
        size: int,
        before: int,
    ) -> int:
        total = 0
        for obj in tars:
            local = self.storage.local_path(obj.key)
            if local is None:  # remote: fetched next to the sandbox, removed once unpacked
                download.mkdir(mode=0o700, exist_ok=True)
                local = download / obj.name
                self.storage.fetch(obj.key, local)
            try:
                total += untar_file(local, dest, run_as, before, size)
            finally:
                if local.is_relative_to(download):
                    local.unlink(missing_ok=True)
            before += obj.size
        return total

    @property
    def wal_fetch_config(self) -> Callable[[], dict[str, object]] | None:
        """What `restoredrill wal-fetch` needs to stream this store's WAL during replay
        (--wal-delivery stream; no credentials): barman-cloud's layout under wals/. None
        for a directory (wal-fetch reads S3 only)."""
        storage = self.storage
        if not isinstance(storage, S3Storage):
            return None
        wals = join(join(storage.url.prefix, self.server), "wals")

        def config() -> dict[str, object]:
            return {
                "kind": "s3",
                "layout": "barman",  # segments in wals/<timeline+log>/, histories in wals/
                "bucket": storage.url.bucket,
                "prefix": wals,
                "region": storage.aws.region,
                "endpoint_url": storage.aws.endpoint_url,
                "retry_mode": storage.aws.retry_mode,
                "max_attempts": storage.aws.max_attempts,
            }

        return config

    def stage_segments(self, segments: list[WalSegment], dest: Path, run_as: RunAs) -> int:
        if self._cache is not None:
            self._cache.ensure(s.path for s in segments)
        return stage_wal(segments, dest, run_as)

    def stage_histories(self, dest: Path, run_as: RunAs) -> None:
        assert self._archive is not None, "catalogue() first"
        for path in sorted(self._archive.root.glob("*.history")):
            target = dest / path.name
            target.write_bytes(path.read_bytes())
            run_as.own(target)


def open_barman(location: str, aws: AwsConfig | None = None) -> BarmanSource:
    """``s3://bucket/prefix/<server>`` or ``/dir/<server>``: the server's folder of a
    barman-cloud store (CloudNativePG: destinationPath + serverName)."""
    from restoredrill.storage.open import open_storage

    text = location.rstrip("/")
    parent, sep, server = text.rpartition("/")
    if not sep or not server or parent in ("", "s3:/", "s3:"):
        raise ConfigError(
            f"--barman {location!r}: expected the server's folder, e.g. "
            "s3://bucket/prefix/<server> or /srv/barman-cloud/<server>"
        )
    if parent.startswith("s3://") and "/" not in parent[len("s3://") :]:
        parent += "/"  # the bucket's root
    return BarmanSource(open_storage(parent, aws), server)
