"""Benchmark: a diff with many differences — 2,000,000 users, 800,000 of them deleted.

Two PostgreSQL instances: one loaded with a ``users`` table (2,000,000 rows), the other a
pg_basebackup copy of it (same system identifier, like a restore) in which the incident
``DELETE`` removes 40 % of the users (every id with id % 5 in (1, 2)); 400,000 of those had a
NULL ``last_login`` (id % 5 = 1). Each run is a child process; we record wall time and that
child's peak RSS (RUSAGE_CHILDREN of a small wrapper, its own children included):

- restoredrill diff of the whole table (800,000 lost rows);
- restoredrill diff --where 'last_login IS NULL' (the reapply predicate: 400,000 lost);
- the by-hand anchor: ``COPY (SELECT id, md5(u::text) …) TO STDOUT`` on both sides at
  once, then ``sort | comm -3`` (it only finds the differing keys, it fetches no values);
- optionally the diff of another install (``--before-python``, e.g. the code before);
- reladiff (if installed: ``.venv/bin/pip install reladiff psycopg2-binary``, bench only),
  with a time limit.

    .venv/bin/python bench/diff_many_bench.py [--rows 2000000] [--reladiff-timeout 300]

Not a test: numbers go to bench/results/diff_many.md by hand, with the command.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    USERS_INCIDENT,
    USERS_LOAD,
    USERS_SCHEMA,
    psql,
    restoredrill_argv,
    run_measured,
)

from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools

PASSWORD = "bench"  # reladiff connects over TCP; throwaway servers
SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min"}
SCHEMA = USERS_SCHEMA
LOAD = USERS_LOAD
INCIDENT = USERS_INCIDENT


def tcp_url(cluster: LocalPostgres) -> str:
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{cluster.port}/postgres"


def build(tools: PgTools, a: LocalPostgres, b: LocalPostgres, rows: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    a.initdb()
    a.start(settings=SETTINGS)
    psql(tools, a, f"ALTER USER postgres PASSWORD '{PASSWORD}'")
    started = time.monotonic()
    psql(tools, a, SCHEMA)
    psql(tools, a, LOAD.format(rows=rows))
    timings["load_seconds"] = round(time.monotonic() - started, 1)
    psql(tools, a, "CHECKPOINT")
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
    psql(tools, b, INCIDENT)
    for cluster in (a, b):
        psql(tools, cluster, "VACUUM ANALYZE users")
        psql(tools, cluster, "CHECKPOINT")
        psql(tools, cluster, "CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        psql(tools, cluster, "SELECT pg_prewarm('users'), pg_prewarm('users_pkey')")
    return timings


def ours(
    a: LocalPostgres,
    b: LocalPostgres,
    work: Path,
    name: str,
    where: str | None,
    python: str = sys.executable,
    profile: Path | None = None,
) -> dict[str, Any]:
    out = work / f"{name}.json"
    report = profile / f"{name}.txt" if profile is not None else None
    argv = [*restoredrill_argv(python, report), "diff", a.dsn(), b.dsn(), "--table", "users"]
    argv += ["--out", str(out)]
    if where:
        argv += ["--where", where]
    measured = run_measured(argv, work / f"{name}.txt")
    table = json.loads(out.read_text())["tables"][0]
    stats = table["stats"]
    measured.update(
        counts=table["counts"],
        levels=stats["levels"],
        round_trips=stats["round_trips"],
        dense_ranges=stats.get("dense_ranges", 0),
        rows_listed=stats.get("rows_listed", 0),
        rows_fetched=stats["rows_fetched"],
        diff_seconds_inside=round(stats["seconds"], 2),
        diff_file_mib=round(out.stat().st_size / 2**20, 1),
    )
    measured["lost_ids"] = sorted(int(r["id"]) for r in table["lost"])
    # the lost rows' values, to compare codes (the same rows, value for value)
    measured["lost_sha256"] = hashlib.sha256(
        json.dumps(table["lost"], sort_keys=True).encode()
    ).hexdigest()[:16]
    return measured


def by_hand(tools: PgTools, a: LocalPostgres, b: LocalPostgres, work: Path) -> dict[str, Any]:
    """The anchor: both sides' (id, md5(row)) out with COPY at once, then sort | comm."""
    query = "COPY (SELECT id, md5(u::text) FROM users u) TO STDOUT"
    psql_bin = tools.path("psql")
    script = (
        f"set -e; export LC_ALL=C;"
        f" '{psql_bin}' -X -q -d '{a.dsn()}' -c '{query}' | sort > '{work}/a.txt' &"
        f" '{psql_bin}' -X -q -d '{b.dsn()}' -c '{query}' | sort > '{work}/b.txt' &"
        f" wait; comm -3 '{work}/a.txt' '{work}/b.txt' | wc -l"
    )
    measured = run_measured(["bash", "-c", script], work / "by-hand.txt")
    measured["differing_lines"] = int((work / "by-hand.txt").read_text().strip() or 0)
    return measured


