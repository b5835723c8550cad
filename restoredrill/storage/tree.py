"""Fetching every object under a prefix into a local directory (a base backup, a dump),
several at a time, keeping their relative paths."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from restoredrill.errors import ConfigError
from restoredrill.storage.base import Storage, StoredObject


def relative_key(prefix: str, key: str) -> str:
    """``key`` below ``prefix`` ("" for the storage's root)."""
    prefix = prefix.strip("/")
    return key[len(prefix) + 1 :] if prefix else key


def fetch_tree(
    storage: Storage, prefix: str, objects: Sequence[StoredObject], dest: Path, workers: int = 8
) -> None:
    """``objects`` (all under ``prefix``) into ``dest``, in parallel."""

    def one(obj: StoredObject) -> None:
        rel = relative_key(prefix, obj.key)
        if not rel or ".." in Path(rel).parts or Path(rel).is_absolute():
            raise ConfigError(f"refusing object key {obj.key!r}")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        storage.fetch(obj.key, target)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for future in [pool.submit(one, obj) for obj in objects]:
            future.result()
