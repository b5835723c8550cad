"""Benchmark: MariaDB binlog replay (issue 13) — restoredrill's parallel-replication route
against `mariadb-binlog … | mariadb` by hand and against restoredrill's old pipe, in one run.

A throwaway "production" (log-bin, ROW) gets a base of rows, a dump (--master-data=2 --gtid),
then a write-heavy stream of single-statement transactions (inserts of ~0.5-1 KB rows,
updates, deletes over four tables) and a FLUSH; its closed binlogs are the archive.

Per repetition, interleaved:
  by hand      fresh sandbox server, dump loaded (not timed), then timed (twice: plain, and
               with --disable-log-bin as the old pipe ran it):
               `mariadb-binlog --start-position=P <binlogs> | mariadb`
  old pipe     `restored()` with RESTOREDRILL_BENCH_OFF=relay-replay (its "replay binlogs" phase)
  new route    `restored()` as shipped (its "replay binlogs" phase), plus variants given by
               --variants (RESTOREDRILL_BENCH_SET / _OFF values)
Every result is checked against production (CHECKSUM TABLE of every table).

    .venv/bin/python bench/binlog_replay_bench.py --transactions 40000 --reps 2 \\
        --append bench/results/binlog_replay.md
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.mysql import archiving
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.restore import load_dump
from restoredrill.engines.mysql.restore_options import MySqlOptions
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.engines.mysql.snapshots import coordinates
from restoredrill.engines.mysql.source import open_mysql_source
from restoredrill.models import RecoveryTarget

DB = "bench"
TABLES = ["t1", "t2", "t3", "t4"]
BASE_ROWS = 5000  # per table, in the dump


def _pad(rng: random.Random) -> str:
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=rng.randint(500, 1000)))


def traffic(transactions: int, seed: int = 13) -> str:
    """Single-statement transactions: 55% inserts, 30% updates, 15% deletes (values made
    here: numbers and [a-z0-9] text, nothing to quote)."""
    rng = random.Random(seed)
    top = {t: BASE_ROWS for t in TABLES}
    lines = [f"USE {DB};"]
    for _ in range(transactions):
        table = rng.choice(TABLES)
        roll = rng.random()
        if roll < 0.55:
            top[table] += 1
            values = f"({top[table]}, {rng.randint(1, 9999)}, '{_pad(rng)}')"
            lines.append(f"INSERT INTO {table} (id, k, pad) VALUES {values};")  # noqa: S608
        elif roll < 0.85:
            change = f"k = k + 1, pad = '{_pad(rng)[:600]}'"
            row = rng.randint(1, top[table])
            lines.append(f"UPDATE {table} SET {change} WHERE id = {row};")  # noqa: S608
        else:
            row = rng.randint(1, top[table])
            lines.append(f"DELETE FROM {table} WHERE id = {row};")  # noqa: S608
    return "\n".join(lines) + "\n"


def feed(server: LocalMySQL, sql: str) -> None:
    subprocess.run(server.client_argv(), input=sql.encode(), check=True)


def build(root: Path, transactions: int) -> tuple[Path, Path, dict[str, int]]:
    """Production: base rows, a dump, the traffic, the archive; returns the checksums too."""
    with local_mysql("bench-binlog-production") as prod:
        archiving.start_production(prod)
        schema = [f"CREATE DATABASE {DB};", f"USE {DB};"]
        for table in TABLES:
            schema.append(
                f"CREATE TABLE {table} (id INT PRIMARY KEY, k INT NOT NULL,"
                " pad VARCHAR(1000) NOT NULL, KEY (k));"
            )
            rows = f"seq, seq % 9999, REPEAT(MD5(seq), 20) FROM seq_1_to_{BASE_ROWS}"
            schema.append(f"INSERT INTO {table} SELECT {rows};")
        feed(prod, "\n".join(schema))
        archiving.dump(prod, root / "snapshots" / "base.sql", [DB])
        started = time.monotonic()
        feed(prod, traffic(transactions))
        print(f"traffic: {transactions} transactions in {time.monotonic() - started:.1f}s")
        archive = archiving.archive_binlogs(prod, prod.root / "binlog", root / "archive")
        return root / "snapshots", archive, checksums(prod.dsn(DB))


def checksums(dsn: str) -> dict[str, int]:
    conn = my.connect(dsn)
    try:
        return {str(r[0]): int(r[1]) for r in conn.rows(f"CHECKSUM TABLE {', '.join(TABLES)}")}
    finally:
        conn.close()


def by_hand(snapshots: Path, archive: Path, flags: str = "") -> tuple[float, dict[str, int]]:
    source = open_mysql_source(str(snapshots), str(archive))
    try:
        snapshot = source.snapshots()[0]
    finally:
        source.close()
    found = coordinates(snapshot)
    assert found is not None
    first, pos = found
    files = sorted(p for p in archive.iterdir() if p.name[-6:].isdigit() and p.name >= first)
    with local_mysql("bench-binlog-by-hand") as server:
        server.init_datadir()
        server.start()
        load_dump(server, Path(snapshot.path))
        reader = f"mariadb-binlog --no-defaults {flags}--start-position={pos} " + " ".join(
            str(f) for f in files
        )
        client = " ".join(server.client_argv())
        started = time.monotonic()
        subprocess.run(f"{reader} | {client}", shell=True, check=True)
        took = time.monotonic() - started
        return took, checksums(server.dsn(DB))


def ours(
    snapshots: Path, archive: Path, off: str, settings: str
) -> tuple[float, float, str, dict[str, int], int]:
    os.environ["RESTOREDRILL_BENCH_OFF"] = off
    os.environ["RESTOREDRILL_BENCH_SET"] = settings
    try:
        request = RestoreRequest(
            snapshots, archive, RecoveryTarget(kind="latest"), backend=MySqlOptions()
        )
        with restored(request) as done:
            replay = next(p for p in done.result.phases if p.name == "replay binlogs")
            fetch = next(p for p in done.result.phases if p.name == "fetch binlogs")
            sums = checksums(done.dsn(DB))
            span = done.result.plan.binlog_range
            size = span.bytes if span is not None else 0
            return replay.seconds, fetch.seconds, replay.detail or "", sums, size
    finally:
        os.environ.pop("RESTOREDRILL_BENCH_OFF", None)
        os.environ.pop("RESTOREDRILL_BENCH_SET", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=40000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument(
        "--variants",
        default="",
        help="extra runs of the new route: name:OFF:SET;… e.g. 'one SQL thread:relay-parallel:'",
    )
    parser.add_argument("--append", type=Path)
    args = parser.parse_args()
    variants = [("old pipe (restoredrill before)", "relay-replay", ""), ("new route", "", "")]
    for item in filter(None, args.variants.split(";")):
        name, off, settings = item.split(":", 2)
        variants.append((f"new route, {name}", off, settings))
    with tempfile.TemporaryDirectory(prefix="binlog-bench-") as tmp:
        snapshots, archive, want = build(Path(tmp), args.transactions)
        size = 0
        hand: list[float] = []
        hand_quiet: list[float] = []  # with our old pipe's --disable-log-bin
        runs: dict[str, list[tuple[float, float, str]]] = {v[0]: [] for v in variants}
        for _ in range(args.reps):  # interleaved: drift on a shared machine hits every variant
            took, sums = by_hand(snapshots, archive)
            assert sums == want, f"by hand: {sums} != {want}"
            hand.append(took)
            took, sums = by_hand(snapshots, archive, "--disable-log-bin ")
            assert sums == want, f"by hand --disable-log-bin: {sums} != {want}"
            hand_quiet.append(took)
            for name, off, settings in variants:
                replay, fetch, detail, sums, size = ours(snapshots, archive, off, settings)
                assert sums == want, f"{name}: {sums} != {want}"
                runs[name].append((replay, fetch, detail))
                print(f"{name}: replay {replay:.1f}s (fetch {fetch:.1f}s) {detail}", flush=True)
            print(f"by hand: {hand[-1]:.1f}s, with --disable-log-bin {took:.1f}s", flush=True)
    anchor = statistics.median(hand)
    rows = [
        "| how | replay (median) | + staging copy | ratio (by hand / ours) | detail |",
        "| --- | --- | --- | --- | --- |",
        f"| by hand: mariadb-binlog \\| mariadb | {anchor:.1f} s | - | 1.00 | - |",
        f"| by hand, mariadb-binlog --disable-log-bin \\| mariadb | "
        f"{statistics.median(hand_quiet):.1f} s | - | "
        f"{anchor / statistics.median(hand_quiet):.2f} | - |",
    ]
    for name, found in runs.items():
        replay = statistics.median(r[0] for r in found)
        fetch = statistics.median(r[1] for r in found)
        detail = found[-1][2].replace("|", "\\|")
        rows.append(
            f"| {name} | {replay:.1f} s | {fetch:.1f} s | {anchor / replay:.2f} | {detail} |"
        )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    text = (
        f"\n## {when}\n\nCommand: `python bench/binlog_replay_bench.py "
        f"{' '.join(sys.argv[1:])}` — {os.cpu_count()} cores (shared with other jobs, load "
        f"{load:.1f} at the end), {args.reps} repetition(s) interleaved, medians.\n\n"
        f"Binlog set: {args.transactions} transactions after the dump, {size / 1e6:.1f} MB "
        "of binlogs; every restored copy's CHECKSUM TABLE equals production's.\n\n"
        + "\n".join(rows)
        + "\n"
    )
    print(text)
    if args.append:
        with args.append.open("a") as out:
            out.write(text)


if __name__ == "__main__":
    main()
