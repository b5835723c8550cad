"""Work that several restores of the same backup can do once: ``recover`` restores to just
before and just after one transaction, in parallel, and both plans would otherwise scan the
same WAL for that transaction. Engine-neutral: an engine names its own keys."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: Any = None


class SharedWork:
    """``once(key, compute)``: the first caller computes, a concurrent caller with the same
    key waits for that result instead of computing it again. A failure is not kept (the next
    caller computes, and fails or not on its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Hashable, _Slot] = {}

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
        with slot.lock:
            if not slot.done:
                slot.value = compute()
                slot.done = True
            value: T = slot.value
            return value


__all__ = ["SharedWork"]
