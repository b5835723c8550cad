"""Benchmark: `restoredrill reapply --execute` of a lost-users incident on MariaDB, beside a
by-hand LOAD DATA (the MariaDB half of bench/reapply_bench.py).

One throwaway mariadbd (binary log on, ROW format, as a production server that can be
restored to a point in time has it), two databases: ``restored`` holds USERS users (a
quarter with a NULL ``last_login``), ``production`` a copy of it from which the bad DELETE
removed every user with a NULL ``last_login`` (LOST rows). ``restoredrill diff`` (timed, not
the subject) lists them; then, for each batch size, ``restoredrill reapply --execute`` puts
them back in a child process (wall time = the whole command), runs again (it must change
nothing), the rows are deleted again, and the same reapply runs in this process to time its
phases (reading the diff, preparing and writing the SQL script, the batches). ``--before
DIR`` also runs the child command from another source tree (``git archive`` of an older
commit) for the first batch size, in the same run. The anchor is what an expert does by
hand: the lost rows out of the restore into a file, ``LOAD DATA LOCAL INFILE`` of it into
production with the ``mariadb`` client, one statement, no guard — timed in the same run on
the same table.

    .venv/bin/python bench/reapply_bench_mariadb.py --lost 400000

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
from pathlib import Path
from typing import Any

from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reapply_bench import diff_users, phases

USERS = """
CREATE TABLE {db}.users (
    id BIGINT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_login TIMESTAMP NULL DEFAULT NULL,
    plan VARCHAR(10) NOT NULL,
    balance DECIMAL(12,2) NOT NULL,
    active TINYINT(1) NOT NULL
)
"""
FILL = """
INSERT INTO restored.users
SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('User number ', seq),
       TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq MINUTE,
       IF(seq % {every} = 0, NULL, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND),
       ELT(1 + seq % 3, 'free', 'pro', 'team'), (seq % 100000) / 100.0, seq % 7 <> 0
FROM restored.seq_1_to_{users}
"""
LOST = "last_login IS NULL"
OPTIONS = {"innodb-buffer-pool-size": "1G", "innodb-log-file-size": "512M"}


def sql(server: LocalMySQL, *statements: str) -> list[tuple[Any, ...]]:
    conn = server.connect()
    try:
        my.pin_session(conn)
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            rows = conn.rows(statement)
        return rows
    finally:
        conn.close()


def delete_lost(server: LocalMySQL) -> None:
    sql(server, f"DELETE FROM production.users WHERE {LOST}")


def _field(value: Any) -> bytes:
    if value is None:
        return b"\\N"
    text = value if isinstance(value, bytes) else str(value).encode()
    return text.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")


def anchor(server: LocalMySQL, work: Path) -> float:
    """By hand: the lost rows out of the restore into a file, LOAD DATA LOCAL INFILE of it
    into production with the mariadb client (only the load is timed)."""
    path = work / "lost.tsv"
    rows = sql(server, f"SELECT * FROM restored.users WHERE {LOST}")
    with path.open("wb") as out:
        for row in rows:
            out.write(b"\t".join(_field(v) for v in row) + b"\n")
    load = (
        f"SET time_zone = '+00:00'; LOAD DATA LOCAL INFILE '{path}' INTO TABLE users"
        " CHARACTER SET utf8mb4"
    )
    started = time.monotonic()
    done = subprocess.run(
        server.client_argv("--local-infile=1", "production", "-e", load),
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    return seconds


def reapply_argv(diff_file: Path, dsn: str, lost: int, size: int) -> list[str]:
    return [
        "-m", "restoredrill", "reapply", str(diff_file), "--to", dsn, "--execute", "--json",
        "--max-rows", str(lost), "--batch-size", str(size),
    ]  # fmt: skip


def child(
    server: LocalMySQL, diff_file: Path, lost: int, size: int, tree: Path | None = None
) -> dict[str, Any]:
    """The reapply as a child process, then its rerun (must change nothing); ``tree``: run
    the source tree there (an older commit) instead of this one."""
    env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree)}
    argv = [sys.executable, *reapply_argv(diff_file, server.dsn("production"), lost, size)]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tree)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)["tables"][0]
    assert table["inserted"] == lost, table
    back = sql(server, f"SELECT COUNT(*) FROM production.users WHERE {LOST}")
    assert back == [(lost,)], back
    started = time.monotonic()
    again = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tree)
    rerun = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    table = json.loads(again.stdout)["tables"][0]
    assert (table["inserted"], table["already"]) == (0, lost), table
    return {
        "batch_size": size,
        "wall_seconds": round(seconds, 2),
        "rows_per_second": round(lost / seconds),
        "rerun_seconds": round(rerun, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lost", type=int, default=400_000, help="rows lost (a quarter of users)")
    parser.add_argument("--batch-sizes", default="10000,50000")
    parser.add_argument("--before", type=Path, help="a source tree to run 'before' from")
    parser.add_argument("--no-binlog", action="store_true", help="binary log off")
    args = parser.parse_args()
    users = args.lost * 4
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    results: dict[str, Any] = {"users": users, "lost": args.lost, "runs": []}
    with (
        tempfile.TemporaryDirectory(prefix="reapply-bench-") as tmp,
        local_mysql("reapply-bench-mariadb") as server,
    ):
        work = Path(tmp)
        os.chmod(work, 0o755)  # the server's OS user writes nothing here; the client reads
        server.init_datadir()
        log_bin = None if args.no_binlog else server.root / "binlog" / "bin"
        if log_bin is not None:
            log_bin.parent.mkdir()
            server.run_as.own(log_bin.parent)
        tmpdir = server.root / "tmp"  # its own: something on this machine empties /tmp
        tmpdir.mkdir()
        server.run_as.own(tmpdir)
        server.start(log_bin=log_bin, init_file=False, options={**OPTIONS, "tmpdir": str(tmpdir)})
        results["server"] = sql(server, "SELECT VERSION()")[0][0]
        started = time.monotonic()
        sql(
            server,
            "CREATE DATABASE restored CHARACTER SET utf8mb4",
            "CREATE DATABASE production CHARACTER SET utf8mb4",
            USERS.format(db="restored"),
            USERS.format(db="production"),
            FILL.format(every=4, users=users),
            "INSERT INTO production.users SELECT * FROM restored.users",
        )
        delete_lost(server)
        results["setup_seconds"] = round(time.monotonic() - started, 1)
        diff_file = diff_users(server.dsn("restored"), server.dsn("production"), work, results)
        results["anchor_load_data_seconds"] = round(anchor(server, work), 2)
        results["anchor_rows_per_second"] = round(args.lost / results["anchor_load_data_seconds"])
        print(json.dumps({k: v for k, v in results.items() if k != "runs"}), flush=True)
        delete_lost(server)
        if args.before is not None:
            results["before"] = child(server, diff_file, args.lost, sizes[0], args.before)
            print(json.dumps({"before": results["before"]}), flush=True)
            delete_lost(server)
        for size in sizes:
            results["runs"].append(child(server, diff_file, args.lost, size))
            delete_lost(server)
            results["runs"][-1].update(phases(server.dsn("production"), diff_file, args.lost, size))
            print(json.dumps(results["runs"][-1]), flush=True)
            delete_lost(server)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
