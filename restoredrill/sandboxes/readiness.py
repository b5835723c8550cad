"""Seeing at once that a server moved on (replay done, ready for connections): its log is
read incrementally, on a backoff that starts at a millisecond, instead of re-read whole
on a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

READY = "database system is ready to accept connections"
FIRST_PAUSE = 0.001
LONGEST_PAUSE = 0.025


def backoff(deadline: float) -> Iterator[int]:
    """Yields until ``deadline`` (monotonic), pausing 1 ms, then longer, up to 25 ms."""
    pause = FIRST_PAUSE
    attempt = 0
    while time.monotonic() < deadline:
        yield attempt
        attempt += 1
        time.sleep(pause)
        pause = min(LONGEST_PAUSE, pause * 1.5)


class LogReader(Protocol):
    """Something that gives the server log's text so far."""

    def read(self) -> str: ...


class LogWatch:
    """The text of a growing log file, reading only what was appended since last time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._text = ""

    def read(self) -> str:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return self._text
        # whole text kept: a marker split across two reads is still found
        self._offset += len(data)
        self._text += data.decode(errors="replace")
        return self._text
