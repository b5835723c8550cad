"""Where MariaDB / MySQL backups live: a snapshot (dump or mariabackup, or a directory of
them) and a binlog archive, in local paths or under s3:// URLs, read by one code path over
the storage (``engines/mysql/source_storage.py``).
The plan and the restore only talk to :class:`MysqlSource`, so both go through the same
preflight checks and the same timed phases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from restoredrill.engines.mysql.binlog import BinlogArchive
from restoredrill.engines.mysql.source_storage import StorageMysqlSource
from restoredrill.errors import ConfigError
from restoredrill.models import MysqlSnapshot
from restoredrill.sources.base import is_url
from restoredrill.storage.local import LocalStorage

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig


@runtime_checkable
class MysqlSource(Protocol):
    kind: str

    def describe(self) -> str: ...

    def binlog_label(self) -> str: ...

    def snapshots(self) -> list[MysqlSnapshot]: ...

    def binlogs(self) -> BinlogArchive: ...

    def local_snapshot(self, snapshot: MysqlSnapshot, work: Path) -> Path:
        """A local copy of the snapshot (fetched into ``work`` if it is remote)."""
        ...

    def check_dump(self, snapshot: MysqlSnapshot) -> None:
        """Raise BackupCorrupt unless the dump is complete (ends with its footer)."""
        ...

    def close(self) -> None: ...


class FileMysqlSource(StorageMysqlSource):
    """Local paths: the format's one code path on local storage."""

    def __init__(self, snapshot: Path, binlog_archive: Path) -> None:
        self.snapshot = Path(snapshot)
        self.binlog_archive = Path(binlog_archive)
        single = self.snapshot.is_file()  # a dump named by its path (any name)
        snapshots = LocalStorage(self.snapshot.parent if single else self.snapshot)
        super().__init__(
            snapshots, self.snapshot.name if single else None, LocalStorage(self.binlog_archive)
        )


def open_mysql_source(
    snapshot: str | Path, binlog_archive: str | Path, aws: AwsConfig | None = None
) -> MysqlSource:
    """Local paths, or an S3 source when both are s3:// URLs."""
    snap, binlogs = str(snapshot), str(binlog_archive)
    if is_url(snap) or is_url(binlogs):
        if not (is_url(snap) and is_url(binlogs)):
            raise ConfigError(
                "--snapshot and --binlog-archive must both be s3:// URLs or both local paths"
            )
        from restoredrill.aws import AwsConfig
        from restoredrill.engines.mysql.source_s3 import MysqlS3Source
        from restoredrill.storage.s3 import S3Url

        return MysqlS3Source(S3Url.parse(snap), S3Url.parse(binlogs), aws or AwsConfig.from_env())
    return FileMysqlSource(Path(snap), Path(binlogs))
