"""Bytes kept in an unnamed temporary file instead of memory (a diff's rows, a reapply's
encoded batches): 0600, unlinked at creation, so nothing is left behind even by a crash,
and gone when the last reader is."""

from __future__ import annotations

import os
import tempfile
from typing import IO, Any, Generic, TypeVar

from restoredrill.errors import InfrastructureError

Ref = tuple[int, int]  # (offset, length)
K = TypeVar("K")


class Spill:
    def __init__(self, what: str) -> None:
        self._what = what  # for the error message: "the diff's rows"
        self._file: IO[bytes] | None = None
        self._size = 0

    def put(self, data: bytes) -> Ref:
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="restoredrill-")  # noqa: SIM115
            self._file.write(data)
            self._file.flush()  # read back with pread, past Python's buffer
        except OSError as exc:
            raise InfrastructureError(
                f"cannot keep {self._what} in {tempfile.gettempdir()} "
                f"({exc.strerror or exc}); set TMPDIR to a directory with room"
            ) from exc
        at = self._size
        self._size += len(data)
        return at, len(data)

    def get(self, ref: Ref) -> bytes:
        offset, length = ref
        if self._file is None:
            raise KeyError(ref)  # a programming error: nothing was put
        return os.pread(self._file.fileno(), length, offset)


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
