"""pg_basebackup output and a WAL archive on any storage (a directory, an S3 prefix): the
one code path of this format, whatever holds the bytes.

The catalogue comes from listing the storage and reading small pieces of it: a base
backup's label from the head of its tar (a ranged read), timeline and backup history files,
a segment's size from the listing. WAL the storage has on this machine is read in place
(and staged as links to the archive's own files); other WAL gets a path in a local cache
that fetches it when the plan first reads it, in parallel and ahead of the reader
(``storage/cache.py``). A base backup is unpacked where it lies, or fetched next to the
sandbox first (``storage/tree.py``) and removed after.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from restoredrill.engines.postgres.basebackups import BASE_TAR_NAMES, catalogue_backups
from restoredrill.engines.postgres.untar import extract_directory
from restoredrill.engines.postgres.wal_archive import WalArchive, all_segments, scan_wal
from restoredrill.engines.postgres.wal_staging import stage_wal
from restoredrill.errors import ConfigError
from restoredrill.models import BaseBackup, WalSegment
from restoredrill.osuser import RunAs
from restoredrill.storage.base import Storage, StoredObject, join
from restoredrill.storage.cache import PrefetchCache
from restoredrill.storage.s3 import S3Storage
from restoredrill.storage.tree import fetch_tree
from restoredrill.storage.workspace import StorageWorkspace


@dataclass(frozen=True)
class Catalogue:
    backups: list[BaseBackup]
    archive: WalArchive


class BasebackupSource(StorageWorkspace):
    """Base backups on ``base``, WAL on ``wal``."""

    def __init__(self, base: Storage, wal: Storage, workers: int = 8, prefetch: int = 8) -> None:
        super().__init__(base, wal)
        self.base = base
        self.wal = wal
        self.workers = workers
        self.prefetch = prefetch
        remote = base.local_path("") is None
        self.kind = "s3" if remote else "file"
        self._archive: WalArchive | None = None
        self._backups: dict[str, tuple[str, list[StoredObject]]] = {}  # path -> (prefix, objects)

    def describe(self) -> str:
        where = f"{self.base.describe()} (WAL {self.wal.describe()})"
        return where if self.kind == "s3" else f"file:{where}"

    # --- catalogue -------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        archive = self._catalogue_wal()
        found = catalogue_backups(self.base, archive.backup_histories)
        self._backups = {path: (prefix, objects) for path, (_b, prefix, objects) in found.items()}
        return Catalogue([backup for backup, _p, _o in found.values()], archive)

    def _catalogue_wal(self) -> WalArchive:
        cache: Path | None = None
        if self.wal.local_path("") is None:
            cache = self.workdir / "wal"
            cache.mkdir(exist_ok=True)
        archive = scan_wal(self.wal, cache)
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        if cache is not None:
            entries = [
                (Path(s.path), archive.keys[s.path])
                for s in all_segments(archive)
                if Path(s.path).parent == cache
            ]
            self._cache = PrefetchCache.over(self.wal, cache, entries, self.workers, self.prefetch)
        self._archive = archive
        return archive

    def _backup(self, backup: BaseBackup) -> tuple[str, list[StoredObject]]:
        if backup.path not in self._backups:
            self.catalogue()
        if backup.path not in self._backups:
            raise ConfigError(f"{backup.path}: not catalogued by this source")
        return self._backups[backup.path]

    def base_manifest(self, backup: BaseBackup) -> Path | None:
        """A local copy of the backup's backup_manifest (its own file when it is local)."""
        prefix, objects = self._backup(backup)
        key = join(prefix, "backup_manifest")
        if not any(o.key == key for o in objects):
            return None
        local = self.base.local_path(key)
        if local is not None:
            return local
        dest = self.workdir / "manifests" / (prefix.replace("/", "_") or "_")
        dest.mkdir(parents=True, exist_ok=True)
        self.base.fetch(key, dest / "backup_manifest")
        return dest / "backup_manifest"

    # --- fetching ----------------------------------------------------------------------

    def extract_base(self, backup: BaseBackup, datadir: Path, run_as: RunAs) -> int:
        """Unpack the base backup into an empty data directory as the server user, where it
        lies when it is on this machine, else from a download next to the sandbox (several
        objects at a time, large ones in parallel parts), removed after. Returns the bytes
        read (uncompressed)."""
        prefix, objects = self._backup(backup)
        keys = {o.key for o in objects}
        names = (*BASE_TAR_NAMES, "backup_label")
        anchor = next((n for n in names if join(prefix, n) in keys), "backup_label")
        local = self.base.local_path(join(prefix, anchor))
        if local is not None:
            return extract_directory(local.parent, backup.format, datadir, run_as)
        download = datadir.parent / "base-download"
        download.mkdir(mode=0o700)
        try:
            fetch_tree(self.base, prefix, objects, download, self.workers)
            return extract_directory(download, backup.format, datadir, run_as)
        finally:
            shutil.rmtree(download, ignore_errors=True)

    def stage_segments(self, segments: list[WalSegment], dest: Path, run_as: RunAs) -> int:
        """Put the segments replay needs (those the plan read, no others) in the staging
        directory the sandbox's restore_command copies from: links to the archive's own
        files, read in place, when they are local, uncompressed and readable by the server
        user; decompressed copies otherwise."""
        return stage_wal(segments, dest, run_as, self._cache)

    def stage_histories(self, dest: Path, run_as: RunAs) -> None:
        archive = self._archive or self._catalogue_wal()
        for name, data in archive.history_files.items():
            target = dest / name
            target.write_bytes(data)
            run_as.own(target)

    @property
    def fetch_stats(self) -> tuple[int, int]:
        """(segments downloaded, bytes) so far."""
        if self._cache is None:
            return 0, 0
        return self._cache.fetched, self._cache.fetched_bytes

    @property
    def wal_fetch_config(self) -> Callable[[], dict[str, object]] | None:
        """What `restoredrill wal-fetch` needs to read this archive (no credentials); None
        when it cannot (it reads S3 only)."""
        wal = self.wal
        if not isinstance(wal, S3Storage):
            return None

        def config() -> dict[str, object]:
            return {
                "kind": "s3",
                "bucket": wal.url.bucket,
                "prefix": wal.url.prefix,
                "region": wal.aws.region,
                "endpoint_url": wal.aws.endpoint_url,
                "retry_mode": wal.aws.retry_mode,
                "max_attempts": wal.aws.max_attempts,
            }

        return config
