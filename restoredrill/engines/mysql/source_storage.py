"""MariaDB / MySQL snapshots and binlogs on any storage (a directory, an S3 prefix): the one
code path of this format, whatever holds the bytes.

``--snapshot`` names one dump (``.sql``, ``.sql.gz``, ``.sql.lz4``, ``.sql.zst``), a
mariabackup directory, or a place holding several of them side by side; binlogs are the
flat copy of a binlog directory (files and their index).

A file the storage has on this machine is read in place. Otherwise a dump's binlog
coordinates come from its first MiB (a ranged read; for an uncompressed dump also the last
64 KiB, where mariadb-dump --gtid writes the GTID), and small dumps are fetched whole. The
plan checks that the chosen dump is complete (its footer): a ranged read of a plain dump's
last KiB; a compressed one is fetched whole and decompressed to its end, and the restore
loads that copy. Binlogs are fetched into a local cache when the plan reads their event
headers, in parallel and ahead (``storage/cache.py``), so a restore replays the files the
plan already fetched. mariabackup directories must be local (they are refused elsewhere).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from restoredrill.engines.mysql.binlog import BinlogArchive, scan_binlogs
from restoredrill.engines.mysql.dump_check import TAIL_BYTES as FOOTER_BYTES
from restoredrill.engines.mysql.dump_check import check_dump_complete, footer_problem
from restoredrill.engines.mysql.snapshots import (
    CHECKPOINT_FILES,
    DUMP_SUFFIXES,
    read_backup,
    read_dump,
)
from restoredrill.errors import BackupCorrupt, ConfigError
from restoredrill.models import MysqlSnapshot
from restoredrill.storage.base import Storage, StoredObject
from restoredrill.storage.cache import PrefetchCache
from restoredrill.storage.compression import compression_of
from restoredrill.storage.s3_head import decompress_prefix
from restoredrill.storage.workspace import StorageWorkspace

WHOLE_BYTES = 4 << 20  # remote dumps up to this size are fetched whole while cataloguing
HEAD_BYTES = 1 << 20
TAIL_BYTES = 64 << 10


class StorageMysqlSource(StorageWorkspace):
    """Snapshots on ``snapshots`` (``single``: the key of the one dump ``--snapshot`` names;
    None: every snapshot at the storage's top level), binlogs on ``binlogs``."""

    def __init__(
        self,
        snapshots: Storage,
        single: str | None,
        binlogs: Storage,
        workers: int = 8,
        prefetch: int = 8,
    ) -> None:
        super().__init__(snapshots, binlogs)
        self.snap = snapshots
        self.single = single
        self.binlog_storage = binlogs
        self.workers = workers
        self.prefetch = prefetch
        self.kind = "file" if snapshots.local_path("") is not None else "s3"
        self._objects: dict[str, StoredObject] = {}  # snapshot path -> its object
        self._local: dict[str, Path] = {}  # snapshot path -> a copy fetched whole

    def describe(self) -> str:
        where = f"{self.snap.describe(self.single or '')} (binlogs {self.binlog_label()})"
        return f"file:{where}" if self.kind == "file" else where

    def binlog_label(self) -> str:
        return self.binlog_storage.describe()

    @property
    def fetch_stats(self) -> tuple[int, int]:
        """(binlog files downloaded, bytes) so far."""
        if self._cache is None:
            return 0, 0
        return self._cache.fetched, self._cache.fetched_bytes

    # --- snapshots ---------------------------------------------------------------------

    def snapshots(self) -> list[MysqlSnapshot]:
        if self.single is not None:
            return [self._read_dump(self._single_object(self.single))]
        root = self.snap.local_path("")
        if root is not None and not root.exists():
            raise ConfigError(f"--snapshot {root}: no such file or directory")
        objects = self.snap.list()
        keys = {o.key for o in objects}
        if keys & set(CHECKPOINT_FILES):  # the place itself is a mariabackup directory
            return [self._read_backup("")]
        found: list[MysqlSnapshot] = []
        done: set[str] = set()
        for obj in objects:
            head, sep, rest = obj.key.partition("/")
            if sep and rest in CHECKPOINT_FILES and head not in done:
                done.add(head)
                found.append(self._read_backup(head))
            elif not sep and obj.key.endswith(DUMP_SUFFIXES):
                found.append(self._read_dump(obj))
        return found

    def _single_object(self, key: str) -> StoredObject:
        local = self.snap.local_path(key)
        if local is not None:
            if not local.is_file():
                raise ConfigError(f"--snapshot {local}: no such file or directory")
            return StoredObject(key, local.stat().st_size)
        found = next((o for o in self.snap.list() if o.key == key), None)
        if found is None:
            raise ConfigError(f"--snapshot {self.snap.describe(key)}: no such object")
        return found

    def _read_backup(self, prefix: str) -> MysqlSnapshot:
        local = self.snap.local_path(prefix)
        if local is None:
            raise ConfigError(
                f"{self.snap.describe(prefix)}: a mariabackup directory; restoring mariabackup "
                "directories from S3 is not supported (dumps .sql/.sql.gz are) — download it "
                "and pass the local directory to --snapshot"
            )
        return read_backup(local)

    def _read_dump(self, obj: StoredObject) -> MysqlSnapshot:
        """The dump's coordinates from its header: read in place when it is local, else
        from the object fetched whole when it is small, else from ranged reads."""
        path = self.snap.describe(obj.key)
        self._objects[path] = obj
        local = self.snap.local_path(obj.key)
        if local is not None:
            return read_dump(local)
        compression = compression_of(Path(obj.name))
        folder = self.workdir / "snapshots" / str(len(self._objects))
        folder.mkdir(parents=True, exist_ok=True)
        if obj.size <= WHOLE_BYTES:
            copy = folder / obj.name
            self.snap.fetch(obj.key, copy)
            self._local[path] = copy
            found = read_dump(copy)
        else:
            head = self.snap.read(obj.key, 0, HEAD_BYTES)
            try:
                text = decompress_prefix(head, compression)
            except zlib.error as exc:
                raise BackupCorrupt(
                    f"snapshot {path}: the {compression} stream is damaged ({exc})"
                ) from exc
            if compression == "none":  # mariadb-dump --gtid writes the GTID at the end
                tail = self.snap.read(obj.key, max(0, obj.size - TAIL_BYTES))
                text = text + b"\n" + tail
            probe = folder / "header.sql"
            probe.write_bytes(text)
            found = read_dump(probe)
            probe.unlink()
        return found.model_copy(
            update={"path": path, "compression": compression, "size_bytes": obj.size}
        )

    def _object(self, snapshot: MysqlSnapshot) -> StoredObject:
        if snapshot.path not in self._objects:
            self.snapshots()
        if snapshot.path not in self._objects:
            raise ConfigError(f"{snapshot.path}: not catalogued by this source")
        return self._objects[snapshot.path]

    def check_dump(self, snapshot: MysqlSnapshot) -> None:
        """The footer check (``mysql_dump_check``) on the local file, or a kept copy; else a
        plain dump's last KiB by a ranged read; a compressed one must be decompressed to its
        end, so it is fetched whole (and kept: the restore loads that copy)."""
        kept = self._local.get(snapshot.path)
        if kept is not None and kept.is_file():
            check_dump_complete(kept, snapshot.path)
            return
        obj = self._object(snapshot)
        local = self.snap.local_path(obj.key)
        if local is not None:
            check_dump_complete(local)
            return
        if snapshot.compression == "none":
            tail = self.snap.read(obj.key, max(0, obj.size - FOOTER_BYTES))
            problem = footer_problem(snapshot.path, tail)
            if problem is not None:
                raise BackupCorrupt(problem)
            return
        folder = self.workdir / "snapshots" / "checked"
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / obj.name
        self.snap.fetch(obj.key, copy)
        self._local[snapshot.path] = copy
        check_dump_complete(copy, snapshot.path)

    def local_snapshot(self, snapshot: MysqlSnapshot, work: Path) -> Path:
        """The dump itself when it is local; else a copy, fetched next to the sandbox (large
        objects in parallel parts) unless it already was."""
        kept = self._local.pop(snapshot.path, None)
        if kept is not None and kept.is_file():
            return kept
        obj = self._object(snapshot)
        local = self.snap.local_path(obj.key)
        if local is not None:
            return local
        dest = work / "snapshot-download"
        dest.mkdir(mode=0o700, exist_ok=True)
        self.snap.fetch(obj.key, dest / obj.name)
        return dest / obj.name

    # --- binlogs -----------------------------------------------------------------------

    def binlogs(self) -> BinlogArchive:
        cache: Path | None = None
        if self.binlog_storage.local_path("") is None:
            cache = self.workdir / "binlog"
            cache.mkdir(exist_ok=True)
        archive, remote = scan_binlogs(self.binlog_storage, cache)
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        if cache is None:
            return archive
        prefetching = PrefetchCache(
            cache, remote, self.binlog_storage.fetch, self.workers, self.prefetch
        )
        self._cache = prefetching

        def fetch(path: Path) -> None:
            prefetching.ensure([path])

        archive.fetch = fetch
        return archive
