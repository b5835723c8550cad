"""Benchmark: `restoredrill reapply --where` of a diff made without it (a selection of rows).

The lost-users incident as a person at 3 a.m. may meet it: the whole table was diffed (the
bad DELETE removed 40 % of the users: every user with a NULL ``last_login`` and every
``id % 4 = 1``), and only the users with a NULL ``last_login`` are to be put back, so the
``--where`` is the reapply's, not the diff's. Every lost row's values go to the server to be
tested; the rows kept are written. Wall time and peak RSS of the whole command in a child,
each run after the rows were deleted again; ``--before-python`` runs the code before too, in
alternation, on the same table.

    .venv/bin/python bench/reapply_where_bench.py --lost 400000 --before-python /tmp/oldpy

Not a test: the numbers go to bench/results/reapply.md by hand, with the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from common import run_measured
from reapply_bench import LOST, delete_lost, diff_users, sql, users_cluster

INCIDENT = f"DELETE FROM users WHERE {LOST} OR id % 4 = 1"  # noqa: S608


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lost", type=int, default=400_000, help="rows to put back")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--before-python", help="Also run with this interpreter (code before).")
    args = parser.parse_args()
    results: dict[str, Any] = {"users": args.lost * 4, "put_back": args.lost, "runs": []}
    with users_cluster("reapply-where-bench", args.lost * 4) as (work, cluster):
        sql(cluster, "production", INCIDENT, "VACUUM ANALYZE users")
        diff_file = diff_users(cluster.dsn("restored"), cluster.dsn("production"), work, results)
        codes = [("before", args.before_python)] if args.before_python else []
        for _ in range(args.reps):
            for tag, python in [*codes, ("now", sys.executable)]:
                out = work / f"reapply-{tag}.json"
                measured = run_measured(
                    [python or sys.executable, "-m", "restoredrill", "reapply", str(diff_file),
                     "--to", cluster.dsn("production"), "--where", LOST, "--execute", "--json",
                     "--max-rows", str(args.lost)],
                    out,
                )  # fmt: skip
                assert measured["exit"] == 0, measured
                inserted = json.loads(out.read_text())["tables"][0]["inserted"]
                assert inserted == args.lost, inserted
                results["runs"].append(
                    {
                        "code": tag,
                        "seconds": measured["seconds"],
                        "peak_rss_mib": measured["peak_rss_mib"],
                    }
                )
                delete_lost(cluster)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
