"""Benchmark: how MariaDB reapply loads a batch into its staging table, measured.

One throwaway mariadbd (binary log off), a ``users`` table as in bench/reapply_bench_mariadb.py
and ROWS rows of it in memory. Each way, on one connection, in one transaction, ROUNDS times
in turn: the by-hand anchor (``LOAD DATA LOCAL INFILE`` straight into ``users``); LOAD DATA
LOCAL into a temporary stage (Aria, InnoDB, MEMORY), then ``INSERT ... SELECT`` into
``users``; multi-row INSERTs (1 MiB statements) into the stage, then the same move; and
multi-row INSERTs straight into ``users``. Reported per way: the best wall time and the
server's CPU seconds (utime + stime of mariadbd: steadier than wall on a shared machine).

    .venv/bin/python bench/stage_load_bench_mariadb.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql import stage_data
from restoredrill.engines.mysql.driver import escape_string, offered
from restoredrill.engines.mysql.sandbox_local import local_mysql

COLS = "id, email, name, created_at, last_login, plan, balance, active"
USERS = (
    "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE,"
    " name VARCHAR(100) NOT NULL, created_at DATETIME(6) NOT NULL, last_login TIMESTAMP NULL,"
    " plan VARCHAR(10) NOT NULL, balance DECIMAL(12,2) NOT NULL, active TINYINT(1) NOT NULL)"
)
STAGE = (
    "CREATE TEMPORARY TABLE s (n INT, sig INT) ENGINE={engine} SELECT t.id AS v0,"
    " t.email AS v1, t.name AS v2, t.created_at AS v3, t.last_login AS v4, t.plan AS v5,"
    " t.balance AS v6, t.active AS v7 FROM (SELECT 1) AS d LEFT JOIN users AS t ON FALSE"
    " WHERE FALSE"
)
MOVE = f"INSERT INTO users ({COLS}) SELECT v0, v1, v2, v3, v4, v5, v6, v7 FROM s ORDER BY n"


def rows(count: int) -> list[tuple[str | None, ...]]:
    return [
        (str(i), f"user{i}@example.com", f"User number {i}", f"2020-01-01 00:{i % 60:02d}:00",
         None, "pro", f"{i % 1000}.{i % 100:02d}", "1")
        for i in range(1, count + 1)
    ]  # fmt: skip


def inserts(head: str, values: list[tuple[Any, ...]]) -> list[str]:
    statements, batch, size = [], [], 0
    for row in values:
        text = "(" + ",".join("NULL" if v is None else f"'{escape_string(str(v))}'" for v in row)
        if batch and size + len(text) > 1 << 20:
            statements.append(head + "),".join(batch) + ")")
            batch, size = [], 0
        batch.append(text)
        size += len(text) + 2
    return [*statements, head + "),".join(batch) + ")"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = rows(args.rows)
    staged = [(n, None, *r) for n, r in enumerate(data)]
    direct_tsv, stage_tsv = stage_data.encode(data), stage_data.encode(staged)
    stage_sql = inserts("INSERT INTO s VALUES ", staged)
    direct_sql = inserts(f"INSERT INTO users ({COLS}) VALUES ", data)
    results: dict[str, dict[str, float]] = {}
    with local_mysql("bench-stage-load") as server:
        server.init_datadir()
        tmpdir = server.root / "tmp"
        tmpdir.mkdir()
        server.run_as.own(tmpdir)
        server.start(init_file=False, options={"innodb-buffer-pool-size": "1G",
                                               "tmpdir": str(tmpdir)})  # fmt: skip
        conn = server.connect()
        conn.run("CREATE DATABASE d")
        conn.close()
        conn = my.connect(server.dsn("d"))
        my.pin_session(conn)
        conn.run("SET SESSION max_heap_table_size = 1073741824")
        assert server._process is not None
        stat = f"/proc/{server._process.pid}/stat"

        def cpu() -> float:
            fields = open(stat).read().rsplit(")", 1)[1].split()  # noqa: SIM115
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        def load(table: str, tsv: bytes) -> None:
            with offered(tsv) as name:
                conn.run(f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE {table}")

        def stage(engine: str) -> None:
            conn.run("DROP TEMPORARY TABLE IF EXISTS s")
            conn.run(STAGE.format(engine=engine))

        def run_all(statements: list[str]) -> None:
            for statement in statements:
                conn.run(statement)

        def staged_way(engine: str, by_load: bool) -> Callable[[], None]:
            def way() -> None:
                stage(engine)
                if by_load:
                    load("s", stage_tsv)
                else:
                    run_all(stage_sql)
                conn.run(MOVE)

            return way

        ways: dict[str, Callable[[], None]] = {
            "anchor: LOAD DATA LOCAL into users": lambda: load("users", direct_tsv),
            "INSERT VALUES into users": lambda: run_all(direct_sql),
        }
        for engine in ("Aria", "InnoDB", "MEMORY"):
            ways[f"LOAD DATA into {engine} stage + move"] = staged_way(engine, True)
        ways["INSERT VALUES into Aria stage + move"] = staged_way("Aria", False)
        conn.run(USERS)
        for _ in range(args.rounds):
            for name, way in ways.items():
                conn.run("TRUNCATE TABLE users")
                conn.run("START TRANSACTION")
                started, before = time.monotonic(), cpu()
                way()
                conn.run("COMMIT")
                wall, used = time.monotonic() - started, cpu() - before
                best = results.setdefault(name, {"wall_seconds": wall, "server_cpu_seconds": used})
                best["wall_seconds"] = round(min(best["wall_seconds"], wall), 2)
                best["server_cpu_seconds"] = round(min(best["server_cpu_seconds"], used), 2)
                print(name, round(wall, 2), round(used, 2), flush=True)
        conn.close()
    print(json.dumps({"rows": args.rows, "best": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
