"""An S3 source: base backups and WAL under s3://bucket/prefix, in the layout of a directory
source uploaded as it is (what an `aws s3 cp`-style archive_command writes): WAL segments
side by side, optionally .gz/.lz4/.zst, timeline .history and backup history files next to
them; pg_basebackup output (tar, compressed tar, or plain) one backup per "subdirectory".

It is the format's one code path (:mod:`restoredrill.engines.postgres.source`) on S3
storage: both prefixes share one client and one retry log.
"""

from __future__ import annotations

from typing import Any

from restoredrill.aws import AwsConfig, RetryLog
from restoredrill.engines.postgres.source import BasebackupSource
from restoredrill.storage.s3 import S3Storage, S3Url

__all__ = ["S3Source"]


class S3Source(BasebackupSource):
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
        self.s3 = S3Storage(base_backups, aws)
        wal = S3Storage(wal_archive, shared=self.s3)
        super().__init__(self.s3, wal, workers, prefetch)

    @property
    def client(self) -> Any:
        return self.s3.client

    @property
    def aws(self) -> AwsConfig:
        return self.s3.aws

    @property
    def retries(self) -> RetryLog:
        return self.s3.retries
