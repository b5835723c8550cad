"""Switches that turn one speed lever off, for measuring what it is worth
(bench/restore_speed_bench.py): RESTOREDRILL_BENCH_OFF=<lever>[,<lever>...]. Not for users:
every lever is on, and each is safe, in normal use.

Levers: "tuning" (replay-tuned sandbox settings), "isal" (python-isal gzip), "in-place"
(WAL read from the archive through links instead of copied), "detach" (the sandbox
directory deleted by a detached rm), "relay-replay" (MariaDB binlogs applied by the sandbox's
parallel replication instead of ``mariadb-binlog | mariadb``), "relay-parallel" (its parallel
workers: off = one SQL thread).

RESTOREDRILL_BENCH_SET=<name>=<value>[,...] sets a lever's value for a measurement
("relay-mode": optimistic / aggressive; "relay-threads": the number of workers)."""

from __future__ import annotations

import os


def lever_off(name: str) -> bool:
    """Is lever ``name`` switched off for a benchmark run?"""
    return name in os.environ.get("RESTOREDRILL_BENCH_OFF", "").split(",")


def lever_value(name: str, default: str) -> str:
    """The value a benchmark run set for ``name`` (RESTOREDRILL_BENCH_SET), else ``default``."""
    for item in os.environ.get("RESTOREDRILL_BENCH_SET", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return default
