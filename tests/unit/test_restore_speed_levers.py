"""The pieces of the restore's speed levers that need no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from restoredrill.sandboxes import readiness
from restoredrill.sandboxes.readiness import LogWatch, backoff
from restoredrill.sandboxes.replay_tuning import data_version, replay_tuning, shared_buffers

GIB = 1 << 30


def test_shared_buffers_fit_the_data_within_a_quarter_of_memory() -> None:
    assert shared_buffers(10 << 20, memory=24 * GIB) == "128MB"  # never below the default
    assert shared_buffers(GIB, memory=24 * GIB) == "1024MB"  # the data fits
    assert shared_buffers(100 * GIB, memory=24 * GIB) == "6144MB"  # a quarter of memory
    assert shared_buffers(100 * GIB, memory=256 * GIB) == "8192MB"  # and at most 8 GB


def test_prefetch_settings_only_for_servers_that_have_them() -> None:
    assert "recovery_prefetch" in replay_tuning(GIB, 15)
    assert "recovery_prefetch" not in replay_tuning(GIB, 14)
    assert "recovery_prefetch" not in replay_tuning(GIB, None)
    assert replay_tuning(GIB, 15)["fsync"] == "off"


def test_tuning_lever_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTOREDRILL_BENCH_OFF", "isal,tuning")
    assert replay_tuning(GIB, 15) == {}


def test_data_version(tmp_path: Path) -> None:
    assert data_version(tmp_path) is None
    (tmp_path / "PG_VERSION").write_text("15\n")
    assert data_version(tmp_path) == 15


def test_log_watch_reads_what_was_appended_and_finds_split_markers(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    watch = LogWatch(log)
    assert watch.read() == ""  # not there yet
    log.write_text("LOG:  redo do")
    assert "redo done at" not in watch.read()
    with log.open("a") as handle:
        handle.write("ne at 0/3000028\n")
    assert "redo done at 0/3000028" in watch.read()


def test_backoff_starts_tight_and_stops_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake clock: the schedule, not the machine's load, is what is checked.
    class Clock:
        def __init__(self) -> None:
            self.now = 100.0
            self.pauses: list[float] = []

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.pauses.append(seconds)
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(readiness, "time", clock)
    ticks = list(backoff(clock.now + 0.2))
    assert clock.pauses[0] == pytest.approx(0.001)  # a ms, then longer: many looks early on
    assert clock.pauses == sorted(clock.pauses) and max(clock.pauses) <= 0.025
    assert len(ticks) > 10
    assert 0.2 <= clock.now - 100.0 < 0.2 + 0.025
