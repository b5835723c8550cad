"""A directory source: base backups in one directory, WAL segments in another (the
format's one code path, :mod:`restoredrill.engines.postgres.source`, on local storage)."""

from __future__ import annotations

from pathlib import Path

from restoredrill.engines.postgres.source import BasebackupSource, Catalogue
from restoredrill.storage.local import LocalStorage

__all__ = ["Catalogue", "FileSource"]


class FileSource(BasebackupSource):
    def __init__(self, base_backups: Path, wal_archive: Path) -> None:
        self.base_backups = Path(base_backups)
        self.wal_archive = Path(wal_archive)
        super().__init__(LocalStorage(self.base_backups), LocalStorage(self.wal_archive))
