"""Objects that live elsewhere (S3, a pgBackRest repository), read through a local cache
with parallel prefetch; any format uses it for what it reads file by file (WAL segments,
binlogs).

The format catalogues each such object with a local path inside the cache directory where
the file appears when it is first read. Readers call :func:`ensure_local` first, which finds
the cache that owns the path and has it fetched together with the next few objects (in the
order the format gave: prefetch), ``workers`` at a time. So the plan and its preflight read
exactly the files they would read from a directory, and never wait for one at a time.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from restoredrill.storage.base import Storage

Download = Callable[[str, Path], object]  # (key, destination file)

_REGISTRY: dict[Path, PrefetchCache] = {}
_REGISTRY_LOCK = threading.Lock()


class PrefetchCache:
    """Fetches objects into ``directory``: ``entries`` are (local path, key) in read order;
    asking for one fetches it and the ``prefetch`` after it, ``workers`` at a time."""

    def __init__(
        self,
        directory: Path,
        entries: Sequence[tuple[Path, str]],
        download: Download,
        workers: int = 8,
        prefetch: int = 8,
    ) -> None:
        self.directory = directory
        self.download = download
        self.workers = max(1, workers)
        self.prefetch = max(0, prefetch)
        self._order = [str(path) for path, _key in entries]
        self._keys = {str(path): key for path, key in entries}
        self._index = {path: i for i, path in enumerate(self._order)}
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.fetched = 0
        self.fetched_bytes = 0

    @classmethod
    def over(
        cls,
        storage: Storage,
        directory: Path,
        entries: Sequence[tuple[Path, str]],
        workers: int = 8,
        prefetch: int = 8,
    ) -> PrefetchCache:
        """A cache of ``storage``'s objects, registered so :func:`ensure_local` finds it."""
        cache = cls(directory, entries, storage.fetch, workers, prefetch)
        cache.register()
        return cache

    def register(self) -> None:
        with _REGISTRY_LOCK:
            _REGISTRY[self.directory.resolve()] = self

    def close(self) -> None:
        with _REGISTRY_LOCK:
            if _REGISTRY.get(self.directory.resolve()) is self:
                del _REGISTRY[self.directory.resolve()]
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def owns(self, path: Path | str) -> bool:
        return str(path) in self._keys

    def ensure(self, paths: Iterable[Path | str]) -> None:
        """Make every one of ``paths`` a local file (raising what its download raised)."""
        wanted: list[Future[None]] = []
        with self._lock:
            for path in map(str, paths):
                if path not in self._keys or Path(path).exists():
                    continue
                wanted.append(self._schedule(path))
                start = self._index[path]
                for ahead in self._order[start + 1 : start + 1 + self.prefetch]:
                    if not Path(ahead).exists():
                        self._schedule(ahead)
        for future in wanted:
            future.result()

    def _schedule(self, path: str) -> Future[None]:
        future = self._futures.get(path)
        if future is not None and not (future.done() and future.exception() is not None):
            return future
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="prefetch")
        future = self._pool.submit(self._fetch, path)
        self._futures[path] = future
        return future

    def _fetch(self, path: str) -> None:
        dest = Path(path)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            self.download(self._keys[path], tmp)
            size = tmp.stat().st_size
            with self._lock:  # counted before it appears: a reader that sees it sees the count
                self.fetched += 1
                self.fetched_bytes += size
            tmp.replace(dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def ensure_local(paths: Iterable[Path | str]) -> None:
    """Fetch any of ``paths`` that live in a registered cache and are not there yet."""
    if not _REGISTRY:
        return
    groups: dict[PrefetchCache, list[str]] = {}
    with _REGISTRY_LOCK:
        for path in map(str, paths):
            cache = _REGISTRY.get(Path(path).parent.resolve())
            if cache is not None:
                groups.setdefault(cache, []).append(path)
    for cache, members in groups.items():
        cache.ensure(members)
