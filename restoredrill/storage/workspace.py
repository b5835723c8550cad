"""What a backup format reading through storage holds while it is open: its storages (the
backups' and the logs'), the prefetch cache of its logs, a temporary work directory — all
released by ``close()``. Formats subclass it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from restoredrill.aws import RetryLog
from restoredrill.storage.base import Storage
from restoredrill.storage.cache import PrefetchCache


class StorageWorkspace:
    def __init__(self, backups: Storage, logs: Storage) -> None:
        self._storages = (backups, logs)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._cache: PrefetchCache | None = None

    @property
    def retries(self) -> RetryLog | None:
        """What a flaky API (S3) needed retried, for phase details; None for a directory."""
        log = getattr(self._storages[0], "retries", None)
        return log if isinstance(log, RetryLog) else None

    @property
    def workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="restoredrill-source-")
        return Path(self._tmp.name)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        for storage in self._storages:
            storage.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
