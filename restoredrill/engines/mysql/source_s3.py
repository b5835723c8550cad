"""MariaDB / MySQL backups in S3: dumps (``.sql``, ``.sql.gz``, ``.sql.lz4``, ``.sql.zst``)
under s3://bucket/prefix (one object, or side by side under a prefix) and closed binlog
files with their index under another prefix, as a backup job copying them with `aws s3 cp`
leaves them.

Listing is cheap (ListObjectsV2); a dump's binlog coordinates come from its first MiB (a
ranged GET; for an uncompressed dump also the last 64 KiB, where mariadb-dump --gtid writes
the GTID), small dumps are fetched whole. The plan checks that the chosen dump is complete
(its footer): a ranged GET of a plain dump's last KiB; a compressed one is fetched whole and
decompressed to its end, and the restore loads that copy. Binlogs are read into a local
cache when the plan reads their event headers — in parallel, prefetching the next ones (the
WAL machinery of ``engines/postgres/wal_remote.py``) —
so the plan and its preflight are the directory
source's, unchanged, and a restore replays the files the plan already fetched. Otherwise the
dump is fetched next to the sandbox only when a restore loads it. Throttling and 5xx are
retried, access denied, a missing bucket or a wrong region fail at once
(``restoredrill/aws.py``).

mariabackup directories in S3 are not supported (yet): they are refused with a message.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from restoredrill.aws import AwsConfig, RetryLog
from restoredrill.engines.mysql.binlog import BinlogArchive, parse_binlog_name
from restoredrill.engines.mysql.dump_check import TAIL_BYTES as FOOTER_BYTES
from restoredrill.engines.mysql.dump_check import check_dump_complete, footer_problem
from restoredrill.engines.mysql.snapshots import CHECKPOINT_FILES, DUMP_SUFFIXES, read_dump
from restoredrill.engines.postgres.source_s3 import S3Source, S3Url, _Object
from restoredrill.engines.postgres.wal_remote import SegmentCache
from restoredrill.errors import BackupCorrupt, ConfigError
from restoredrill.models import MysqlSnapshot, WalSegment
from restoredrill.storage.compression import compression_of
from restoredrill.storage.s3_head import decompress_prefix

WHOLE_BYTES = 4 << 20  # dumps up to this size are fetched whole while cataloguing
HEAD_BYTES = 1 << 20
TAIL_BYTES = 64 << 10


class MysqlS3Source:
    kind = "s3"

    def __init__(
        self,
        snapshot: S3Url,
        binlog_archive: S3Url,
        aws: AwsConfig | None = None,
        workers: int = 8,
        prefetch: int = 8,
    ) -> None:
        self.snapshot = snapshot
        self.binlog_archive = binlog_archive
        # the S3 plumbing (client, retries, listing, GETs, parallel downloads) is shared
        self._s3 = S3Source(snapshot, binlog_archive, aws, workers, prefetch)
        self._objects: dict[str, _Object] = {}  # snapshot URL -> its object
        self._local: dict[str, Path] = {}  # snapshot URL -> a copy fetched whole
        self._cache: SegmentCache | None = None

    @property
    def retries(self) -> RetryLog:
        return self._s3.retries

    def describe(self) -> str:
        return f"{self.snapshot} (binlogs {self.binlog_archive})"

    def binlog_label(self) -> str:
        return str(self.binlog_archive)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self._s3.close()

    @property
    def fetch_stats(self) -> tuple[int, int]:
        """(binlog files downloaded, bytes) so far."""
        if self._cache is None:
            return 0, 0
        return self._cache.fetched, self._cache.fetched_bytes

    # --- snapshots ---------------------------------------------------------------------

    def snapshots(self) -> list[MysqlSnapshot]:
        url = self.snapshot
        if url.prefix.endswith(DUMP_SUFFIXES):  # one dump named by its key
            parent = S3Url(url.bucket, url.prefix.rpartition("/")[0])
            objects = [o for o in self._s3._list(parent) if o.key == url.prefix]
            if not objects:
                raise ConfigError(f"--snapshot {url}: no such object")
            return [self._read_dump(url, objects[0])]
        objects = self._s3._list(url)
        found: list[MysqlSnapshot] = []
        for obj in sorted(objects, key=lambda o: o.key):
            name = obj.key[len(url.dir_prefix) :]
            head, sep, rest = name.partition("/")
            if (sep and rest in CHECKPOINT_FILES) or name in CHECKPOINT_FILES:
                where = url.child(head) if sep else url
                raise ConfigError(
                    f"{where}: a mariabackup directory; restoring mariabackup directories from "
                    "S3 is not supported (dumps .sql/.sql.gz are) — download it and pass the "
                    "local directory to --snapshot"
                )
            if not sep and name.endswith(DUMP_SUFFIXES):
                found.append(self._read_dump(url.child(name), obj))
        return found

    def _read_dump(self, url: S3Url, obj: _Object) -> MysqlSnapshot:
        """The dump's coordinates from its header (the object itself if it is small)."""
        name = url.prefix.rpartition("/")[2]
        compression = compression_of(Path(name))
        folder = self._s3.workdir / "snapshots" / str(len(self._objects))
        folder.mkdir(parents=True, exist_ok=True)
        if obj.size <= WHOLE_BYTES:
            local = folder / name
            self._s3._get(url.bucket, obj.key, local)
            self._local[str(url)] = local
            found = read_dump(local)
        else:
            head = self._s3._read(url.bucket, obj.key, f"bytes=0-{HEAD_BYTES - 1}")
            try:
                text = decompress_prefix(head, compression)
            except zlib.error as exc:
                raise BackupCorrupt(
                    f"snapshot {url}: the {compression} stream is damaged ({exc})"
                ) from exc
            if compression == "none":  # mariadb-dump --gtid writes the GTID at the end
                tail = self._s3._read(url.bucket, obj.key, f"bytes={obj.size - TAIL_BYTES}-")
                text = text + b"\n" + tail
            probe = folder / "header.sql"
            probe.write_bytes(text)
            found = read_dump(probe)
            probe.unlink()
        self._objects[str(url)] = obj
        return found.model_copy(
            update={"path": str(url), "compression": compression, "size_bytes": obj.size}
        )

    def check_dump(self, snapshot: MysqlSnapshot) -> None:
        """The footer check (``mysql_dump_check``): a plain dump's last KiB by a ranged GET;
        a compressed one must be decompressed to its end, so it is fetched whole (and kept:
        the restore loads that copy instead of fetching it again)."""
        kept = self._local.get(snapshot.path)
        if kept is not None and kept.is_file():
            check_dump_complete(kept, snapshot.path)
            return
        obj = self._objects.get(snapshot.path)
        if obj is None:
            raise ConfigError(f"{snapshot.path}: not catalogued by this source")
        url = S3Url.parse(snapshot.path)
        if snapshot.compression == "none":
            start = max(0, obj.size - FOOTER_BYTES)
            tail = self._s3._read(url.bucket, obj.key, f"bytes={start}-")
            problem = footer_problem(snapshot.path, tail)
            if problem is not None:
                raise BackupCorrupt(problem)
            return
        folder = self._s3.workdir / "snapshots" / "checked"
        folder.mkdir(parents=True, exist_ok=True)
        parent = S3Url(url.bucket, url.prefix.rpartition("/")[0])
        self._s3._download_all(parent, [obj], folder)
        local = folder / url.prefix.rpartition("/")[2]
        self._local[snapshot.path] = local
        check_dump_complete(local, snapshot.path)

    def local_snapshot(self, snapshot: MysqlSnapshot, work: Path) -> Path:
        """The dump, fetched next to the sandbox (parallel ranged GETs) unless it already is."""
        kept = self._local.pop(snapshot.path, None)
        if kept is not None and kept.is_file():
            return kept
        obj = self._objects.get(snapshot.path)
        if obj is None:
            raise ConfigError(f"{snapshot.path}: not catalogued by this source")
        url = S3Url.parse(snapshot.path)
        parent = S3Url(url.bucket, url.prefix.rpartition("/")[0])
        dest = work / "snapshot-download"
        dest.mkdir(mode=0o700, exist_ok=True)
        self._s3._download_all(parent, [obj], dest)
        return dest / url.prefix.rpartition("/")[2]

    # --- binlogs -----------------------------------------------------------------------

    def binlogs(self) -> BinlogArchive:
        url = self.binlog_archive
        cache = self._s3.workdir / "binlog"
        cache.mkdir(exist_ok=True)
        by_base: dict[str, dict[int, _Object]] = {}
        indexes: dict[str, _Object] = {}
        for obj in self._s3._list(url):
            name = obj.key[len(url.dir_prefix) :]
            if "/" in name:
                continue  # the flat layout a copy of the binlog directory has
            if name.endswith(".index"):
                indexes[name[: -len(".index")]] = obj
            elif (parsed := parse_binlog_name(name)) is not None:
                by_base.setdefault(parsed[0], {})[parsed[1]] = obj
        if len(by_base) > 1:
            raise ConfigError(
                f"--binlog-archive {url} holds binlogs of several servers "
                f"({', '.join(sorted(by_base))}); keep one per prefix"
            )
        base = next(iter(by_base), "")
        objects = by_base.get(base, {})
        index = None
        if base and base in indexes:
            text = self._s3._read(url.bucket, indexes[base].key).decode(errors="replace")
            index = [Path(ln.strip()).name for ln in text.splitlines() if ln.strip()]
        files: dict[int, Path] = {}
        keys: dict[str, str] = {}
        segments: dict[str, WalSegment] = {}
        for seq, obj in objects.items():
            name = obj.key[len(url.dir_prefix) :]
            local = cache / name
            files[seq] = local
            keys[str(local)] = obj.key
            segments[str(local)] = WalSegment(
                name=name,
                timeline=0,
                segno=seq,
                path=str(local),
                compression="none",
                size_bytes=obj.size,
            )

        def download(segment: WalSegment, dest: Path) -> None:
            self._s3._get(url.bucket, keys[segment.path], dest)

        if self._cache is not None:
            self._cache.close()
        cache_ = SegmentCache(
            cache, list(segments.values()), download, self._s3.workers, self._s3.prefetch
        )
        self._cache = cache_

        def fetch(path: Path) -> None:
            segment = segments.get(str(path))
            if segment is not None:
                cache_.ensure([segment])

        return BinlogArchive(cache, base, files, index, fetch=fetch)
