"""MariaDB / MySQL backups in S3: dumps under s3://bucket/prefix (one object, or side by side
under a prefix) and closed binlog files with their index under another prefix, as a backup
job copying them with `aws s3 cp` leaves them. It is the format's one code path
(``engines/mysql/source_storage.py``) on S3 storage: both prefixes share one client and one
retry log; throttling and 5xx are retried, access denied, a missing bucket or a wrong region
fail at once (``restoredrill/aws.py``)."""

from __future__ import annotations

from restoredrill.aws import AwsConfig, RetryLog
from restoredrill.engines.mysql.snapshots import DUMP_SUFFIXES
from restoredrill.engines.mysql.source_storage import StorageMysqlSource
from restoredrill.storage.s3 import S3Storage, S3Url


class MysqlS3Source(StorageMysqlSource):
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
        single: str | None = None
        where = snapshot
        if snapshot.prefix.endswith(DUMP_SUFFIXES):  # one dump named by its key
            parent, _, single = snapshot.prefix.rpartition("/")
            where = S3Url(snapshot.bucket, parent)
        self._s3 = S3Storage(where, aws)
        binlogs = S3Storage(binlog_archive, shared=self._s3)
        super().__init__(self._s3, single, binlogs, workers, prefetch)

    @property
    def retries(self) -> RetryLog:
        return self._s3.retries
