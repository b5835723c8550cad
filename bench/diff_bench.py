"""Benchmark: restoredrill diff against reladiff on pgbench_accounts (scale 50: 5,000,000 rows).

Two PostgreSQL instances: one loaded with `pgbench -i -s SCALE`, the other a pg_basebackup
copy of it (the same system identifier, like a restore). In the copy ~200 rows are changed,
~200 deleted and ~200 inserted. Each tool then runs in its own child process; we record wall
time and that child's peak RSS (os.wait4, which includes its own children), and compare the
answers row by row. Our diff also runs on a tenth of the table (--where) to show that its
memory does not grow with the table.

    .venv/bin/python bench/diff_bench.py --scale 50

Bench-only dependency, NOT a project dependency: reladiff (and the psycopg2 driver it uses
for PostgreSQL) installed into the venv by hand:

    .venv/bin/pip install reladiff psycopg2-binary

Not a test: numbers go to bench/results/diff.md by hand, with the command that made them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools

PASSWORD = "bench"  # loopback TCP needs one (reladiff connects over TCP); throwaway servers
SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min"}
CHANGES = [
    "UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid % {step} = 11",
    "DELETE FROM pgbench_accounts WHERE aid % {step} = 23",
    "INSERT INTO pgbench_accounts (aid, bid, abalance, filler)"
    " SELECT {rows} + g, 1, g, 'inserted by the bench' FROM generate_series(1, 200) g",
]


def run_child(argv: list[str], stdout_path: Path) -> dict[str, Any]:
    """Run argv; wall seconds, exit code and peak RSS (MiB) of that child alone."""
    with open(stdout_path, "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
    stderr = proc.stderr.read() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": round(seconds, 2),
        "exit": proc.returncode,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "stderr_tail": stderr.strip().splitlines()[-3:],
    }


def psql(tools: PgTools, cluster: LocalPostgres, statement: str) -> str:
    done = subprocess.run(
        [tools.path("psql"), "-X", "-q", "-At", "-d", cluster.dsn(), "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def tcp_url(cluster: LocalPostgres) -> str:
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{cluster.port}/postgres"


def ours(
    restored: LocalPostgres, production: LocalPostgres, work: Path, where: str | None, name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    out = work / f"{name}.json"
    argv = [
        sys.executable,
        "-m",
        "restoredrill",
        "diff",
        restored.dsn(),
        production.dsn(),
        "--table",
        "pgbench_accounts",
        "--out",
        str(out),
        "--format",
        "csv",
    ]
    if where:
        argv += ["--where", where]
    measured = run_child(argv, work / f"{name}.csv")
    document = json.loads(out.read_text())
    return measured, document["tables"][0]


def reladiff(
    restored: LocalPostgres, production: LocalPostgres, work: Path, threads: int
) -> tuple[dict[str, Any], list[Any]]:
    binary = Path(sys.executable).with_name("reladiff")
    argv = [
        str(binary),
        tcp_url(restored),
        "pgbench_accounts",
        tcp_url(production),
        "pgbench_accounts",
        "-k",
        "aid",
        "-c",
        "bid",
        "-c",
        "abalance",
        "-c",
        "filler",
        "--json",
        "-j",
        str(threads),
    ]
    path = work / f"reladiff-j{threads}.jsonl"
    measured = run_child(argv, path)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return measured, rows


def normalise(values: Any) -> tuple[str, ...]:
    """A row as the sorted multiset of its values' text (reladiff's column order varies);
    blank-padded char(n) compared without the padding."""
    return tuple(sorted((v or "").rstrip() for v in values))


def compare(table: dict[str, Any], rows: list[Any]) -> dict[str, Any]:
    minus = {r[1][0]: normalise(r[1]) for r in rows if r[0] == "-"}
    plus = {r[1][0]: normalise(r[1]) for r in rows if r[0] == "+"}
    theirs = {
        "lost": {k: v for k, v in minus.items() if k not in plus},
        "new": {k: v for k, v in plus.items() if k not in minus},
        "changed": {k: (minus[k], plus[k]) for k in minus.keys() & plus.keys()},
    }
    mine = {
        "lost": {r["aid"]: normalise(r.values()) for r in table["lost"]},
        "new": {r["aid"]: normalise(r.values()) for r in table["new"]},
        "changed": {
            c["restored"]["aid"]: (
                normalise(c["restored"].values()),
                normalise(c["production"].values()),
            )
            for c in table["changed"]
        },
    }
    return {
        kind: {
            "ours": len(mine[kind]),
            "reladiff": len(theirs[kind]),
            "identical": mine[kind] == theirs[kind],
        }
        for kind in ("lost", "new", "changed")
    }


def build(tools: PgTools, a: LocalPostgres, b: LocalPostgres, scale: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    a.initdb()
    a.start(settings=SETTINGS)
    psql(tools, a, f"ALTER USER postgres PASSWORD '{PASSWORD}'")
    started = time.monotonic()
    a.run_tool(
        [
            tools.path("pgbench"),
            "-i",
            "-q",
            "-s",
            str(scale),
            "-h",
            str(a.sockdir),
            "-p",
            str(a.port),
            "-U",
            "postgres",
            "postgres",
        ],
        what="pgbench -i",
    )
    timings["pgbench_init_seconds"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    b.run_tool(
        [
            tools.path("pg_basebackup"),
            "-d",
            a.dsn(),
            "-D",
            str(b.datadir),
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        ],
        what="pg_basebackup",
    )
    b.start(settings=SETTINGS)
    timings["copy_seconds"] = round(time.monotonic() - started, 1)
    rows = scale * 100_000
    step = rows // 200
    for change in CHANGES:
        psql(tools, b, change.format(step=step, rows=rows))
    for cluster in (a, b):
        psql(tools, cluster, "VACUUM ANALYZE pgbench_accounts")
        psql(tools, cluster, "CHECKPOINT")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=50)
    parser.add_argument("--reladiff-threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--keep-output", type=Path, help="Copy the raw outputs here.")
    args = parser.parse_args()
    tools = find_pg_tools()
    report: dict[str, Any] = {"scale": args.scale, "rows": args.scale * 100_000}
    with (
        tempfile.TemporaryDirectory(prefix="restoredrill-diff-bench-") as tmp,
        local_postgres("bench-restored", tools=tools) as a,
        local_postgres("bench-production", tools=tools) as b,
    ):
        work = Path(tmp)
        report.update(build(tools, a, b, args.scale))
        # Every tool meets the same steady state: vacuumed and analysed (else autovacuum,
        # woken by the load and the edits, competes with whichever tool runs first), the
        # edits checkpointed, and both servers' shared buffers warmed the same way (a plain
        # seq scan of a big table would only use a small ring buffer).
        for cluster in (a, b):
            psql(tools, cluster, "VACUUM (ANALYZE) pgbench_accounts")
            psql(tools, cluster, "CHECKPOINT")
            psql(tools, cluster, "CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            psql(tools, cluster, "SELECT pg_prewarm('pgbench_accounts')")
            psql(tools, cluster, "SELECT pg_prewarm('pgbench_accounts_pkey')")
        measured, table = ours(a, b, work, None, "ours")
        stats = table["stats"]
        report["restoredrill"] = {
            **measured,
            "counts": table["counts"],
            "levels": stats["levels"],
            "round_trips": stats["round_trips"],
            "ranges_checked": stats["buckets_checked"],
            "rows_fetched": stats["rows_fetched"],
            "first_scan_seconds": round(stats["scan_seconds"], 2),
            "scan_rows_per_second_both_sides": round(stats["scan_rows_per_second"]),
            "scan_rows_per_second_per_side": round(stats["scan_rows_per_second"] / 2),
        }
        # (the run of one server against itself is gone: diff now refuses the same server,
        # guards.refuse_same_server)
        tenth = f"aid <= {args.scale * 10_000}"
        small, small_table = ours(a, b, work, tenth, "ours-tenth")
        report["restoredrill_tenth_of_table"] = {
            **small,
            "where": tenth,
            "counts": small_table["counts"],
        }
        report["reladiff"] = {}
        for threads in args.reladiff_threads:
            theirs, rows = reladiff(a, b, work, threads)
            theirs["rows_reported"] = len(rows)
            theirs["answers_vs_ours"] = compare(table, rows)
            report["reladiff"][f"threads={threads}"] = theirs
        again, _ = ours(a, b, work, None, "ours-again")  # after reladiff: same cache state
        report["restoredrill_second_run"] = again
        best = min(r["seconds"] for r in report["reladiff"].values())
        slowest_ours = max(measured["seconds"], again["seconds"])
        report["speedup_vs_fastest_reladiff"] = round(best / slowest_ours, 1)
        if args.keep_output:
            shutil.copytree(work, args.keep_output, dirs_exist_ok=True)
    print(json.dumps(report, indent=2))
    kinds = Counter()
    for run in report["reladiff"].values():
        for kind, result in run["answers_vs_ours"].items():
            kinds[kind] += int(result["identical"])
    print(f"identical answers (per class, per reladiff run): {dict(kinds)}", file=sys.stderr)


if __name__ == "__main__":
    main()
