"""Benchmark: how fast does a point-in-time restore run on this machine?

Builds a production cluster with pgbench data (scale N), takes a base backup in the chosen
format, generates WAL with pgbench traffic, then restores to `latest` and reports each
phase's time and rate, plus the plan's catalogue/preflight time.

    .venv/bin/python bench/restore_bench.py --scale 20 --traffic-seconds 20 \
        --format tar --compression gzip

Not a test: numbers go to bench/results/ by hand, with the command that made them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from restoredrill.drill.restore import RestoreRequest, restore
from restoredrill.engines.postgres.archiving import (
    base_backup,
    start_archiving,
    switch_and_wait_archived,
)
from restoredrill.engines.postgres.sandbox_local import local_postgres
from restoredrill.engines.postgres.tools import find_pg_tools
from restoredrill.models import RecoveryTarget


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--traffic-seconds", type=int, default=20)
    parser.add_argument("--format", choices=["tar", "plain"], default="tar")
    parser.add_argument("--compression", choices=["none", "gzip", "lz4", "zstd"], default="gzip")
    args = parser.parse_args()
    tools = find_pg_tools()
    with (
        tempfile.TemporaryDirectory(prefix="restoredrill-bench-") as tmp,
        local_postgres("bench-production", tools=tools) as production,
    ):
        archive = production.root / "archive"
        start_archiving(production, archive)
        pgbench = [tools.path("pgbench"), "-h", str(production.sockdir), "-p", str(production.port)]
        t0 = time.monotonic()
        subprocess.run(
            [*pgbench, "-U", "postgres", "-i", "-q", "-s", str(args.scale), "postgres"],
            check=True,
            capture_output=True,
        )
        init_s = time.monotonic() - t0
        backups = Path(tmp) / "backups"
        base_backup(production, backups / "b1", fmt=args.format, compression=args.compression)
        subprocess.run(
            [*pgbench, "-U", "postgres", "-c", "4", "-T", str(args.traffic_seconds), "postgres"],
            check=True,
            capture_output=True,
        )
        switch_and_wait_archived(production)
        result = restore(RestoreRequest(backups, archive, RecoveryTarget(kind="latest")))
    report = {
        "scale": args.scale,
        "format": f"{args.format}/{args.compression}",
        "pgbench_init_seconds": round(init_s, 2),
        "wal_segments": result.plan.wal_range.segments if result.plan.wal_range else 0,
        "rto_seconds": round(result.rto_seconds, 2),
        "phases": [
            {
                "name": p.name,
                "seconds": round(p.seconds, 3),
                "MiB": round(p.bytes / 1048576, 1) if p.bytes else None,
                "MiB/s": round(p.rate_mib_s, 1) if p.rate_mib_s else None,
            }
            for p in result.phases
        ],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
