"""An S3 source: base backups and WAL under s3://bucket/prefix, in the layout of a directory
source uploaded as it is (what an `aws s3 cp`-style archive_command writes): WAL segments
side by side, optionally .gz/.lz4/.zst, timeline .history and backup history files next to
them; pg_basebackup output (tar, compressed tar, or plain) one backup per "subdirectory".

Listing is cheap (ListObjectsV2); contents are read lazily through a local cache: a base
backup's label from the first MiB of its tar (a ranged GET), WAL when the plan reads it
(``engines/postgres/wal_remote.py``: in parallel, prefetching ahead), the whole base
backup only when a restore extracts it. The plan and its preflight are the directory
source's, unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restoredrill.aws import AwsConfig, RetryLog, aws_errors, make_client, retrying
from restoredrill.engines.postgres.basebackups import BASE_TAR_NAMES, BackupHistory, read_backup
from restoredrill.engines.postgres.source_local import Catalogue, FileSource
from restoredrill.engines.postgres.wal_archive import WalArchive, read_history_file
from restoredrill.engines.postgres.wal_remote import SegmentCache
from restoredrill.errors import ConfigError
from restoredrill.lsn import parse_segment_name
from restoredrill.models import BaseBackup, WalSegment
from restoredrill.osuser import RunAs
from restoredrill.storage.compression import (
    Compression,
    compression_of,
    decompress_to,
    strip_suffix,
)
from restoredrill.storage.s3_head import decompress_prefix, tar_members

HEAD_BYTES = 1 << 20
CHUNK = 1 << 20
_HISTORY_RE = re.compile(r"^([0-9A-F]{8})\.history$")
_BACKUP_RE = re.compile(r"^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$")


@dataclass(frozen=True)
class S3Url:
    bucket: str
    prefix: str  # without leading or trailing slash; "" for the bucket's root

    @classmethod
    def parse(cls, text: str) -> S3Url:
        if not text.startswith("s3://"):
            raise ConfigError(f"{text!r} is not an s3:// URL")
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket or not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
            raise ConfigError(f"{text!r}: not a valid S3 bucket name {bucket!r}")
        return cls(bucket, prefix.strip("/"))

    @property
    def dir_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def key(self, name: str) -> str:
        return self.dir_prefix + name

    def child(self, name: str) -> S3Url:
        return S3Url(self.bucket, self.key(name).strip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class _Object:
    key: str
    size: int


class S3Source:
    kind = "s3"

    def __init__(
        self,
        base_backups: S3Url,
        wal_archive: S3Url,
        aws: AwsConfig | None = None,
        workers: int = 8,
        prefetch: int = 8,
    ) -> None:
        self.base_backups = base_backups
        self.wal_archive = wal_archive
        self.aws = aws or AwsConfig.from_env()
        self.workers = workers
        self.prefetch = prefetch
        self.retries = RetryLog()
        self._client: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._cache: SegmentCache | None = None
        self._backups: dict[str, tuple[str, list[_Object]]] = {}  # url -> (fmt, objects)
        self._skeletons: dict[str, Path] = {}
        self._histories: list[Path] = []

    # --- plumbing ---------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            with aws_errors("creating the S3 client", self.aws.region):
                self._client = make_client("s3", self.aws, self.retries)
        return self._client

    @property
    def workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="restoredrill-s3-")
        return Path(self._tmp.name)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def describe(self) -> str:
        return f"{self.base_backups} (WAL {self.wal_archive})"

    def _list(self, url: S3Url) -> list[_Object]:
        found: list[_Object] = []
        with aws_errors(f"listing {url}", self.aws.region):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=url.bucket, Prefix=url.dir_prefix):
                for item in page.get("Contents") or []:
                    found.append(_Object(str(item["Key"]), int(item["Size"])))
        return found

    def _get(self, bucket: str, key: str, dest: Path, byte_range: str | None = None) -> int:
        """GET one object into ``dest`` (rewritten from scratch on a retried read)."""

        def attempt() -> int:
            extra = {"Range": byte_range} if byte_range else {}
            response = self.client.get_object(Bucket=bucket, Key=key, **extra)
            written = 0
            with dest.open("wb") as sink:
                for chunk in response["Body"].iter_chunks(CHUNK):
                    sink.write(chunk)
                    written += len(chunk)
            return written

        with aws_errors(f"reading s3://{bucket}/{key}", self.aws.region):
            return retrying(attempt, "GetObject", self.retries)

    def _read(self, bucket: str, key: str, byte_range: str | None = None) -> bytes:
        with tempfile.NamedTemporaryFile(dir=self.workdir) as handle:
            self._get(bucket, key, Path(handle.name), byte_range)
            return Path(handle.name).read_bytes()

    # --- catalogue -------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        archive = self._catalogue_wal()
        return Catalogue(self._catalogue_backups(archive), archive)

    def _catalogue_wal(self) -> WalArchive:
        walcache = self.workdir / "wal"
        walcache.mkdir(exist_ok=True)
        archive = WalArchive(walcache)
        keys: dict[str, str] = {}
        for obj in self._list(self.wal_archive):
            name = obj.key[len(self.wal_archive.dir_prefix) :]
            if "/" in name:
                continue  # not the flat layout an archive_command writes
            plain = strip_suffix(name)
            if match := _HISTORY_RE.match(plain):
                if name == plain:
                    local = walcache / name
                    local.write_bytes(self._read(self.wal_archive.bucket, obj.key))
                    archive.histories[int(match.group(1), 16)] = read_history_file(local)
                    self._histories.append(local)
                continue
            if _BACKUP_RE.match(plain) and name == plain:
                text = self._read(self.wal_archive.bucket, obj.key).decode(errors="replace")
                history = BackupHistory(text)
                with contextlib.suppress(KeyError, IndexError, ValueError):
                    archive.backup_histories[history.start_lsn] = history
                continue
            try:
                timeline, segno = parse_segment_name(plain)
            except ValueError:
                continue
            local = walcache / name
            segment = WalSegment(
                name=plain,
                timeline=timeline,
                segno=segno,
                path=str(local),
                compression=compression_of(local),
                size_bytes=obj.size,
            )
            per_timeline = archive.segments.setdefault(timeline, {})
            if segno in per_timeline and per_timeline[segno].compression == "none":
                continue  # the same segment twice: prefer the uncompressed copy
            per_timeline[segno] = segment
            keys[str(local)] = obj.key
        segments = [s for per in archive.segments.values() for s in per.values()]

        def download(segment: WalSegment, dest: Path) -> None:
            self._get(self.wal_archive.bucket, keys[segment.path], dest)

        if self._cache is not None:
            self._cache.close()
        self._cache = SegmentCache(walcache, segments, download, self.workers, self.prefetch)
        self._cache.register()
        return archive

    def _catalogue_backups(self, archive: WalArchive) -> list[BaseBackup]:
        root = self.base_backups
        objects = self._list(root)
        groups: dict[str, list[_Object]] = {}
        names = {o.key[len(root.dir_prefix) :]: o for o in objects}
        if any(n in BASE_TAR_NAMES or n == "backup_label" for n in names):
            groups[""] = objects  # the prefix itself is one backup
        else:
            for name, obj in names.items():
                head, sep, _rest = name.partition("/")
                if sep:
                    groups.setdefault(head, []).append(obj)
        backups: list[BaseBackup] = []
        for group, members in sorted(groups.items()):
            backup = self._catalogue_backup(root.child(group) if group else root, members, archive)
            if backup is not None:
                backups.append(backup)
        return sorted(backups, key=lambda b: (b.end_lsn, b.start_time))

    def _catalogue_backup(
        self, url: S3Url, objects: list[_Object], archive: WalArchive
    ) -> BaseBackup | None:
        rel = {o.key[len(url.dir_prefix) :]: o for o in objects}
        base_tar = next((n for n in BASE_TAR_NAMES if n in rel), None)
        skeleton = self.workdir / "base" / (url.key("").strip("/").replace("/", "_") or "_")
        skeleton.mkdir(parents=True, exist_ok=True)
        compression: Compression = "none"
        if base_tar is not None:
            compression = compression_of(Path(base_tar))
            members, mtime = self._tar_head(url.bucket, rel[base_tar], compression)
            if "backup_label" not in members:
                from restoredrill.errors import BackupCorrupt

                raise BackupCorrupt(f"{url}/{base_tar}: no backup_label inside")
            (skeleton / "backup_label").write_bytes(members["backup_label"])
            if mtime is not None:
                os.utime(skeleton / "backup_label", (mtime, mtime))
            if "PG_VERSION" in members:
                (skeleton / "PG_VERSION").write_bytes(members["PG_VERSION"])
        elif "backup_label" in rel:
            for name in ("backup_label", "PG_VERSION"):
                if name in rel:
                    (skeleton / name).write_bytes(self._read(url.bucket, rel[name].key))
        else:
            return None
        if "backup_manifest" in rel:
            self._get(url.bucket, rel["backup_manifest"].key, skeleton / "backup_manifest")
        found = read_backup(skeleton, archive.backup_histories)
        if found is None:
            return None
        self._backups[str(url)] = ("tar" if base_tar else "plain", objects)
        self._skeletons[str(url)] = skeleton
        return found.model_copy(
            update={
                "path": str(url),
                "format": "tar" if base_tar else "plain",
                "compression": compression,
                "size_bytes": sum(o.size for o in objects),
            }
        )

    def _tar_head(
        self, bucket: str, obj: _Object, compression: Compression
    ) -> tuple[dict[str, bytes], float | None]:
        """backup_label (and PG_VERSION, if near) from the first bytes of a base tar:
        pg_basebackup writes backup_label first, so a ranged GET of a MiB is enough."""
        length = HEAD_BYTES
        while True:
            whole = length >= obj.size
            data = self._read(bucket, obj.key, None if whole else f"bytes=0-{length - 1}")
            members, mtime = tar_members(decompress_prefix(data, compression))
            if "backup_label" in members or whole:
                return members, mtime
            length *= 8

    def base_manifest(self, backup: BaseBackup) -> Path | None:
        skeleton = self._skeletons.get(backup.path)
        manifest = skeleton / "backup_manifest" if skeleton else None
        return manifest if manifest is not None and manifest.is_file() else None

    # --- fetching ----------------------------------------------------------------------

    def extract_base(self, backup: BaseBackup, datadir: Path, run_as: RunAs) -> int:
        """Download the backup's objects next to the sandbox (parallel, multipart), then
        unpack them exactly as the directory source does; the download is removed after."""
        if backup.path not in self._backups:
            raise ConfigError(f"{backup.path}: not catalogued by this source")
        _fmt, objects = self._backups[backup.path]
        url = S3Url.parse(backup.path)
        local = datadir.parent / "base-download"
        local.mkdir(mode=0o700)
        try:
            self._download_all(url, objects, local)
            local_backup = backup.model_copy(update={"path": str(local)})
            return FileSource(local, local).extract_base(local_backup, datadir, run_as)
        finally:
            shutil.rmtree(local, ignore_errors=True)

    def _download_all(self, url: S3Url, objects: list[_Object], dest: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(max_concurrency=self.workers, multipart_chunksize=16 << 20)

        def one(obj: _Object) -> None:
            target = dest / obj.key[len(url.dir_prefix) :]
            if ".." in Path(target).relative_to(dest).parts:
                raise ConfigError(f"refusing object key {obj.key!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with aws_errors(f"downloading s3://{url.bucket}/{obj.key}", self.aws.region):
                self.client.download_file(url.bucket, obj.key, str(target), Config=transfer)

        with ThreadPoolExecutor(self.workers) as pool:
            for future in [pool.submit(one, obj) for obj in objects]:
                future.result()

    def stage_segments(self, segments: list[WalSegment], dest: Path, run_as: RunAs) -> int:
        """Fetch (in parallel; the plan usually has already) and decompress the segments
        replay needs into the sandbox's staging directory."""
        assert self._cache is not None, "catalogue() first"
        self._cache.ensure(segments)
        total = 0
        for segment in segments:
            target = dest / segment.name
            total += decompress_to(Path(segment.path), target)
            run_as.own(target)
            Path(segment.path).unlink(missing_ok=True)  # one copy on disk is enough
        return total

    def stage_histories(self, dest: Path, run_as: RunAs) -> None:
        for history in self._histories:
            target = dest / history.name
            target.write_bytes(history.read_bytes())
            run_as.own(target)

    @property
    def fetch_stats(self) -> tuple[int, int]:
        """(segments downloaded, bytes) so far."""
        if self._cache is None:
            return 0, 0
        return self._cache.fetched, self._cache.fetched_bytes

    def wal_fetch_config(self) -> dict[str, object]:
        """What `restoredrill wal-fetch` needs to read this archive (no credentials)."""
        return {
            "kind": "s3",
            "bucket": self.wal_archive.bucket,
            "prefix": self.wal_archive.prefix,
            "region": self.aws.region,
            "endpoint_url": self.aws.endpoint_url,
            "retry_mode": self.aws.retry_mode,
            "max_attempts": self.aws.max_attempts,
        }
