"""Faults around `reapply --execute` on real servers: SIGTERM / SIGINT mid-run (exit 130, one
line naming the checkpoint and the command that resumes, the batch in flight rolled back, a
rerun completes and a second rerun changes nothing); files holding production rows written
0600 and never overwritten without --force; the archive table created only when a row is
really archived."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from restoredrill.drill.diff import diff
from restoredrill.drill.reapply import ReapplyOptions, checkpoint_path, reapply
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from tests.diffhelp import Pair, new_pair
from tests.pgsetup import CLI, kill_quietly, run_cli, wait_for

pytestmark = pytest.mark.slow

CHANGED = 2000  # rows 1..CHANGED differ in production (reapply reverts them, archived first)
LOST = 1000  # rows CHANGED+1..CHANGED+LOST are gone from production
BATCH = 50
LINE = re.compile(
    r"restoredrill: error: (?:terminated \(SIGTERM\)|interrupted \(SIGINT\)): (\d+) batch\(es\) "
    r"committed, (.+); the checkpoint (\S+) lets a rerun resume: (restoredrill reapply .+)"
)


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-reapply-faults", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


def _query(
    dsn: str, statement: str | sql.Composed, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return list(conn.execute(statement, params).fetchall())


def _archived(dsn: str, archive: str) -> list[tuple[object, ...]]:
    """(rows, distinct ids) of one archive table."""
    statement = sql.SQL("SELECT count(*), count(DISTINCT id) FROM {}").format(
        sql.Identifier("restoredrill_archive", archive)
    )
    return _query(dsn, statement)


def _rows(dsn: str) -> list[tuple[object, ...]]:
    return _query(dsn, "SELECT id, balance, note FROM acct ORDER BY id")


def _archives(dsn: str) -> list[str]:
    return [
        str(r[0])
        for r in _query(
            dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'restoredrill_archive'"
        )
    ]


def _big_diff(cluster: LocalPostgres, tmp_path: Path) -> tuple[Pair, Path]:
    pair = new_pair(cluster)
    pair.both(
        "CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL, note text)",
        sql.SQL("INSERT INTO acct SELECT g, g, 'row ' || g FROM generate_series(1, {}) g").format(
            CHANGED + LOST
        ),
    )
    pair.run(
        pair.production,
        sql.SQL("UPDATE acct SET balance = balance + 1 WHERE id <= {}").format(CHANGED),
        sql.SQL("DELETE FROM acct WHERE id > {}").format(CHANGED),
    )
    out = tmp_path / "acct.json"
    document = diff(pair.restored, pair.production, "acct", out=out)
    assert (document.counts.changed, document.counts.lost) == (CHANGED, LOST)
    return pair, out


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _reapply_args(out: Path, dsn: str, *extra: str) -> list[str]:
    return ["reapply", str(out), "--to", dsn, "--execute", "--batch-size", str(BATCH), *extra]


def _no_sessions_left(dsn: str, dbname: str) -> bool:
    """No client session on production but the asking one (the reapply left none)."""

    def none() -> bool:
        rows = _query(
            dsn,
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
        return rows == [(0,)]

    return wait_for(none, timeout=10)


def _finish_and_rerun(pair: Pair, out: Path, resume: str) -> None:
    """The printed command resumes and completes; a second rerun changes nothing and creates
    no archive table; every reverted row was archived exactly once."""
    args = shlex.split(resume)
    assert args[:2] == ["restoredrill", "reapply"]
    done = run_cli(args[1:])
    assert done.returncode == 0, done.stderr
    assert _rows(pair.production) == _rows(pair.restored)
    assert not checkpoint_path(out).exists()
    (archive,) = _archives(pair.production)
    assert _archived(pair.production, archive) == [(CHANGED, CHANGED)]
    again = run_cli(_reapply_args(out, pair.production, "--json"))
    assert again.returncode == 0, again.stderr
    (table,) = json.loads(again.stdout)["tables"]
    assert (table["inserted"], table["updated"]) == (0, 0)
    assert table["already"] == CHANGED + LOST
    assert _archives(pair.production) == [archive]  # a rerun that changes nothing: no new table


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_batch_rolls_it_back_and_a_rerun_resumes(
    cluster: LocalPostgres, tmp_path: Path, sig: signal.Signals
) -> None:
    pair, out = _big_diff(cluster, tmp_path)
    blocked_id = 1001  # first row of batch 21: batches 1-20 commit, batch 21 waits on its lock
    blocker = psycopg.connect(pair.production)
    blocker.execute("SELECT 1 FROM acct WHERE id = %s FOR UPDATE", (blocked_id,))
    proc = subprocess.Popen(
        [str(CLI), *_reapply_args(out, pair.production, "--lock-timeout", "120s")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def waiting() -> bool:
            rows = _query(
                pair.production,
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
                (pair.production_db,),
            )
            return bool(rows)

        assert wait_for(waiting, timeout=120), "the reapply never reached the locked row"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        kill_quietly(proc.pid)
        blocker.rollback()
        blocker.close()
    assert proc.returncode == 130, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    found = LINE.fullmatch(lines[0])
    assert found, lines[0]
    assert found.group(1) == "20"
    assert found.group(2) == "the batch in flight was rolled back"
    checkpoint = Path(found.group(3))
    assert checkpoint == checkpoint_path(out) and _mode(checkpoint) == 0o600
    assert json.loads(checkpoint.read_text())["positions"] == {"public.acct": 20 * BATCH}
    # committed batches are in; the batch in flight left nothing behind
    production = {r[0]: r for r in _rows(pair.production)}
    restored = {r[0]: r for r in _rows(pair.restored)}
    assert all(production[i] == restored[i] for i in range(1, 20 * BATCH + 1))
    assert all(production[i][1] == i + 1 for i in range(20 * BATCH + 1, 21 * BATCH + 1))
    (archive,) = _archives(pair.production)
    assert _archived(pair.production, archive) == [(20 * BATCH, 20 * BATCH)]
    assert _no_sessions_left(pair.production, pair.production_db)
    _finish_and_rerun(pair, out, found.group(4))


def test_sigint_at_any_moment_exits_130_with_one_line(
    cluster: LocalPostgres, tmp_path: Path
) -> None:
    """No lock to wait on: the signal lands wherever the run is (between statements, while
    committing, while writing the checkpoint); whatever it says, the rerun completes."""
    pair, out = _big_diff(cluster, tmp_path)
    proc = subprocess.Popen(
        [str(CLI), *_reapply_args(out, pair.production, "--batch-size", "5")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(checkpoint_path(out).exists, timeout=120, interval=0.005)
        time.sleep(0.3)
        assert proc.poll() is None, "the reapply finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        kill_quietly(proc.pid)
    assert proc.returncode == 130, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    found = LINE.fullmatch(lines[0])
    assert found, lines[0]
    assert int(found.group(1)) >= 1
    assert _no_sessions_left(pair.production, pair.production_db)
    _finish_and_rerun(pair, out, found.group(4))


def _small_pair(cluster: LocalPostgres) -> Pair:
    pair = new_pair(cluster)
    pair.both(
        "CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL, note text)",
        "INSERT INTO acct SELECT g, g, NULL FROM generate_series(1, 20) g",
    )
    pair.run(
        pair.production,
        "DELETE FROM acct WHERE id <= 5",
        "UPDATE acct SET balance = 0 WHERE id BETWEEN 6 AND 8",
    )
    return pair


def test_files_with_production_rows_are_0600_and_never_overwritten_without_force(
    cluster: LocalPostgres, tmp_path: Path
) -> None:
    pair = _small_pair(cluster)
    out = tmp_path / "d.json"
    done = run_cli(["diff", pair.restored, pair.production, "--table", "acct", "--out", str(out)])
    assert done.returncode == 1, done.stderr
    assert _mode(out) == 0o600
    first = out.read_bytes()
    again = run_cli(["diff", pair.restored, pair.production, "--table", "acct", "--out", str(out)])
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"restoredrill: error: the diff file {out} already exists (pass --force to overwrite it)"
    )
    assert out.read_bytes() == first
    forced = run_cli(
        ["diff", pair.restored, pair.production, "--table", "acct", "--out", str(out), "--force"]
    )
    assert forced.returncode == 1, forced.stderr
    assert _mode(out) == 0o600

    dry = run_cli(["reapply", str(out), "--to", pair.production])  # default script path
    assert dry.returncode == 0, dry.stderr
    assert _mode(tmp_path / "d.reapply.sql") == 0o600
    script = tmp_path / "fix.sql"
    script.write_text("keep me\n")
    refused = run_cli(["reapply", str(out), "--to", pair.production, "--sql-out", str(script)])
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"restoredrill: error: the SQL script {script} already exists "
        "(pass --force to overwrite it)"
    )
    assert script.read_text() == "keep me\n"
    args = ["reapply", str(out), "--to", pair.production, "--sql-out", str(script), "--force"]
    assert run_cli(args).returncode == 0
    assert "ON CONFLICT" in script.read_text() and _mode(script) == 0o600

    # recover refuses before restoring anything
    existing = tmp_path / "recovered.json"
    existing.write_text("{}")
    (tmp_path / "base").mkdir()
    (tmp_path / "wal").mkdir()
    recover = run_cli(
        [
            "recover",
            "--base-backups",
            str(tmp_path / "base"),
            "--wal-archive",
            str(tmp_path / "wal"),
            "--before",
            "2026-01-01T00:00:00+00:00",
            "--after",
            "2026-01-01T00:01:00+00:00",
            "--table",
            "acct",
            "--to",
            pair.production,
            "--out",
            str(existing),
        ]
    )
    assert recover.returncode == 2
    assert recover.stderr.strip() == (
        f"restoredrill: error: the diff file {existing} already exists "
        "(pass --force to overwrite it)"
    )
    assert existing.read_text() == "{}"


def test_archive_table_only_when_a_row_is_archived(cluster: LocalPostgres, tmp_path: Path) -> None:
    pair = _small_pair(cluster)
    out = tmp_path / "d.json"
    diff(pair.restored, pair.production, "acct", out=out)
    # every changed row was edited since: conflicts, nothing archived, so no archive table
    pair.run(pair.production, "UPDATE acct SET balance = 99 WHERE id BETWEEN 6 AND 8")
    report = reapply(out, pair.production, ReapplyOptions(execute=True, batch_size=2))
    assert (report.inserted, report.updated, report.conflict_count) == (5, 0, 3)
    assert _archives(pair.production) == []
    assert report.tables[0].archive_table is None
    # put them back as the diff saw them: now they are reverted and archived, once
    pair.run(pair.production, "UPDATE acct SET balance = 0 WHERE id BETWEEN 6 AND 8")
    report = reapply(out, pair.production, ReapplyOptions(execute=True, batch_size=2))
    assert (report.updated, report.already) == (3, 5)
    assert len(_archives(pair.production)) == 1
    for _ in range(2):  # reruns change nothing and create nothing
        time.sleep(1.1)  # a new run would stamp a new archive name
        report = reapply(out, pair.production, ReapplyOptions(execute=True))
        assert (report.inserted, report.updated, report.already) == (0, 0, 8)
        assert len(_archives(pair.production)) == 1
    assert os.path.exists(out)


@pytest.mark.parametrize(
    ("command", "sig", "line"),
    [
        ("diff", signal.SIGINT, "restoredrill: error: interrupted (SIGINT)"),
        ("diff", signal.SIGTERM, "restoredrill: error: terminated (SIGTERM)"),
        (
            "reapply",
            signal.SIGTERM,
            "restoredrill: error: terminated (SIGTERM): nothing was written (dry run)",
        ),
    ],
)
def test_any_command_blocked_in_production_is_interrupted_alike(
    cluster: LocalPostgres, tmp_path: Path, command: str, sig: signal.Signals, line: str
) -> None:
    """diff and a dry-run reapply stuck behind a lock in production: the signal cancels the
    statement, exit 130, one line, no session left behind."""
    pair = _small_pair(cluster)
    out = tmp_path / "d.json"
    diff(pair.restored, pair.production, "acct", out=out)
    args = {
        "diff": ["diff", pair.restored, pair.production, "--table", "acct"],
        "reapply": ["reapply", str(out), "--to", pair.production],
    }[command]
    blocker = psycopg.connect(pair.production)
    blocker.execute("LOCK TABLE acct IN ACCESS EXCLUSIVE MODE")
    proc = subprocess.Popen(
        [str(CLI), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:

        def waiting() -> bool:
            rows = _query(
                pair.production,
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
                (pair.production_db,),
            )
            return bool(rows)

        assert wait_for(waiting, timeout=60), f"{command} never waited on the lock"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        kill_quietly(proc.pid)
        blocker.rollback()
        blocker.close()
    assert proc.returncode == 130, stderr
    assert stdout == ""
    assert stderr.strip() == line
    assert _no_sessions_left(pair.production, pair.production_db)
