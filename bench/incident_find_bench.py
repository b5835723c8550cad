"""Benchmark: `restoredrill incident find` on issue 11's story (bench/recover_bench.py builds
and caches it: a ~1 GB database, its base backup and WAL archive, the 800,000-row DELETE),
beside what an expert runs by hand on the same segments, in the same run.

- ours: ``restoredrill incident find --base-backups B --wal-archive W --json --top 3`` as a
  child process (whole-process wall, peak RSS); the biggest transaction must be the DELETE
  with its exact count;
- by hand: ``pg_waldump`` of the same segments, from the base backup's start (Heap, Heap2
  and Transaction records), the
  records counted per transaction id with ``awk | sort | uniq -c | sort -rn`` — records, not
  rows per table, and no commit check;
- optionally another install (``--before-python``), alternating with ours.

``--mariadb``: the same on MariaDB instead — 800,000 users inserted (8 transactions), then one
``DELETE`` of 320,000 (id % 5 in (1, 2)), the binlog archived (cached under --cache); by
hand ``mariadb-binlog --verbose | grep '^### (INSERT|UPDATE|DELETE)' | sort | uniq -c``
(rows per table and operation, not per transaction).

    .venv/bin/python bench/incident_find_bench.py [--reps 3] [--before-python /tmp/oldpy]
        [--mariadb]

Not a test: numbers go to bench/results/incident_find.md by hand, with the command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import restoredrill_argv, run_measured
from recover_bench import build

from restoredrill.engines.mysql import archiving as mysql_archiving
from restoredrill.engines.mysql.sandbox_local import local_mysql
from restoredrill.engines.mysql.tools import find_mysql_tools
from restoredrill.engines.postgres.tools import find_pg_tools


def ours(python: str, cache: Path, work: Path, meta: dict[str, Any]) -> dict[str, Any]:
    out = work / "found.json"
    argv = [*restoredrill_argv(python, None), "incident", "find", "--json", "--top", "3"]
    argv += ["--base-backups", str(cache / "backups"), "--wal-archive", str(cache / "archive")]
    measured = run_measured(argv, out)
    found = json.loads(out.read_text())
    biggest = found["incidents"][0]
    assert biggest["xid"] == meta["incident_xid"], biggest
    assert biggest["rows"] == meta["users"] * 2 // 5, biggest
    measured["segments_scanned"] = found["segments_scanned"]
    return measured


def by_hand(waldump: str, cache: Path, work: Path, first: str, last: str) -> dict[str, Any]:
    archive = shlex.quote(str(cache / "archive"))
    rmgrs = "-r Heap -r Heap2 -r Transaction"
    script = (
        f"set -e; '{waldump}' -p {archive} {rmgrs} {first} {last} 2>/dev/null"
        " | awk '{print $8}' | sort | uniq -c | sort -rn | head -3"
    )
    out = work / "by-hand.txt"
    measured = run_measured(["bash", "-c", script], out)
    measured["top"] = out.read_text().split("\n")[0].strip()
    return measured


MARIADB_DELETED = 320_000


def mariadb_story(cache: Path) -> Path:
    """The binlog archive of the MariaDB story, built once into ``cache``."""
    archive = cache / "mariadb-binlogs"
    if (archive / "mysql-bin.index").exists():
        return archive
    with local_mysql("bench-incident-find") as server:
        binlogs = mysql_archiving.start_production(server)
        setup = server.connect()
        setup.run("CREATE DATABASE drill")
        setup.close()
        conn = server.connect("drill")  # the seq_ tables are found in the current database
        try:
            conn.run(
                "CREATE TABLE drill.users (id INT PRIMARY KEY, email VARCHAR(60),"
                " name VARCHAR(60), plan VARCHAR(10), balance DECIMAL(12,2))"
            )
            fill = (
                "INSERT INTO drill.users SELECT seq, CONCAT('user', seq, '@example.com'),"
                " CONCAT('User number ', seq), 'pro', seq / 100 FROM seq_{}_to_{}"
            )
            for n in range(0, 800_000, 100_000):
                conn.run(fill.format(n + 1, n + 100_000))
            conn.run("DELETE FROM drill.users WHERE id % 5 IN (1, 2)")
        finally:
            conn.close()
        staging = cache / "mariadb-binlogs.building"
        shutil.rmtree(staging, ignore_errors=True)
        mysql_archiving.archive_binlogs(server, binlogs, staging)
        staging.rename(archive)
    return archive


def ours_mariadb(python: str, archive: Path, work: Path) -> dict[str, Any]:
    out = work / "found.json"
    argv = [*restoredrill_argv(python, None), "incident", "find", "--json", "--top", "3"]
    measured = run_measured([*argv, "--binlog-archive", str(archive)], out)
    biggest = json.loads(out.read_text())["incidents"][0]
    assert biggest["rows"] == MARIADB_DELETED, biggest
    return measured


def by_hand_mariadb(archive: Path, work: Path) -> dict[str, Any]:
    binlog = find_mysql_tools(None).need("binlog")
    files = " ".join(shlex.quote(str(p)) for p in sorted(archive.glob("mysql-bin.0*")))
    script = (
        f"set -e; '{binlog}' --verbose --base64-output=decode-rows {files}"
        " | grep -E '^### (INSERT|UPDATE|DELETE)' | sort | uniq -c"
    )
    out = work / "by-hand.txt"
    measured = run_measured(["bash", "-c", script], out)
    measured["counts"] = " / ".join(" ".join(line.split()) for line in out.read_text().splitlines())
    return measured


def main_mariadb(args: argparse.Namespace) -> None:
    args.cache.mkdir(parents=True, exist_ok=True)
    archive = mariadb_story(args.cache)
    report: dict[str, Any] = {"binlog_bytes": sum(p.stat().st_size for p in archive.iterdir())}
    report["runs"] = []
    with tempfile.TemporaryDirectory(prefix="rdinc-") as tmp:
        work = Path(tmp)
        for _ in range(args.reps):
            run = {"ours": ours_mariadb(sys.executable, archive, work)}
            if args.before_python:
                run["before"] = ours_mariadb(args.before_python, archive, work)
            run["by_hand"] = by_hand_mariadb(archive, work)
            print(json.dumps(run), file=sys.stderr, flush=True)
            report["runs"].append(run)
    print(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--orders", type=int, default=6_000_000)
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/restoredrill-recover-bench"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--before-python", help="Also run this interpreter (the code before).")
    parser.add_argument("--mariadb", action="store_true", help="The MariaDB story instead.")
    args = parser.parse_args()
    if args.mariadb:
        main_mariadb(args)
        return
    tools = find_pg_tools()
    cache = args.cache / f"u{args.users}-o{args.orders}-none-v1"
    if not (cache / "meta.json").exists():
        args.cache.mkdir(parents=True, exist_ok=True)
        build(cache, tools, args.users, args.orders, "none")
    meta = json.loads((cache / "meta.json").read_text())
    segments = sorted(p.name for p in (cache / "archive").iterdir() if len(p.name) == 24)
    # by hand too from the base backup's start (its .backup history file), as ours reads
    first = next(p.name for p in (cache / "archive").iterdir() if p.name.endswith(".backup"))[:24]
    report: dict[str, Any] = {"wal_segments": len(segments), "runs": []}
    with tempfile.TemporaryDirectory(prefix="rdinc-") as tmp:
        work = Path(tmp)
        for _ in range(args.reps):
            run: dict[str, Any] = {"ours": ours(sys.executable, cache, work, meta)}
            if args.before_python:
                run["before"] = ours(args.before_python, cache, work, meta)
            hand = by_hand(tools.path("pg_waldump"), cache, work, first, segments[-1])
            run["by_hand"] = hand
            print(json.dumps(run), file=sys.stderr, flush=True)
            report["runs"].append(run)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
