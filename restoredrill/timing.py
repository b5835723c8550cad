"""Phase timing on a monotonic clock, with progress events for whoever is watching."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from restoredrill.models import PhaseTiming


class ProgressListener(Protocol):
    """Receives progress from library code, which never prints (the CLI renders it)."""

    def phase_started(self, name: str) -> None: ...

    def phase_finished(self, timing: PhaseTiming) -> None: ...

    def note(self, message: str) -> None: ...


class ByteProgress(Protocol):
    """Optional: a listener that also shows progress inside a phase."""

    def phase_progress(self, name: str, done: int, total: int | None) -> None: ...


# Where code deep inside a phase (a source unpacking a tar) reports how far it got,
# without every source's signature carrying a callback: set by PhaseClock.phase.
_REPORT: contextvars.ContextVar[Callable[[int, int | None], None] | None] = contextvars.ContextVar(
    "restoredrill_progress", default=None
)


def report_progress(done: int, total: int | None) -> None:
    """Bytes (or any unit) done of ``total`` in the running phase, for whoever watches."""
    report = _REPORT.get()
    if report is not None:
        report(done, total)


class SilentProgress:
    def phase_started(self, name: str) -> None:
        pass

    def phase_finished(self, timing: PhaseTiming) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass
class PhaseRecord:
    """Filled in by the code inside a phase: bytes moved and a short detail."""

    bytes: int | None = None
    detail: str | None = None


@dataclass
class PhaseClock:
    progress: ProgressListener = field(default_factory=SilentProgress)
    phases: list[PhaseTiming] = field(default_factory=list)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[PhaseRecord]:
        record = PhaseRecord()
        self.progress.phase_started(name)
        start = time.monotonic()
        shows = getattr(self.progress, "phase_progress", None)
        token = _REPORT.set(
            (lambda done, total: shows(name, done, total)) if callable(shows) else None
        )
        try:
            yield record
        finally:
            _REPORT.reset(token)
            timing = PhaseTiming(
                name=name,
                seconds=time.monotonic() - start,
                bytes=record.bytes,
                detail=record.detail,
            )
            self.phases.append(timing)
            self.progress.phase_finished(timing)

    def total(self, first: str, last: str) -> float:
        """Seconds from the start of phase ``first`` to the end of phase ``last``."""
        names = [p.name for p in self.phases]
        if first not in names or last not in names:
            return 0.0
        i, j = names.index(first), names.index(last)
        return sum(p.seconds for p in self.phases[i : j + 1])
