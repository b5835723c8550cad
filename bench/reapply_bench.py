"""Benchmark: `restoredrill reapply --execute` of a lost-users incident, beside a by-hand COPY.

One throwaway PostgreSQL instance, two databases: ``restored`` holds USERS users (a quarter
with a NULL ``last_login``), ``production`` is a copy of it (CREATE DATABASE ... TEMPLATE)
from which the bad DELETE removed every user with a NULL ``last_login`` (LOST rows). The diff
(``restoredrill diff``, timed but not the subject) lists them; then, for each batch size,
``restoredrill reapply --execute`` puts them back in a child process (wall time = the whole
command: start-up, reading the diff, the SQL script, the batches), run again (it must change
nothing), dry-run once more (the prediction must say every row is back), the rows deleted
again (and the table vacuumed), and the same reapply is run in this process to time its
phases (reading the diff, preparing and writing the SQL script, the batches). The anchor is
what an expert does by hand: ``COPY (SELECT ...) TO`` a file from the restore, ``COPY users
FROM`` it into production, one transaction, no guard — timed in the same run on the same table.
Last, the other incident: an UPDATE that hit LOST users, reverted (``changed``) and rerun.

    .venv/bin/python bench/reapply_bench.py --lost 400000

Not a test: the numbers go to bench/results/reapply.md by hand, with the command that made
them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from common import run_measured

from restoredrill.drill.diff import load_diff
from restoredrill.drill.reapply import ReapplyOptions, reapply_document
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import find_pg_tools

SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min"}
USERS = """
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    created_at timestamptz NOT NULL,
    last_login timestamptz,
    plan text NOT NULL,
    balance numeric(12,2) NOT NULL,
    active boolean NOT NULL
)
"""
FILL = """
INSERT INTO users
SELECT g, 'user' || g || '@example.com', 'User number ' || g,
       timestamptz '2020-01-01' + g * interval '1 minute',
       CASE WHEN g % {every} = 0 THEN NULL
            ELSE timestamptz '2024-01-01' + g * interval '1 second' END,
       (ARRAY['free', 'pro', 'team'])[1 + g % 3], (g % 100000) / 100.0, g % 7 <> 0
