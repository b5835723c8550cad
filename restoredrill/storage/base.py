"""Where backup bytes live, as a backup format needs them: list the objects under a prefix,
read a byte range, fetch an object to a local file. A format (pg_basebackup + WAL, Barman,
a dump + binlogs) reads through this, so each format works on every storage.

Keys are relative to the storage's root and always use ``/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str  # relative to the storage root, "/"-separated
    size: int
    # seconds since the epoch, when the storage knows it (a label's mtime settles an
    # ambiguous time zone); not part of an object's identity
    mtime: float | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class Storage(Protocol):
    def describe(self, key: str = "") -> str:
        """How a person finds ``key`` (a path, an s3:// URL), for messages."""
        ...

    def list(self, prefix: str = "") -> list[StoredObject]:
        """Every object under ``prefix`` (recursive), sorted by key; [] when there is none."""
        ...

    def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        """``length`` bytes from ``start`` (to the end when None)."""
        ...

    def fetch(self, key: str, dest: Path) -> int:
        """The whole object into ``dest`` (rewritten from scratch); bytes written."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's own file when it is on this machine (read in place), else None."""
        ...

    def close(self) -> None: ...


def join(prefix: str, name: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{name}" if prefix else name
