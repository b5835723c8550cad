"""Bytes kept in an unnamed temporary file instead of memory (a diff's rows, a reapply's
encoded batches): 0600, unlinked at creation, so nothing is left behind even by a crash,
and gone when the last reader is.

The spills of a process share one such file (per temporary directory): a file per table
with differences would run a diff or a reapply of thousands of tables out of file
descriptors (a default soft limit is 1,024). A file is closed, and its space freed, when the
last spill writing to it goes; past ``ROTATE_BYTES`` new spills start a new one, so a
long-lived process does not keep one growing file alive for one old spill."""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from typing import IO, Any, Generic, TypeVar

from restoredrill.errors import InfrastructureError

Ref = tuple[int, int]  # (offset, length)
K = TypeVar("K")
ROTATE_BYTES = 1 << 30


class _SharedFile:
    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile(prefix="restoredrill-")  # noqa: SIM115
        self.size = 0
        self.lock = threading.Lock()

    def put(self, data: bytes) -> int:
        with self.lock:  # where it goes is reserved under the lock; the write is positional
            at = self.size
            self.size += len(data)
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.pwrite(self.file.fileno(), view[done:], at + done)
        return at


_files: dict[str, weakref.ref[_SharedFile]] = {}  # per temporary directory
_files_lock = threading.Lock()


def _shared_file() -> _SharedFile:
    where = tempfile.gettempdir()
    with _files_lock:
        known = _files.get(where)
        shared = known() if known is not None else None
        if shared is None or shared.size >= ROTATE_BYTES:
            shared = _SharedFile()
            _files[where] = weakref.ref(shared)
        return shared


class Spill:
    def __init__(self, what: str) -> None:
        self._what = what  # for the error message: "the diff's rows"
        self._file: _SharedFile | None = None  # taken on the first put: many spills put nothing

    def put(self, data: bytes) -> Ref:
        try:
            if self._file is None:
                self._file = _shared_file()
            return self._file.put(data), len(data)
        except OSError as exc:
            raise InfrastructureError(
                f"cannot keep {self._what} in {tempfile.gettempdir()} "
                f"({exc.strerror or exc}); set TMPDIR to a directory with room"
            ) from exc

    def get(self, ref: Ref) -> bytes:
        offset, length = ref
        if self._file is None:
            raise KeyError(ref)  # a programming error: nothing was put
        return os.pread(self._file.file.fileno(), length, offset)


class SpilledMap(Generic[K]):
    """key -> (a small head kept in memory, bytes kept on disk)."""

    def __init__(self, what: str) -> None:
        self._spill = Spill(what)
        self._refs: dict[K, tuple[Any, Ref]] = {}

    def put(self, key: K, head: Any, data: bytes) -> None:
        self._refs[key] = (head, self._spill.put(data))

    def get(self, key: K) -> tuple[Any, bytes] | None:
        found = self._refs.get(key)
        if found is None:
            return None
        head, ref = found
        return head, self._spill.get(ref)

    def head(self, key: K) -> Any:
        """The head alone (None: no such key), without reading the bytes."""
        found = self._refs.get(key)
        return None if found is None else found[0]

    def discard(self, key: K) -> None:
        self._refs.pop(key, None)  # its bytes stay on disk until the spill goes


__all__ = ["Ref", "Spill", "SpilledMap"]
