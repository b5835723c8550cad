"""The MariaDB side of tests/integration/test_reapply_faults.py: SIGTERM while a batch waits
on a row lock in production exits 130 with one line naming the checkpoint and the command
that resumes; the batch in flight is rolled back and its statement stopped; the rerun
completes; a second rerun changes nothing and creates no archive table."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from restoredrill.drill.diff import diff
from restoredrill.drill.reapply import checkpoint_path
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from tests.pgsetup import CLI, kill_quietly, run_cli, wait_for

pytestmark = pytest.mark.slow

CHANGED, LOST, BATCH = 600, 300, 30
LINE = re.compile(
    r"restoredrill: error: terminated \(SIGTERM\): (\d+) batch\(es\) committed, the batch in "
    r"flight was rolled back; the checkpoint (\S+) lets a rerun resume: (restoredrill reapply .+)"
)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMySQL]:
    with local_mysql("test-mysql-reapply-faults") as instance:
        instance.init_datadir()
        instance.start(init_file=False)
        yield instance


def _rows(dsn: str, query: str) -> list[tuple[object, ...]]:
    conn = my.connect(dsn)
    try:
        my.pin_session(conn)
        return conn.rows(query)
    finally:
        conn.close()


def _run(dsn: str, *statements: str) -> None:
    conn = my.connect(dsn)
    try:
        for statement in statements:
            conn.run(statement)
    finally:
        conn.close()


def _archives(dsn: str) -> list[str]:
    found = _rows(
        dsn,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'restoredrill_archive'",
    )
    return [str(r[0]) for r in found]


def test_sigterm_mid_batch_on_mariadb(server: LocalMySQL, tmp_path: Path) -> None:
    restored_db, production_db = "restored_faults", "production_faults"
    for db in (restored_db, production_db):
        _run(server.dsn(), f"CREATE DATABASE {db}")
        _run(
            server.dsn(db),
            "CREATE TABLE acct (id INT PRIMARY KEY, balance INT NOT NULL, note VARCHAR(40))",
            f"INSERT INTO acct SELECT seq, seq, CONCAT('row ', seq) FROM seq_1_to_{CHANGED + LOST}",
        )
    restored, production = server.dsn(restored_db), server.dsn(production_db)
    _run(
        production,
        f"UPDATE acct SET balance = balance + 1 WHERE id <= {CHANGED}",
        f"DELETE FROM acct WHERE id > {CHANGED}",
    )
    out = tmp_path / "acct.json"
    diff(restored, production, "acct", out=out)
    blocked = 10 * BATCH + 1  # batches 1-10 commit, batch 11 waits on this row's lock
    blocker = my.connect(production)
    blocker.run("START TRANSACTION")
    blocker.rows(f"SELECT id FROM acct WHERE id = {blocked} FOR UPDATE")
    args = ["reapply", str(out), "--to", production, "--execute", "--batch-size", str(BATCH)]
    proc = subprocess.Popen(
        [str(CLI), *args, "--lock-timeout", "120s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def waiting() -> bool:
            # the reapply's batch stands on the held row: a lock wait, or its locking read
            # of the batch still running after a second (how it shows depends on the plan)
            waits = _rows(
                server.dsn(),
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
            )
            reads = _rows(
                server.dsn(),
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE command = 'Query'"
                f" AND time >= 1 AND info LIKE '%FOR UPDATE%' AND db = '{production_db}'",
            )
            return waits == [(1,)] or reads == [(1,)]

        # polled every 0.25 s, not faster: InnoDB refreshes what INNODB_TRX shows only when
        # it was last read over 0.1 s ago, so polling faster showed the empty table of before
        # the blocker forever (the test failed on a machine where a poll took < 0.1 s)
        assert wait_for(waiting, timeout=120, interval=0.25), "the reapply never reached the row"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        kill_quietly(proc.pid)
        blocker.run("ROLLBACK")
        blocker.close()
    assert proc.returncode == 130, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    found = LINE.fullmatch(lines[0])
    assert found, lines[0]
    assert found.group(1) == "10"
    assert Path(found.group(2)) == checkpoint_path(out)
    done = 10 * BATCH
    assert _rows(production, "SELECT COUNT(*) FROM acct WHERE balance = id + 1") == [
        (CHANGED - done,)
    ]
    (archive,) = _archives(production)
    assert _rows(production, f"SELECT COUNT(*) FROM restoredrill_archive.`{archive}`") == [(done,)]

    def gone() -> bool:  # the reapply's session and its statement are gone
        return _rows(
            server.dsn(),
            f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{production_db}' "
            "AND ID <> CONNECTION_ID()",
        ) == [(0,)]

    assert wait_for(gone, timeout=10)
    resume = shlex.split(found.group(3))
    assert resume[:2] == ["restoredrill", "reapply"]
    rerun = run_cli(resume[1:])
    assert rerun.returncode == 0, rerun.stderr
    query = "SELECT id, balance, note FROM acct ORDER BY id"
    assert _rows(production, query) == _rows(restored, query)
    assert _archives(production) == [archive]
    again = run_cli([*args, "--json"])
    assert again.returncode == 0, again.stderr
    (table,) = json.loads(again.stdout)["tables"]
    assert (table["inserted"], table["updated"], table["already"]) == (0, 0, CHANGED + LOST)
    assert _archives(production) == [archive]
