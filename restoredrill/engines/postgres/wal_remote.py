"""WAL that lives elsewhere (S3, a pgBackRest repository), read through a local cache.

A remote source catalogues its segments with ``path`` pointing into a local cache directory
where the file appears when it is first read. The readers of WAL (``validate_segment``, the
pg_waldump scan) call :func:`ensure_local` first, which finds the cache that owns the path
and has it fetched, together with the next few segments in parallel (prefetch): the plan
and its preflight therefore read exactly the WAL they would read from a directory, and only
that, and never wait for one segment at a time.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from restoredrill.models import WalSegment

Download = Callable[[WalSegment, Path], None]

_REGISTRY: dict[Path, SegmentCache] = {}
_REGISTRY_LOCK = threading.Lock()


class SegmentCache:
    """Fetches segments into ``directory`` (each under its ``path`` name), ``prefetch``
    ahead of the one asked for, ``workers`` at a time."""

    def __init__(
        self,
        directory: Path,
        segments: Sequence[WalSegment],
        download: Download,
        workers: int = 8,
        prefetch: int = 8,
    ) -> None:
        self.directory = directory
        self.download = download
        self.workers = max(1, workers)
        self.prefetch = max(0, prefetch)
        self._order = sorted(segments, key=lambda s: (s.segno, s.timeline))
        self._index = {s.path: i for i, s in enumerate(self._order)}
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.fetched = 0
        self.fetched_bytes = 0

    def register(self) -> None:
        with _REGISTRY_LOCK:
            _REGISTRY[self.directory.resolve()] = self

    def close(self) -> None:
        with _REGISTRY_LOCK:
            _REGISTRY.pop(self.directory.resolve(), None)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def ensure(self, segments: Sequence[WalSegment]) -> None:
        """Make every one of ``segments`` a local file (raising what its download raised)."""
        wanted: list[Future[None]] = []
        with self._lock:
            for segment in segments:
                if Path(segment.path).exists():
                    continue
                wanted.append(self._schedule(segment))
                start = self._index.get(segment.path)
                if start is not None:
                    for ahead in self._order[start + 1 : start + 1 + self.prefetch]:
                        if not Path(ahead.path).exists():
                            self._schedule(ahead)
        for future in wanted:
            future.result()

    def _schedule(self, segment: WalSegment) -> Future[None]:
        future = self._futures.get(segment.path)
        if future is not None and not (future.done() and future.exception() is not None):
            return future
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="wal-fetch")
        future = self._pool.submit(self._fetch, segment)
        self._futures[segment.path] = future
        return future

    def _fetch(self, segment: WalSegment) -> None:
        dest = Path(segment.path)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            self.download(segment, tmp)
            tmp.replace(dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        with self._lock:
            self.fetched += 1
            self.fetched_bytes += dest.stat().st_size


def ensure_local(segments: Sequence[WalSegment]) -> None:
    """Fetch any of ``segments`` that live in a registered cache and are not there yet."""
    if not _REGISTRY:
        return
    groups: dict[SegmentCache, list[WalSegment]] = {}
    with _REGISTRY_LOCK:
        for segment in segments:
            cache = _REGISTRY.get(Path(segment.path).parent.resolve())
            if cache is not None:
                groups.setdefault(cache, []).append(segment)
    for cache, members in groups.items():
        cache.ensure(members)
