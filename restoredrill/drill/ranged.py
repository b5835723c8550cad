"""A read-only sequence read a range at a time (rows on disk, a selection of them, a table's
rows to write): indexing and slicing go through one method, ``_range``."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TypeVar, overload

T = TypeVar("T")


class Ranged(Sequence[T]):
    @abstractmethod
    def _range(self, start: int, stop: int) -> list[T]:
        """Rows start..stop (0 <= start < stop <= len)."""

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return self._range(start, stop) if start < stop else []
            return [self._range(i, i + 1)[0] for i in range(start, stop, step)]  # rare: tests
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__} index out of range")
        return self._range(index, index + 1)[0]


__all__ = ["Ranged"]
