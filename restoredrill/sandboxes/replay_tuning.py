"""Server settings for a restore sandbox, tuned for replaying WAL as fast as the machine
allows. The copy is throwaway: nothing in it must survive a crash of this machine, so it
need not be durable (fsync, full-page writes), and it may use a fair share of memory."""

from __future__ import annotations

import os
from pathlib import Path

from restoredrill.levers import lever_off

MIB = 1 << 20
# shared_buffers: enough to hold the restored data (replay then never evicts a dirty page
# to make room), but at most a quarter of the machine's memory (PostgreSQL's own advice)
# and 8 GB; at least the stock 128 MB.
MIN_BUFFERS = 128 * MIB
MAX_BUFFERS = 8 << 30


def machine_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def shared_buffers(data_bytes: int, memory: int | None = None) -> str:
    quarter = (machine_memory() if memory is None else memory) // 4
    wanted = min(data_bytes, quarter, MAX_BUFFERS)
    return f"{max(MIN_BUFFERS, wanted) // MIB}MB"


def replay_tuning(data_bytes: int, server_major: int | None) -> dict[str, str]:
    """Settings that make replay and the end-of-recovery checkpoint cheap; ``data_bytes``:
    the size of the restored data directory; ``server_major``: its PostgreSQL version (a
    docker sandbox may run an older one; None: unknown)."""
    if lever_off("tuning"):
        return {}
    settings = {
        # No flush to disk: the end-of-recovery checkpoint and restartpoints only write.
        "fsync": "off",
        "full_page_writes": "off",
        "synchronous_commit": "off",
        # No restartpoint forced by WAL volume or time while replay runs.
        "max_wal_size": "64GB",
        "checkpoint_timeout": "1d",
        "shared_buffers": shared_buffers(data_bytes),
        "maintenance_io_concurrency": "64",
    }
    if server_major is not None and server_major >= 15:
        # Read ahead the blocks that WAL records reference (new in PostgreSQL 15).
        settings["recovery_prefetch"] = "try"
        settings["wal_decode_buffer_size"] = "4MB"
    # a benchmark measures each setting alone: RESTOREDRILL_BENCH_OFF=tuning:fsync, ...
    return {
        key: value
        for key, value in settings.items()
        if not lever_off(f"tuning:{_GROUPS.get(key, key)}")
    }


# settings measured together with the one they serve
_GROUPS = {
    "synchronous_commit": "fsync",
    "checkpoint_timeout": "max_wal_size",
    "wal_decode_buffer_size": "recovery_prefetch",
}


def data_version(datadir: Path) -> int | None:
    """The major version in a data directory's PG_VERSION file."""
    try:
        return int((datadir / "PG_VERSION").read_text().strip().split(".")[0])
    except (OSError, ValueError):
        return None