FROM generate_series(1, {users}) g
"""
LOST = "last_login IS NULL"


@contextmanager
def users_cluster(name: str, users: int) -> Iterator[tuple[Path, LocalPostgres]]:
    """A private work directory and a throwaway instance whose ``restored`` database holds
    ``users`` users (a quarter with a NULL last_login) and ``production`` a copy of it."""
    with (
        tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp,
        local_postgres(name, tools=find_pg_tools()) as cluster,
    ):
        work = Path(tmp)
        os.chmod(work, 0o700)
        cluster.initdb()
        cluster.start(settings=SETTINGS)
        sql(cluster, "postgres", "CREATE DATABASE restored")
        sql(cluster, "restored", USERS, FILL.format(every=4, users=users), "VACUUM ANALYZE users")
        sql(cluster, "postgres", "CREATE DATABASE production TEMPLATE restored")
        yield work, cluster


def run_child(argv: list[str]) -> tuple[float, int, str, str]:
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True)
    return time.monotonic() - started, done.returncode, done.stdout, done.stderr


def measured_reapply(
    python: str, diff_file: Path, dsn: str, lost: int, size: int, tag: str
) -> tuple[float, float, dict[str, Any]]:
    """One executing reapply in a child: wall seconds, peak RSS (MiB), its JSON report."""
    out = diff_file.parent / f"reapply-{tag}.json"
    measured = run_measured(
        [python, "-m", "restoredrill", "reapply", str(diff_file), "--to", dsn, "--execute",
         "--json", "--max-rows", str(lost), "--batch-size", str(size)],
        out,
    )  # fmt: skip
    assert measured["exit"] == 0, measured
    return measured["seconds"], measured["peak_rss_mib"], json.loads(out.read_text())


def without_lines(diff_file: Path) -> Path:
    """A copy of the diff file without the rows-per-line counts (an older reader's form)."""
    document = json.loads(diff_file.read_text())
    for table in document["tables"]:
        table.pop("lines", None)
    copy = diff_file.with_name("before-" + diff_file.name)
    copy.write_text(json.dumps(document))
    copy.chmod(0o600)
    return copy


def sql(cluster: LocalPostgres, db: str, *statements: str) -> Any:
    with psycopg.connect(cluster.dsn(db), autocommit=True) as conn:
        result = None
        for statement in statements:
            result = conn.execute(statement)
        return result.fetchall() if result is not None and result.description else None


def delete_lost(cluster: LocalPostgres) -> None:
    sql(cluster, "production", f"DELETE FROM users WHERE {LOST}", "VACUUM ANALYZE users")  # noqa: S608


def diff_users(restored: str, production: str, work: Path, results: dict[str, Any]) -> Path:
    """The users table diffed by the CLI (CSV rows), timed into ``results``."""
    diff_file = work / "users.json"
    seconds, code, _, err = run_child(
        [sys.executable, "-m", "restoredrill", "diff", restored, production,
         "--table", "users", "--out", str(diff_file), "--format", "csv"]
    )  # fmt: skip
    assert code == 1, err
    results["diff_seconds"] = round(seconds, 1)
    results["diff_mib"] = round(diff_file.stat().st_size / 2**20, 1)
    return diff_file


def anchor(cluster: LocalPostgres, work: Path) -> float:
    """By hand: the lost rows out of the restore with COPY, into production with COPY."""
    path = work / "lost.copy"
    out_of = f"COPY (SELECT * FROM users WHERE {LOST}) TO STDOUT"  # noqa: S608
    with (
        psycopg.connect(cluster.dsn("restored")) as src,
        open(path, "wb") as out,
        src.cursor().copy(out_of) as c,
    ):
        for chunk in c:
            out.write(chunk)
    started = time.monotonic()
    with (
        psycopg.connect(cluster.dsn("production")) as dst,
        open(path, "rb") as data,
        dst.cursor().copy("COPY users FROM STDIN") as c,
    ):
        while chunk := data.read(1 << 20):
            c.write(chunk)
    return time.monotonic() - started


class Clock:
    """A progress listener that notes when the script is written and when batches end."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.script = 0.0
        self.last = 0.0

    def phase_started(self, name: str) -> None:
        pass

    def phase_finished(self, timing: Any) -> None:
        pass

    def note(self, message: str) -> None:
        now = time.monotonic() - self.started
        if message.startswith("SQL script:"):
            self.script = now
        else:
            self.last = now


def phases(dsn: str, diff_file: Path, lost: int, size: int) -> dict[str, float]:
    """The same reapply in this process, in phases: read the diff; prepare (catalog, triggers,
    order) and write the SQL script (it encodes each batch's COPY data, used again by the
    batches); the batches (stage, lock, write, read back, commit, checkpoint)."""
    started = time.monotonic()
    document = load_diff(diff_file)
    read = time.monotonic() - started
    clock = Clock()
    options = ReapplyOptions(execute=True, max_rows=lost, batch_size=size)
    report = reapply_document(document, diff_file, dsn, options, clock)
    assert report.inserted == lost
    batches = clock.last - clock.script
    return {
        "read_diff_seconds": round(read, 2),
        "prepare_and_script_seconds": round(clock.script, 2),
        "batches_seconds": round(batches, 2),
        "batches_rows_per_second": round(lost / batches),
    }


def changed_rows(
    cluster: LocalPostgres,
    work: Path,
    count: int,
    before_python: str | None = None,
    reps: int = 1,
) -> dict[str, Any]:
    """The other incident: an UPDATE that hit ``count`` users (every row back first). The
    reapply reverts them by set (stage, lock, archive, guarded UPDATE), then a rerun. With
    ``before_python`` the two codes alternate, ``reps`` pairs, after one revert not timed:
    the first revert after the incident is slower whoever runs it (a single before-then-
    ours order overstated a gain by 2-3 s once), so only alternating pairs compare."""
    restored, production = cluster.dsn("restored"), cluster.dsn("production")
    sql(cluster, "production", "TRUNCATE users")
    with (
        psycopg.connect(restored) as src,
        psycopg.connect(production) as dst,
        src.cursor().copy("COPY users TO STDOUT") as out,
        dst.cursor().copy("COPY users FROM STDIN") as into,
    ):
        for chunk in out:
            into.write(chunk)
    hit = f"UPDATE users SET plan = 'gold' WHERE {LOST}"  # noqa: S608
    sql(cluster, "production", hit, "VACUUM ANALYZE users")
    diff_file = work / "changed.json"
    _, code, _, err = run_child(
        [sys.executable, "-m", "restoredrill", "diff", restored, production,
         "--table", "users", "--out", str(diff_file)]
    )  # fmt: skip
    assert code == 1, err
    codes = [("before", before_python, without_lines(diff_file))] if before_python else []
    codes.append(("ours", sys.executable, diff_file))
    results: dict[str, Any] = {"changed": count, **{tag: [] for tag, _, _ in codes}}

    def revert(python: str, path: Path) -> tuple[float, float]:
        argv = [python, "-m", "restoredrill", "reapply", str(path), "--to", production,
                "--execute", "--json", "--max-rows", str(count)]  # fmt: skip
        seconds, code, out, err = run_child(argv)
        assert code == 0, err
        assert json.loads(out)["tables"][0]["updated"] == count
        back = sql(cluster, "production", "SELECT count(*) FROM users WHERE plan = 'gold'")
        assert back == [(0,)], back
        again, code, out, err = run_child(argv)
        assert code == 0 and json.loads(out)["tables"][0]["already"] == count, err
        sql(cluster, "production", hit, "VACUUM ANALYZE users")  # the incident again
        return seconds, again

    revert(sys.executable, diff_file)  # not timed: see above
    for _ in range(reps):
        for tag, python, path in codes:
            seconds, again = revert(python or sys.executable, path)
            results[tag].append(
                {
                    "wall_seconds": round(seconds, 2),
                    "rows_per_second": round(count / seconds),
                    "rerun_seconds": round(again, 2),
                }
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lost", type=int, default=400_000, help="rows lost (a quarter of users)")
    parser.add_argument("--batch-sizes", default="1000,10000,50000")
    parser.add_argument("--changed-reps", type=int, default=1, help="timed reverts per code")
    parser.add_argument(
        "--before-python", help="Also run each reapply with this interpreter (the code before)."
    )
    args = parser.parse_args()
    users = args.lost * 4
    sizes = [int(s) for s in args.batch_sizes.split(",") if s]  # none: only the changed rows
    results: dict[str, Any] = {"users": users, "lost": args.lost, "runs": []}
    started = time.monotonic()
    with users_cluster("reapply-bench", users) as (work, cluster):
        delete_lost(cluster)
        results["setup_seconds"] = round(time.monotonic() - started, 1)
        diff_file = diff_users(cluster.dsn("restored"), cluster.dsn("production"), work, results)
        results["anchor_copy_seconds"] = round(anchor(cluster, work), 2)
        delete_lost(cluster)
        before_file = diff_file
        if args.before_python:  # code before 2026-12-02 refuses the diff file's "lines"
            before_file = without_lines(diff_file)
        for size in sizes:
            if args.before_python:  # the other code first, on the same table, then ours
                before = measured_reapply(
                    args.before_python, before_file, cluster.dsn("production"), args.lost, size, "b"
                )
                assert before[2]["tables"][0]["inserted"] == args.lost
                delete_lost(cluster)
            seconds, peak, report = measured_reapply(
                sys.executable, diff_file, cluster.dsn("production"), args.lost, size, "ours"
            )
            table = report["tables"][0]
            assert table["inserted"] == args.lost, table
            back = sql(cluster, "production", f"SELECT count(*) FROM users WHERE {LOST}")  # noqa: S608
            assert back == [(args.lost,)], back
            results["runs"].append(
                {
                    "batch_size": size,
                    "wall_seconds": round(seconds, 2),
                    "reapply_seconds": round(report["seconds"], 2),
                    "rows_per_second": round(args.lost / seconds),
                    "batches": report["batches"],
                    "peak_rss_mib": peak,
                }
            )
            if args.before_python:
                results["runs"][-1]["before"] = {
                    "wall_seconds": round(before[0], 2),
                    "peak_rss_mib": before[1],
                }
            print(json.dumps(results["runs"][-1]), flush=True)
            again, code, out, err = run_child(
                [sys.executable, "-m", "restoredrill", "reapply", str(diff_file),
                 "--to", cluster.dsn("production"), "--execute", "--json",
                 "--max-rows", str(args.lost), "--batch-size", str(size)]
            )  # fmt: skip
            assert code == 0, err
            rerun = json.loads(out)["tables"][0]
            assert (rerun["inserted"], rerun["already"]) == (0, args.lost), rerun
            results["runs"][-1]["rerun_seconds"] = round(again, 2)
            # the dry run everyone starts with, here with every row already back
            dry, code, out, err = run_child(
                [sys.executable, "-m", "restoredrill", "reapply", str(diff_file),
                 "--to", cluster.dsn("production"), "--json", "--batch-size", str(size)]
            )  # fmt: skip
            assert code == 0, err
            assert json.loads(out)["tables"][0]["already"] == args.lost
            results["runs"][-1]["dry_run_all_back_seconds"] = round(dry, 2)
            delete_lost(cluster)
            results["runs"][-1].update(
                phases(cluster.dsn("production"), diff_file, args.lost, size)
            )
            print(json.dumps(results["runs"][-1]), flush=True)
            delete_lost(cluster)
        results["changed"] = changed_rows(
            cluster, work, args.lost, args.before_python, args.changed_reps
        )
        print(json.dumps(results["changed"]), flush=True)
    results["anchor_rows_per_second"] = round(args.lost / results["anchor_copy_seconds"])
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
