"""Faults injected into verify and diff on real PostgreSQL, asserted through the CLI (a real
process, so a hang fails the test instead of stalling it): production given as the restored
side, a lock held in production, a table on one side only, reapply's archive schema, and a
table without a key."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from tests.diffhelp import Pair, new_pair

SECRET = "s3cret-pw"


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-vd-faults", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def pair(cluster: LocalPostgres) -> Pair:
    made = new_pair(cluster)
    made.both(
        "CREATE TABLE items (id int PRIMARY KEY, label text)",
        "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 200) g",
    )
    return made


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


def restoredrill(*args: str, timeout: float = 90) -> Run:
    """The CLI in its own process: a hang is a TimeoutExpired, not a stuck test run."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "restoredrill", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def _secret(dsn: str) -> str:
    return f"{dsn} password={SECRET}"  # the private socket trusts: never checked


def _sessions(pair: Pair, dbname: str, *but: int) -> int:
    """Sessions still connected to ``dbname`` apart from ``but`` (and this one)."""
    with psycopg.connect(pair.cluster.dsn(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND pid <> pg_backend_pid() AND NOT pid = ANY(%s)",
            (dbname, list(but)),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def locked(pair: Pair) -> Iterator[int]:
    """ACCESS EXCLUSIVE on production's items, held by another session (e.g. an ALTER TABLE
    stuck behind a long transaction); yields that session's pid."""
    conn = psycopg.connect(pair.production)
    conn.execute("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE")
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    try:
        yield int(row[0])
    finally:
        conn.rollback()
        conn.close()


# --- production given as the restored side -------------------------------------------------------


def test_verify_and_diff_refuse_production_against_itself(pair: Pair) -> None:
    production = _secret(pair.production)
    for args in (
        ("verify", production, production),
        ("diff", production, production, "--table", "items"),
    ):
        run = restoredrill(*args)
        assert run.code == 2, run.err
        assert run.out == "" and run.err.count("\n") == 1
        assert "is the reference itself" in run.err
        assert f"dbname={pair.production_db}" in run.err and "password=***" in run.err
        assert SECRET not in run.err
    assert _sessions(pair, pair.production_db) == 0

    # another database of the same server is another database: compared as usual
    run = restoredrill("verify", pair.restored, pair.production, "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["status"] == "PASS"


# --- a lock held in production -------------------------------------------------------------------


def test_verify_gives_up_on_a_lock_held_in_production(pair: Pair, locked: int) -> None:
    run = restoredrill("verify", pair.restored, pair.production, "--lock-timeout", "1s")
    assert run.code == 3, run.err
    assert run.seconds < 30
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert "public.items" in run.err and "--lock-timeout 1s" in run.err
    assert "raise --lock-timeout" in run.err
    assert _sessions(pair, pair.production_db, locked) == 0
    assert _sessions(pair, pair.restored_db) == 0


def test_diff_gives_up_on_a_lock_held_in_production(pair: Pair, locked: int) -> None:
    run = restoredrill(
        "diff", pair.restored, pair.production, "--table", "items", "--lock-timeout", "500ms"
    )
    assert run.code == 3, run.err
    assert run.seconds < 30
    assert run.err.count("\n") == 1 and run.out == ""
    assert "public.items" in run.err and "--lock-timeout 500ms" in run.err
    assert _sessions(pair, pair.production_db, locked) == 0


def test_statement_timeout_ends_a_long_statement(pair: Pair, locked: int) -> None:
    """A lock wait longer than the statement limit: the statement timeout fires first."""
    run = restoredrill(
        "verify",
        pair.restored,
        pair.production,
        "--table",
        "items",
        "--lock-timeout",
        "1h",
        "--statement-timeout",
        "1s",
    )
    assert run.code == 3, run.err
    assert run.seconds < 30
    assert run.err.count("\n") == 1
    assert "public.items" in run.err and "--statement-timeout 1s" in run.err
    assert "raise --statement-timeout" in run.err


def test_timeouts_are_validated(pair: Pair) -> None:
    for option, value in (("--lock-timeout", "soon"), ("--statement-timeout", "0")):
        run = restoredrill("verify", pair.restored, pair.production, option, value)
        assert run.code == 2 and run.err.count("\n") == 1 and option in run.err


def test_a_lock_released_in_time_does_not_fail(pair: Pair) -> None:
    conn = psycopg.connect(pair.production)
    conn.execute("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE")
    release = threading.Timer(1.0, conn.rollback)
    release.start()
    try:
        run = restoredrill("verify", pair.restored, pair.production, "--lock-timeout", "20s")
    finally:
        release.join()
        conn.close()
    assert run.code == 0, run.err


# --- a table on one side only --------------------------------------------------------------------


def test_a_table_on_one_side_only_is_a_difference(pair: Pair) -> None:
    pair.run(pair.restored, "CREATE TABLE gone (id int PRIMARY KEY)", "INSERT INTO gone VALUES (1)")
    pair.run(pair.production, "CREATE TABLE fresh (id int PRIMARY KEY)")

    run = restoredrill("verify", pair.restored, pair.production, "--json")
    assert run.code == 1, run.err
    report = json.loads(run.out)
    by_table = {t["table"]: t for t in report["tables"]}
    assert report["status"] == "FAIL"
    assert by_table["public.gone"]["status"] == "FAIL"
    assert by_table["public.gone"]["detail"] == "missing in the reference"
    assert by_table["public.fresh"]["status"] == "FAIL"
    assert by_table["public.fresh"]["detail"] == "missing in the restored database"
    assert by_table["public.items"]["status"] == "PASS"

    run = restoredrill("diff", pair.restored, pair.production, "--table", "gone")
    assert run.code == 1, run.err
    assert "verdict: public.gone missing in production (1 row(s) in the restored" in run.out
    run = restoredrill("diff", pair.restored, pair.production, "--table", "fresh", "--json")
    assert run.code == 1, run.err
    (table,) = json.loads(run.out)["tables"]
    assert table["missing_in"] == "restored" and table["keyed"] is False


# --- reapply's archive schema --------------------------------------------------------------------


def test_the_archive_schema_is_never_compared(pair: Pair) -> None:
    pair.run(
        pair.production,
        "CREATE SCHEMA restoredrill_archive",
        "CREATE TABLE restoredrill_archive.items_20260101 (LIKE public.items)",
        "INSERT INTO restoredrill_archive.items_20260101 VALUES (1, 'old')",
    )
    run = restoredrill("verify", pair.restored, pair.production, "--json")
    assert run.code == 0, run.err
    assert [t["table"] for t in json.loads(run.out)["tables"]] == ["public.items"]

    run = restoredrill(
        "diff", pair.restored, pair.production, "--table", "restoredrill_archive.items_20260101"
    )
    assert run.code == 2 and "unknown table" in run.err


# --- a table without a key -----------------------------------------------------------------------


def test_diff_without_a_key_is_never_no_differences(pair: Pair) -> None:
    pair.both("CREATE TABLE loose (v text)", "INSERT INTO loose VALUES ('a'), ('b')")
    run = restoredrill("diff", pair.restored, pair.production, "--table", "loose")
    assert run.code == 2, run.err
    assert "no differences" not in run.out
    assert "verdict: not compared (no key, counts only): public.loose" in run.out

    run = restoredrill("diff", pair.restored, pair.production, "--table", "loose", "--json")
    assert run.code == 2
    (table,) = json.loads(run.out)["tables"]
    assert table["keyed"] is False and table["missing_in"] is None

    run = restoredrill(
        "diff", pair.restored, pair.production, "--table", "loose", "--format", "csv"
    )
    assert run.code == 2 and "cannot diff public.loose by key" in run.err
