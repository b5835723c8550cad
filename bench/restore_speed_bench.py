"""Benchmark: restoredrill's PITR restore against an expert's by-hand restore of the same
backup, side by side in one run (issue 13).

By hand: `tar -xzf` the base (and pg_wal tar), `restore_command = 'cp <archive>/%f %p'`,
recovery.signal, `pg_ctl -w start`, then wait until the server is out of recovery — all as
the server user, in one shell. restoredrill: `restoredrill restore --target latest` as a
subprocess (whole-process wall, imports and tear-down included), with and without --keep.

Cases: "small" (pgbench scale 1: a ~9 MB tar.gz base + 3 WAL segments) and, with
--large, "large" (pgbench scale ~70: a ~1 GB database, tar.gz base + pgbench WAL).

    .venv/bin/python bench/restore_speed_bench.py --reps 5 [--large] [--levers]

--levers also times restoredrill with each speed lever turned off in turn
(RESTOREDRILL_BENCH_OFF, restoredrill/levers.py), to show what each one is worth.
Not a test: the table it prints goes to bench/results/restore_speed.md with the command.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import hand_restore

import restoredrill
from restoredrill.engines.postgres.archiving import (
    base_backup,
    start_archiving,
    switch_and_wait_archived,
)
from restoredrill.engines.postgres.sandbox_local import local_postgres
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools

CLI = str(Path(sys.executable).with_name("restoredrill"))
# Each lever, and the switch that turns it off (restoredrill/levers.py).
LEVERS = {
    "WAL read in place (no staging copy)": "in-place",
    "replay-tuned sandbox settings": "tuning",
    "python-isal gzip": "isal",
    "detached removal of the sandbox directory": "detach",
    # the replay-tuned settings one at a time
    "fsync=off (+ synchronous_commit=off)": "tuning:fsync",
    "full_page_writes=off": "tuning:full_page_writes",
    "max_wal_size=64GB (+ checkpoint_timeout=1d)": "tuning:max_wal_size",
    "shared_buffers sized to the data": "tuning:shared_buffers",
    "recovery_prefetch=try (+ wal_decode_buffer_size=4MB)": "tuning:recovery_prefetch",
    "maintenance_io_concurrency=64": "tuning:maintenance_io_concurrency",
}


@dataclass
class Case:
    name: str
    backups: Path
    archive: Path
    base_bytes: int
    wal_segments: int


def build_case(
    name: str, scale: int, traffic: int, root: Path, tools: PgTools, switches: int
) -> Case:
    with local_postgres(f"bench-{name}", tools=tools) as production:
        archive = root / name / "archive"
        archive.parent.mkdir(parents=True)
        start_archiving(production, archive, {"max_wal_size": "4GB", "checkpoint_timeout": "1h"})
        pgbench = [tools.path("pgbench"), "-h", str(production.sockdir), "-p", str(production.port)]
        pgbench += ["-U", "postgres"]
        subprocess.run([*pgbench, "-i", "-q", "-s", str(scale), "postgres"], check=True,
                       capture_output=True)  # fmt: skip
        backups = root / name / "backups"
        base_backup(production, backups / "b1", compression="gzip")
        if traffic:
            subprocess.run([*pgbench, "-c", "2", "-T", str(traffic), "postgres"], check=True,
                           capture_output=True)  # fmt: skip
        for _ in range(switches):
            with production.connect() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS t (i int)")
                conn.execute("INSERT INTO t SELECT generate_series(1, 1000)")
            switch_and_wait_archived(production)
    for path in [root, *root.rglob("*")]:  # the server user reads it (never writes: see below)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    base = sum(p.stat().st_size for p in (backups / "b1").iterdir())
    segments = len([p for p in archive.iterdir() if len(p.name) == 24])
    return Case(name, backups, archive, base, segments)


def by_hand(case: Case, tools: PgTools, work: Path) -> float:
    """Seconds from nothing to a promoted server accepting connections (tear-down excluded)."""
    with hand_restore(case.backups / "b1", case.archive, tools, work) as server:
        return server.seconds


def with_restoredrill(case: Case, keep: bool, env: dict[str, str]) -> tuple[float, float]:
    """(whole-process wall, reported RTO)."""
    argv = [CLI, "restore", "--base-backups", str(case.backups), "--wal-archive",
            str(case.archive), "--target", "latest", "--json"]  # fmt: skip
    if keep:
        argv.append("--keep")
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"restoredrill restore failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout)
    if keep:  # only our own sandbox directory (RESTOREDRILL_SANDBOX_DIR is the bench's)
        subprocess.run([CLI, "sandbox", "gc", "--all"], capture_output=True, check=False,
                       env={**os.environ, **env})  # fmt: skip
    return wall, float(result["rto_seconds"])


def settle() -> None:
    """Start each run on a quiet disk: wait for the previous run's detached removal, then
    flush what earlier runs left dirty (each run pays for its own writes only)."""
    sandboxes = Path(os.environ["RESTOREDRILL_SANDBOX_DIR"])
    deadline = time.monotonic() + 120
    while any(sandboxes.glob(".removing-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    subprocess.run(["sync"], check=False)


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s"


def measure(case: Case, tools: PgTools, work: Path, reps: int, levers: bool) -> list[str]:
    rows: list[str] = []
    hand: list[float] = []
    runs: dict[str, tuple[list[float], list[float]]] = {}
    variants: dict[str, tuple[bool, dict[str, str]]] = {
        "restoredrill": (False, {}),
        "restoredrill --keep": (True, {}),
    }
    if levers:
        for lever, switch in LEVERS.items():
            variants[f"without {lever}"] = (False, {"RESTOREDRILL_BENCH_OFF": switch})
    order: list[str | None] = [None, *variants]  # None: by hand
    shuffler = random.Random(13)
    for _ in range(reps):  # interleaved, so drift on a shared machine hits every variant
        shuffler.shuffle(order)  # and no variant always runs in the wake of the same one
        for label in order:
            settle()
            if label is None:
                hand.append(by_hand(case, tools, work))
                continue
            keep, env = variants[label]
            wall, rto = with_restoredrill(case, keep, env)
            walls, rtos = runs.setdefault(label, ([], []))
            walls.append(wall)
            rtos.append(rto)
    anchor = statistics.median(hand)
    rows.append(f"| {case.name} | by hand (tar -xzf + cp restore_command + pg_ctl -w start) | "
                f"{median(hand)} | - | 1.00 |")  # fmt: skip
    for label in variants:  # in the order declared, whatever order they ran in
        walls, rtos = runs[label]
        ratio = statistics.median(walls) / anchor
        rows.append(f"| {case.name} | {label} | {median(walls)} | {median(rtos)} | {ratio:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--large", action="store_true", help="also the ~1 GB case")
    parser.add_argument("--large-scale", type=int, default=70)
    parser.add_argument("--levers", action="store_true", help="time each lever turned off")
    parser.add_argument("--output", default="bench/results/restore_speed.md")
    args = parser.parse_args()
    # An installed package has its bytecode compiled; this checkout may not (and this
    # environment may forbid writing it on import): the CLI's start-up is timed as installed.
    compileall.compile_dir(Path(restoredrill.__file__).parent, quiet=1)
    tools = find_pg_tools()
    with tempfile.TemporaryDirectory(prefix="restoredrill-speed-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        sandboxes = root / "sandboxes"
        sandboxes.mkdir()
        os.environ["RESTOREDRILL_SANDBOX_DIR"] = str(sandboxes)
        work = root / "hand"
        work.mkdir()
        os.chmod(work, 0o755)
        cases = []
        t0 = time.monotonic()
        cases.append(build_case("small", 3, 0, root / "cases", tools, 1))
        print(f"small case built in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        if args.large:
            t0 = time.monotonic()
            cases.append(build_case("large", args.large_scale, 20, root / "cases", tools, 1))
            print(f"large case built in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        lines = [
            "| case | how | wall (median) | RTO reported | ratio to by hand |",
            "| --- | --- | --- | --- | --- |",
        ]
        print("\n".join(lines), flush=True)
        for case in cases:
            for row in measure(case, tools, work, args.reps, args.levers):
                print(row, flush=True)
                lines.append(row)
    write_results(args, tools, cases, lines)


def write_results(
    args: argparse.Namespace, tools: PgTools, cases: list[Case], table: list[str]
) -> None:
    command = " ".join(["python", "bench/restore_speed_bench.py", *sys.argv[1:]])
    described = "; ".join(
        f"{c.name}: {c.base_bytes / 1e6:.1f} MB tar.gz base, {c.wal_segments} WAL segments "
        f"in the archive" for c in cases
    )  # fmt: skip
    text = [
        "# Restore speed: restoredrill against an expert by hand (bench/restore_speed_bench.py)",
        "",
        f"Command: `{command}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"PostgreSQL {tools.version}, {os.cpu_count()} cores (shared with other jobs), "
        f"{args.reps} repetitions interleaved, medians.",
        "",
        f"Cases: {described}.",
        "",
        *table,
        "",
    ]
    Path(args.output).write_text("\n".join(text))


if __name__ == "__main__":
    main()
