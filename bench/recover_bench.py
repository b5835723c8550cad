"""Benchmark: issue 11's whole story — `restoredrill recover --where 'last_login IS NULL'
--execute` on a ~1 GB database, beside an expert by hand, in the same run.

The story: production (WAL archived, one base backup) holds ``users`` (2,000,000, 30 % with
a NULL last_login) and ``orders`` (6,000,000, ``user_id REFERENCES users`` — a plain foreign
key, no cascade). A bad DELETE removes 800,000 users (id % 5 in (1, 2)) of which 400,000
had a NULL last_login and were deleted by mistake (id % 5 = 1); the other 400,000 were meant
to go. None of the 800,000 had orders: the issue recovered ``users`` alone and was right,
which is only possible if the deleted users had no orders, and with a plain foreign key
PostgreSQL would have refused the DELETE otherwise. Then legitimate writes: new users (some
with a NULL last_login), surviving never-logged-in users log in, balances change, orders are
added and removed. They must stay untouched.

Built once (minutes) and cached under --cache (the base backup, the WAL archive, the
production data directory stopped cleanly after the story, the expected checksums). Each run
copies the production data directory into a fresh server, then:

- ours: ``restoredrill recover --incident-xid X --table users --where 'last_login IS NULL'
  --execute`` as a child process (whole-process wall), its phases from its --json;
- by hand, on another fresh copy: restore the base to just before the incident (`tar -xf`,
  `cp` restore_command, recovery_target_xid, exclusive, promote), ``COPY (SELECT * FROM
  users WHERE last_login IS NULL) TO STDOUT`` piped into ``COPY`` to a temporary table in
  production, ``INSERT ... ON CONFLICT (id) DO NOTHING`` (the guard), one transaction;
- checks on both: the 400,000 users are back with exactly their values before the incident,
  everything else (users and orders) exactly as production held it before the recovery.

    .venv/bin/python bench/recover_bench.py [--reps 1] [--cache /var/tmp/...] [--rebuild]
        [--before-python /tmp/basevenv/bin/python]   # the code before, same repetitions

Not a test: numbers go to bench/results/recover.md by hand, with the command.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    USERS_INCIDENT,
    USERS_LOAD,
    USERS_SCHEMA,
    hand_restore,
    psql,
    restoredrill_argv,
    run_measured,
)

import restoredrill
from restoredrill.engines.postgres.archiving import (
    base_backup,
    start_archiving,
    switch_and_wait_archived,
)
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools

PRODUCTION = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "1h"}
ORDERS = """
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL,
    amount numeric(10, 2) NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL
)
"""
# Orders belong to users never deleted (id % 5 in (0, 3, 4)), about five each.
ORDERS_LOAD = """
INSERT INTO orders
SELECT g, 5 * ((g / 3) % ({users} / 5)) + (ARRAY[3, 4, 5])[1 + g % 3], (g % 10000) / 10.0,
       (ARRAY['paid', 'shipped', 'refunded', 'open'])[1 + g % 4],
       timestamptz '2025-01-01 00:00:00+00' + g * interval '3 seconds'
FROM generate_series(1, {orders}) g
"""
ORDERS_KEYS = """
CREATE INDEX orders_user_id ON orders (user_id);
ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users
"""
LATER = """
INSERT INTO users
SELECT g, 'late' || g || '@example.com', 'Signed up after ' || g, 'free', now(),
       CASE WHEN g % 2 = 0 THEN NULL ELSE now() END, 0
FROM generate_series({users} + 1, {users} + 1000) g;
UPDATE users SET last_login = now() WHERE id % 10 = 3 AND id <= 10000;
UPDATE users SET balance = balance + 10 WHERE id % 5 = 0 AND id <= 5000;
INSERT INTO orders
SELECT {orders} + g, 5 * (g % ({users} / 5 - 1)) + 3, 1.5, 'open', now()
FROM generate_series(1, 10000) g;
DELETE FROM orders WHERE id <= 1000
"""
WHERE = "last_login IS NULL"
# by hand: into a temporary table, then only the keys production does not hold (the guard)
LOAD_BACK = [
    "CREATE TEMP TABLE lost (LIKE users)",
    "COPY lost FROM STDIN",
    "INSERT INTO users SELECT * FROM lost ON CONFLICT (id) DO NOTHING",
]
LOST = "id % 5 = 1 AND id <= {users}"  # the users deleted by mistake


def digest(tools: PgTools, dsn: str, table: str, where: str) -> str:
    """Row count and a checksum of every row's text, in key order."""
    return psql(
        tools,
        dsn,
        f"SELECT count(*) || ' ' || md5(string_agg(md5(t::text), '' ORDER BY id)) "  # noqa: S608
        f"FROM {table} t WHERE {where}",
    )


def expected_digests(tools: PgTools, dsn: str, users: int) -> dict[str, str]:
    lost = LOST.format(users=users)
    return {
        "users_kept": digest(tools, dsn, "users", f"NOT ({lost})"),
        "orders_kept": digest(tools, dsn, "orders", "true"),
    }


