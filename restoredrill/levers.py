"""Switches that turn one speed lever off, for measuring what it is worth
(bench/restore_speed_bench.py): RESTOREDRILL_BENCH_OFF=<lever>[,<lever>...]. Not for users:
every lever is on, and each is safe, in normal use.

Levers: "tuning" (replay-tuned sandbox settings), "isal" (python-isal gzip), "in-place"
(WAL read from the archive through links instead of copied), "detach" (the sandbox
directory deleted by a detached rm)."""

from __future__ import annotations

import os


def lever_off(name: str) -> bool:
    """Is lever ``name`` switched off for a benchmark run?"""
    return name in os.environ.get("RESTOREDRILL_BENCH_OFF", "").split(",")
