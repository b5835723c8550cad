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

    .venv/bin/python bench/incident_find_bench.py [--reps 3] [--before-python /tmp/oldpy]

Not a test: numbers go to bench/results/incident_find.md by hand, with the command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import restoredrill_argv, run_measured
from recover_bench import build

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--orders", type=int, default=6_000_000)
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/restoredrill-recover-bench"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--before-python", help="Also run this interpreter (the code before).")
    args = parser.parse_args()
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