def reladiff(
    a: LocalPostgres, b: LocalPostgres, work: Path, threads: int, timeout: float
) -> dict[str, Any]:
    binary = Path(sys.executable).with_name("reladiff")
    if not binary.exists():
        return {"skipped": "reladiff is not installed in this venv"}
    argv = [str(binary), tcp_url(a), "users", tcp_url(b), "users", "-k", "id"]
    for column in ("email", "name", "plan", "created_at", "last_login", "balance"):
        argv += ["-c", column]
    argv += ["--json", "-j", str(threads)]
    path = work / f"reladiff-j{threads}.jsonl"
    measured = run_measured(argv, path, timeout=timeout)
    if measured.get("seconds") is not None:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        measured["rows_reported"] = len(rows)
        measured["lost_ids"] = sorted(int(r[1][0]) for r in rows if r[0] == "-")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--reladiff-threads", type=int, nargs="*", default=[2])
    parser.add_argument("--reladiff-timeout", type=float, default=300.0)
    parser.add_argument(
        "--before-python",
        help="Also run the diff with this interpreter (another install, e.g. the code before).",
    )
    parser.add_argument("--profile", type=Path, help="pyinstrument's text reports of ours here")
    parser.add_argument(
        "--reps", type=int, default=1, help="with --before-python: whole-table pairs in all"
    )
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    tools = find_pg_tools()
    report: dict[str, Any] = {"rows": args.rows}
    with (
        tempfile.TemporaryDirectory(prefix="restoredrill-diff-many-") as tmp,
        local_postgres("bench-restored", tools=tools) as a,
        local_postgres("bench-production", tools=tools) as b,
    ):
        work = Path(tmp)
        report.update(build(tools, a, b, args.rows))
        expected = sorted(i for i in range(1, args.rows + 1) if i % 5 in (1, 2))
        expected_null = [i for i in expected if i % 5 == 1]
        report["by_hand"] = by_hand(tools, a, b, work)
        whole = ours(a, b, work, "ours", None, profile=args.profile)
        report["restoredrill"] = {k: v for k, v in whole.items() if k != "lost_ids"}
        report["restoredrill"]["lost_exact"] = whole["lost_ids"] == expected
        where = ours(a, b, work, "ours-where", "last_login IS NULL", profile=args.profile)
        report["restoredrill_where"] = {k: v for k, v in where.items() if k != "lost_ids"}
        report["restoredrill_where"]["lost_exact"] = where["lost_ids"] == expected_null
        if args.before_python:
            before = ours(a, b, work, "before", None, args.before_python)
            report["before"] = {k: v for k, v in before.items() if k != "lost_ids"}
            report["before"]["lost_exact"] = before["lost_ids"] == expected
            for rep in range(2, args.reps + 1):  # then alternately: ours, before
                for tag, python in (
                    ("restoredrill", sys.executable),
                    ("before", args.before_python),
                ):
                    again = ours(a, b, work, f"{tag}-{rep}", None, python)
                    again["lost_exact"] = again.pop("lost_ids") == expected
                    report[f"{tag}_rep{rep}"] = again
        report["by_hand_again"] = by_hand(tools, a, b, work)
        report["reladiff"] = {}
        for threads in args.reladiff_threads:
            theirs = reladiff(a, b, work, threads, args.reladiff_timeout)
            if "lost_ids" in theirs:
                theirs["lost_same_as_ours"] = theirs.pop("lost_ids") == whole["lost_ids"]
            report["reladiff"][f"threads={threads}"] = theirs
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