def build(cache: Path, tools: PgTools, users: int, orders: int, compression: str) -> None:
    """The story, from nothing into ``cache`` (written under another name, renamed at the
    end: an interrupted build is never taken for a cached one)."""
    staging = cache.with_name(cache.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    meta: dict[str, Any] = {"users": users, "orders": orders, "compression": compression}
    started = time.monotonic()
    with local_postgres("bench-recover-build", tools=tools) as production:
        start_archiving(production, staging / "archive", PRODUCTION)
        for statement in (
            USERS_SCHEMA,
            USERS_LOAD.format(rows=users),
            ORDERS,
            ORDERS_LOAD.format(users=users, orders=orders),
            ORDERS_KEYS,
            "VACUUM ANALYZE",
        ):
            psql(tools, production, statement)
        meta["database_bytes"] = int(psql(tools, production, "SELECT pg_database_size('postgres')"))
        base_backup(production, staging / "backups" / "b1", compression=compression)  # type: ignore[arg-type]
        # some traffic between the backup and the incident (the 'before' restore replays it)
        psql(tools, production, "UPDATE users SET balance = balance + 1 WHERE id % 1000 = 4")
        meta["lost_digest"] = digest(tools, production.dsn(), "users", LOST.format(users=users))
        with production.connect() as conn, conn.transaction():
            row = conn.execute("SELECT txid_current()").fetchone()
            assert row is not None
            meta["incident_xid"] = int(str(row[0])) & 0xFFFFFFFF
            deleted = conn.execute(USERS_INCIDENT).rowcount
        assert deleted == users * 2 // 5, deleted
        switch_and_wait_archived(production)  # the incident's segment is not the last one
        psql(tools, production, LATER.format(users=users, orders=orders))
        switch_and_wait_archived(production)
        meta.update(expected_digests(tools, production.dsn(), users))
        production.run_tool(
            [tools.path("pg_ctl"), "-D", str(production.datadir), "-m", "fast", "stop"],
            what="pg_ctl stop",
        )
        subprocess.run(["cp", "-a", str(production.datadir), str(staging / "production")],
                       check=True)  # fmt: skip
    for path in [staging / "backups", staging / "archive"]:  # the restores' server user reads
        for sub in [path, *path.rglob("*")]:
            os.chmod(sub, 0o755 if sub.is_dir() else 0o644)
    os.chmod(staging, 0o755)
    meta["build_seconds"] = round(time.monotonic() - started)
    meta["wal_segments"] = len([p for p in (staging / "archive").iterdir() if len(p.name) == 24])
    meta["base_bytes"] = sum(p.stat().st_size for p in (staging / "backups" / "b1").iterdir())
    (staging / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(cache, ignore_errors=True)
    staging.rename(cache)


def production_copy(cluster: LocalPostgres, cache: Path, tools: PgTools) -> float:
    """Start ``cluster`` on a copy of the cached production (after the story); seconds."""
    started = time.monotonic()
    subprocess.run(
        ["cp", "-a", "--reflink=auto", f"{cache / 'production'}/.", str(cluster.datadir)],
        check=True,
    )
    cluster.start(settings={**PRODUCTION, "synchronous_commit": "on"})
    psql(tools, cluster, "CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    psql(tools, cluster, "SELECT pg_prewarm('users'), pg_prewarm('users_pkey')")  # a hot server
    return time.monotonic() - started


def check(tools: PgTools, dsn: str, meta: dict[str, Any]) -> dict[str, bool]:
    users = meta["users"]
    now = expected_digests(tools, dsn, users)
    back = digest(tools, dsn, "users", LOST.format(users=users))
    return {
        "lost_users_back_exactly": back == meta["lost_digest"],
        "other_users_untouched": now["users_kept"] == meta["users_kept"],
        "orders_untouched": now["orders_kept"] == meta["orders_kept"],
    }


def ours(
    tools: PgTools,
    cache: Path,
    meta: dict[str, Any],
    work: Path,
    profile: Path | None = None,
    interpreter: str = sys.executable,
) -> dict[str, Any]:
    with local_postgres("bench-recover-production", tools=tools) as production:
        copy_seconds = production_copy(production, cache, tools)
        out = work / f"recover-{time.monotonic_ns()}.json"
        argv = [*restoredrill_argv(interpreter, profile), "recover",
                "--base-backups", str(cache / "backups"), "--wal-archive", str(cache / "archive"),
                "--table", "users", "--to", production.dsn(),
                "--incident-xid", str(meta["incident_xid"]), "--where", WHERE, "--execute",
                "--max-rows", str(meta["users"]), "--out", str(out),
                "--ledger", str(work / "ledger.sqlite"), "--json"]  # fmt: skip
        measured = run_measured(argv, out.with_suffix(".stdout"))
        assert measured.get("exit") == 0, measured
        result = json.loads(out.with_suffix(".stdout").read_text())
        measured["copy_production_seconds"] = round(copy_seconds, 1)
        measured["seconds_inside"] = round(result["seconds"], 2)
        measured["phases"] = {p["name"]: round(p["seconds"], 2) for p in result["phases"]}
        for side in ("before", "after"):
            measured[f"{side}_restore"] = {
                p["name"]: round(p["seconds"], 2) for p in result[side]["phases"]
            }
        report = result["reapply"]
        measured["reapplied"] = {
            "rows_selected": report["rows_selected"],
            "batches": report["batches"],
            "conflicts": len(report["conflicts"]),
            "tables": [
                {k: v for k, v in t.items() if k in ("table", "inserted", "updated", "already")}
                for t in report["tables"]
            ],
        }
        measured["diff"] = [
            {k: t.get(k) for k in ("table", "counts", "stats")} for t in result["tables"]
        ]
        measured["checks"] = check(tools, production.dsn(), meta)
        (work / "last-recover.json").write_text(json.dumps(result, indent=2, default=str))
    return measured


def by_hand(tools: PgTools, cache: Path, meta: dict[str, Any], work: Path) -> dict[str, Any]:
    recovery = {
        "recovery_target_xid": str(meta["incident_xid"]),
        "recovery_target_inclusive": "false",
        "recovery_target_action": "promote",
    }
    psql_bin = tools.path("psql")
    with local_postgres("bench-recover-production", tools=tools) as production:
        copy_seconds = production_copy(production, cache, tools)
        started = time.monotonic()
        with hand_restore(cache / "backups" / "b1", cache / "archive", tools, work,
                          recovery) as restored:  # fmt: skip
            copied = time.monotonic()
            out_of = f"COPY (SELECT * FROM users WHERE {WHERE}) TO STDOUT"  # noqa: S608
            reader = subprocess.Popen([psql_bin, "-X", "-d", restored.dsn, "-c", out_of],
                                      stdout=subprocess.PIPE)  # fmt: skip
            load = [psql_bin, "-X", "-1", "-v", "ON_ERROR_STOP=1", "-d", production.dsn()]
            for statement in LOAD_BACK:
                load += ["-c", statement]
            done = subprocess.run(load, stdin=reader.stdout, capture_output=True, text=True)
            assert reader.stdout is not None
            reader.stdout.close()
            assert reader.wait() == 0 and done.returncode == 0, done.stderr
            finished = time.monotonic()
        return {
            "seconds": round(finished - started, 2),
            "restore_seconds": round(restored.seconds, 2),
            "copy_and_load_seconds": round(finished - copied, 2),
            "copy_production_seconds": round(copy_seconds, 1),
            "psql_said": done.stdout.split(),
            "checks": check(tools, production.dsn(), meta),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--orders", type=int, default=6_000_000)
    parser.add_argument("--compression", choices=["none", "gzip", "lz4", "zstd"], default="none")
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/restoredrill-recover-bench"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--skip-hand", action="store_true")
    parser.add_argument("--profile", type=Path, help="pyinstrument's text report of ours here")
    parser.add_argument(
        "--before-python",
        help="Also run recover with this interpreter (another install, e.g. the code before).",
    )
    args = parser.parse_args()
    # timed as installed: an installed package has its bytecode compiled
    compileall.compile_dir(Path(restoredrill.__file__).parent, quiet=1)
    tools = find_pg_tools()
    cache = args.cache / f"u{args.users}-o{args.orders}-{args.compression}-v1"
    args.cache.mkdir(parents=True, exist_ok=True)
    os.chmod(args.cache, 0o755)
    if args.rebuild or not (cache / "meta.json").exists():
        build(cache, tools, args.users, args.orders, args.compression)
    meta = json.loads((cache / "meta.json").read_text())
    print(json.dumps(meta), file=sys.stderr, flush=True)
    report: dict[str, Any] = {"story": meta, "runs": []}
    with tempfile.TemporaryDirectory(prefix="rdrec-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        os.environ["RESTOREDRILL_SANDBOX_DIR"] = str(work / "sandboxes")
        for rep in range(args.reps):  # alternate who goes first: drift hits both
            order = ["ours", "by_hand"] if rep % 2 else ["by_hand", "ours"]
            if args.before_python:
                order.append("before")
            run: dict[str, Any] = {}
            for who in order:
                if who == "by_hand" and args.skip_hand:
                    continue
                subprocess.run(["sync"], check=False)
                if who == "ours":
                    run[who] = ours(tools, cache, meta, work, args.profile)
                elif who == "before":
                    run[who] = ours(tools, cache, meta, work, None, args.before_python)
                else:
                    run[who] = by_hand(tools, cache, meta, work)
                print(json.dumps({who: run[who]}), file=sys.stderr, flush=True)
            if "by_hand" in run:
                for who in ("ours", "before"):
                    if who in run:
                        ratio = run[who]["seconds"] / run["by_hand"]["seconds"]
                        run[f"{who}_ratio"] = round(ratio, 2)
            report["runs"].append(run)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
