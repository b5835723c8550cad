"""A local directory as storage: objects are files under the root."""

from __future__ import annotations

import shutil
from pathlib import Path

from restoredrill.errors import ConfigError
from restoredrill.storage.base import StoredObject


class LocalStorage:
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        root = self.root.resolve()
        if path != root and root not in path.parents:
            raise ConfigError(f"{key!r} is outside {self.root}")
        return path

    def list(self, prefix: str = "") -> list[StoredObject]:
        if prefix:
            self._path(prefix)  # refuses a prefix outside the root
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        found = [
            StoredObject(path.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime)
            for path in base.rglob("*")
            if path.is_file() and (stat := path.stat())
        ]
        return sorted(found, key=lambda obj: obj.key)

    def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        with self._path(key).open("rb") as handle:
            handle.seek(start)
            return handle.read() if length is None else handle.read(length)

    def fetch(self, key: str, dest: Path) -> int:
        shutil.copyfile(self._path(key), dest)
        return dest.stat().st_size

    def local_path(self, key: str) -> Path | None:
        self._path(key)  # refuses a key outside the root
        # the path as the user spelled it (messages name it so), not the resolved one
        return self.root / key if key else self.root

    def close(self) -> None:
        return None
