"""Set-based reapply on a real MariaDB (rows LOAD DATA LOCAL'd from memory into a temporary
stage, then guarded INSERT ... SELECT / UPDATE ... JOIN): every type (NULLs, BIT, YEAR,
fractional times, FLOAT, DECIMAL, latin1 text, BINARY padding, BLOB with tabs, newlines,
backslashes and NUL bytes, JSON, ENUM, SET, geometry, strings reading '\\N' and 'NULL')
comes back byte-identical by execution and by the script run in the mariadb client; a rerun
changes nothing; a conflict is still reported per row; a server without LOAD DATA LOCAL
writes row by row; and the client sends a server no file it asks for."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from restoredrill.drill.diff import diff
from restoredrill.drill.reapply import ReapplyOptions, checkpoint_path, reapply
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.driver import pymysql
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.errors import DatabaseUnavailable
from tests.mysqlsetup import run_pinned as _run
from tests.pgsetup import INTERRUPTED_LINE, wait_for

pytestmark = pytest.mark.slow

SCHEMA = """
CREATE TABLE kinds (
    id INT PRIMARY KEY, ti TINYINT, iu INT UNSIGNED, bi BIGINT, de DECIMAL(20,6), fl FLOAT,
    db DOUBLE, bt BIT(5), yr YEAR, dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL,
    tm TIME(2), ch CHAR(3), vc VARCHAR(40), l1 VARCHAR(20) CHARACTER SET latin1,
    bn BINARY(4), vb VARBINARY(10), bl BLOB, tx TEXT, js JSON, en ENUM('a', 'b', 'N'),
    st SET('x', 'y', 'z'), pt POINT NULL,
    stamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
)
"""
COLUMNS = [
    "id", "ti", "iu", "bi", "de", "fl", "db", "bt", "yr", "dt", "dtm", "ts", "tm", "ch", "vc",
    "l1", "bn", "vb", "bl", "tx", "js", "en", "st", "pt", "stamp",
]  # fmt: skip
ROWS = r"""
INSERT INTO kinds VALUES
(1, -128, 4294967295, -9223372036854775808, -12345678901234.000001, 0.1, 0.1, b'10101',
 1901, '1000-01-01', '2024-01-01 12:00:00.000001', '2024-02-29 23:59:59.999', '-838:59:59.99',
 'ab', 'tab\there\nnew line\\back \\N', 'caf\xe9', x'00090a00', x'5c4e', x'000a090d5c00',
 '\\N', '{"a": [1, null, "\\u00e9"]}', 'N', 'x,z', ST_GeomFromText('POINT(1 2)'),
 '2020-01-01 00:00:00'),
(2, 0, 0, 0, 0, -0.0, 1e308, b'0', 2155, '9999-12-31', '1970-01-01 00:00:01', NULL,
 '00:00:00', '', '', '', x'', x'', x'', '', '[]', 'a', '', NULL, '2021-06-01 10:00:00'),
(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2022-01-01 00:00:00'),
(4, 127, 1, 9223372036854775807, 99999999999999.999999, 3.4e38, -2.5e-300,
 b'11111', 2000, '2000-02-29', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01.000',
 '838:59:59.99', 'NUL', 'NULL', 'ÿ', x'ffffffff', x'00', x'ff', 'x y  ', '"s"', 'b', 'x,y,z',
 ST_GeomFromText('POINT(-1.5 1e-10)'), '2023-03-03 03:03:03'),
(5, 1, 2, 3, 0.5, 1.5, 2.5, b'1', 2024, '2024-01-01', '2024-01-01 00:00:00', NULL, '12:34:56',
 'é✓', 'ümlaut ✓ 🐘 ''quoted'' "dq"', 'x', x'01', x'09', x'5c', 'multi\nline\ttext\\',
 '{"k": "v"}', NULL, 'y', NULL, '2024-04-04 04:04:04'),
(6, 2, 3, 4, 1.25, 2.75, 3.75, b'10', 1999, '1999-12-31', '1999-12-31 23:59:59.5',
 '2001-01-01 00:00:00.5', '-00:00:01', 'z', 'z', 'z', x'0a', x'0d0a', x'0000', 'z', '1',
 'a', 'z', ST_GeomFromText('POINT(0 0)'), '2025-05-05 05:05:05')
"""
_names = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMySQL]:
    with local_mysql("test-mysql-reapply-set") as instance:
        instance.init_datadir()
        instance.start(init_file=False)
        yield instance


def _rows(dsn: str, table: str = "kinds") -> list[tuple[object, ...]]:
    """Every column's bytes (as stored, as text under the pinned session)."""
    conn = my.connect(dsn)
    try:
        my.pin_session(conn)
        texts = ", ".join(f"HEX(`{c}`), `{c}` IS NULL" for c in COLUMNS)
        return conn.rows(f"SELECT {texts} FROM {table} ORDER BY id")
    finally:
        conn.close()


@pytest.fixture
def kinds(server: LocalMySQL) -> tuple[str, str]:
    """(restored, production): production lost 1, 3, 5 and had columns of 2, 4, 6 changed
    (two groups of SET columns, one shared by 2 and 6)."""
    n = next(_names)
    restored, production = f"kinds_restored_{n}", f"kinds_production_{n}"
    _run(
        server.dsn(),
        *(f"CREATE DATABASE {d} CHARACTER SET utf8mb4" for d in (restored, production)),
    )
    for db in (restored, production):
        _run(server.dsn(db), SCHEMA, ROWS)
    _run(
        server.dsn(production),
        "DELETE FROM kinds WHERE id IN (1, 3, 5)",
        "UPDATE kinds SET vc = 'clobbered', de = NULL WHERE id = 2",
        "UPDATE kinds SET en = 'a', bl = x'00', pt = NULL WHERE id = 4",
        "UPDATE kinds SET vc = 'clobbered', de = 0 WHERE id = 6",
    )
    return server.dsn(restored), server.dsn(production)


def _diff(kinds: tuple[str, str], tmp_path: Path) -> Path:
    out = tmp_path / "kinds.json"
    document = diff(*kinds, "kinds", out=out)
    assert (document.counts.lost, document.counts.changed) == (3, 3)
    return out


def test_every_type_comes_back_byte_identical_and_a_rerun_changes_nothing(
    kinds: tuple[str, str], tmp_path: Path
) -> None:
    restored, production = kinds
    out = _diff(kinds, tmp_path)
    before = {r[0]: r for r in _rows(production)}
    report = reapply(out, production, ReapplyOptions(execute=True, batch_size=4))
    assert (report.inserted, report.updated, report.conflict_count) == (3, 3, 0)
    assert report.batches == 2
    assert _rows(production) == _rows(restored)
    script = Path(str(report.sql_file)).read_text()
    assert "CREATE TEMPORARY TABLE `restoredrill_stage`" in script
    archive = report.tables[0].archive_table  # what the UPDATEs overwrote, byte for byte
    assert archive is not None
    archived = _rows(production, ".".join(f"`{p}`" for p in archive.split(".", 1)))
    assert archived == [before[k] for k in sorted(before) if k in ("2", "4", "6")]
    again = reapply(out, production, ReapplyOptions(execute=True, batch_size=4))
    assert (again.inserted, again.updated, again.already, again.conflict_count) == (0, 0, 6, 0)
    assert _rows(production) == _rows(restored)


def test_the_set_script_runs_in_the_mariadb_client_with_the_same_result(
    kinds: tuple[str, str], tmp_path: Path, server: LocalMySQL
) -> None:
    restored, production = kinds
    out = _diff(kinds, tmp_path)
    report = reapply(out, production, ReapplyOptions(batch_size=4))
    assert not report.executed and report.sql_file is not None
    text = Path(report.sql_file).read_text()
    assert text.count("INSERT INTO `restoredrill_stage`") == 2 and "UNHEX(" in text
    database = my.parse_dsn(production).database
    assert database is not None
    for _ in range(2):  # idempotent
        with Path(report.sql_file).open() as script:
            done = subprocess.run(
                server.client_argv(database), stdin=script, capture_output=True, text=True
            )
        assert done.returncode == 0, done.stderr
    assert _rows(production) == _rows(restored)


def test_conflicts_already_back_and_taken_keys_share_a_batch(
    kinds: tuple[str, str], tmp_path: Path
) -> None:
    """Lost row 1 already back as restored, row 3's key taken by someone else, row 5
    missing, changed row 4 edited since: the plain INSERT fails on a taken key, the NOT
    EXISTS form runs: 5 inserted, 1 already there, 3 and 4 conflicts left alone."""
    restored, production = kinds
    out = _diff(kinds, tmp_path)
    first = reapply(out, production, ReapplyOptions(execute=True, where="id = 1"))
    assert first.inserted == 1
    _run(
        production,
        "INSERT INTO kinds (id, vc) VALUES (3, 'someone else')",
        "UPDATE kinds SET vc = 'mine' WHERE id = 4",
    )
    report = reapply(out, production, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.already, report.conflict_count) == (
        1,
        2,
        1,
        2,
    )
    assert report.batches == 1
    reasons = {c.key["id"]: c.reason for c in report.conflicts}
    assert reasons == {
        "3": "a row with this key exists in production with other values",
        "4": "the row was edited in production since",
    }
    now = {r[0]: r for r in _rows(production)}
    then = {r[0]: r for r in _rows(restored)}
    for key in ("1", "2", "5", "6"):  # HEX(id)
        assert now[key] == then[key]
    assert now["3"] != then["3"] and now["4"] != then["4"]


def test_a_row_edited_while_the_locked_read_waits_is_judged_on_its_new_version(
    kinds: tuple[str, str], tmp_path: Path
) -> None:
    """A rerun whose locked read waits on a row another transaction is changing: once that
    commits, the row is judged on the version it locked (a conflict), never "already in
    place" from the version it replaced (the PostgreSQL test of the same name)."""
    _, production = kinds
    out = _diff(kinds, tmp_path)
    first = reapply(out, production, ReapplyOptions(execute=True))
    assert (first.inserted, first.updated, first.conflict_count) == (3, 3, 0)
    checkpoint_path(out).unlink(missing_ok=True)
    blocker, watch = my.connect(production), my.connect(production)
    done: dict[str, Any] = {}
    try:
        blocker.run("START TRANSACTION")
        blocker.run("UPDATE kinds SET vc = 'mine' WHERE id = 4")  # holds the row's lock
        rerun = threading.Thread(
            target=lambda: done.update(
                report=reapply(out, production, ReapplyOptions(execute=True))
            )
        )
        rerun.start()
        assert wait_for(  # the rerun's locked read is running: waiting on the row
            lambda: bool(
                watch.rows(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                    " WHERE ID <> CONNECTION_ID() AND INFO LIKE '%FOR UPDATE'"
                )[0][0]
            ),
            timeout=10,
        )
        blocker.run("COMMIT")
        rerun.join(timeout=60)
    finally:
        blocker.close()
        watch.close()
    report = done["report"]
    assert (report.updated, report.conflict_count) == (0, 1)
    assert [(c.key["id"], c.reason) for c in report.conflicts] == [
        ("4", "the row was edited in production since")
    ]


def test_a_server_without_load_data_local_writes_row_by_row(
    kinds: tuple[str, str], tmp_path: Path, server: LocalMySQL
) -> None:
    restored, production = kinds
    out = _diff(kinds, tmp_path)
    _run(server.dsn(), "SET GLOBAL local_infile = 0")
    try:
        report = reapply(out, production, ReapplyOptions(execute=True))
    finally:
        _run(server.dsn(), "SET GLOBAL local_infile = 1")
    assert (report.inserted, report.updated, report.conflict_count) == (3, 3, 0)
    assert _rows(production) == _rows(restored)
    script = Path(str(report.sql_file)).read_text()
    assert "restoredrill_stage" not in script and "WHERE NOT EXISTS (SELECT 1" in script


def test_the_client_sends_no_file_a_server_asks_for(server: LocalMySQL, tmp_path: Path) -> None:
    """A writing connection allows LOAD DATA LOCAL, but the client serves only the data
    reapply offered for its own statement: a request for a file is refused, unread."""
    secret = tmp_path / "secret.txt"
    secret.write_text("do not send\n")
    conn = my.connect(server.dsn())
    try:
        conn.run("CREATE DATABASE IF NOT EXISTS grab")
        conn.run("CREATE TEMPORARY TABLE grab.grab (a TEXT)")
        with pytest.raises(pymysql.err.OperationalError, match="not offered by restoredrill"):
            conn.run(f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE grab.grab")
        assert conn.rows("SELECT COUNT(*) FROM grab.grab") == [(0,)]
    finally:
        conn.close()


def test_a_value_that_does_not_read_back_as_the_diff_says_is_a_conflict(
    kinds: tuple[str, str], tmp_path: Path
) -> None:
    """A DOUBLE whose text in the diff is not the one the server prints for it ('2.5' with
    twenty more digits goes in as 2.5, which reads '2.5'): the lost row is reported as
    rewritten by the server (exit 1), as the per-row form reports it — never a silent
    success over a value that is not the diff's."""
    _, production = kinds
    out = _diff(kinds, tmp_path)
    document = json.loads(out.read_text())
    (row,) = [r for r in document["tables"][0]["lost"] if r["id"] == "5"]
    row["db"] = "2.50000000000000000000001"
    out.write_text(json.dumps(document))
    report = reapply(out, production, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.conflict_count) == (2, 3, 1)
    (conflict,) = report.conflicts
    assert conflict.key == {"id": "5"}
    assert conflict.reason.startswith("rewritten by the server"), conflict.reason
    assert "db not as restored" in conflict.reason, conflict.reason


def test_a_changed_row_whose_double_does_not_read_back_is_never_already_there(
    kinds: tuple[str, str], tmp_path: Path
) -> None:
    """The locked read decides "already there" in the server; for a FLOAT or DOUBLE it
    compares with the diff's text, not the staged value's: a changed row whose DOUBLE went
    in as 2.5 for '2.5…1' is a conflict on the run and on every rerun, never "already"."""
    _, production = kinds
    out = _diff(kinds, tmp_path)
    document = json.loads(out.read_text())
    changed = document["tables"][0]["changed"][0]
    changed["restored"]["db"] = "2.50000000000000000000001"
    if "db" not in changed["columns"]:
        changed["columns"].append("db")
    document["tables"][0]["lines"] = None  # edited by hand: checked on reading, whole
    out.write_text(json.dumps(document))
    key = {"id": changed["restored"]["id"]}
    for run in range(2):  # the run, then a rerun
        report = reapply(out, production, ReapplyOptions(execute=True))
        assert [c.key for c in report.conflicts] == [key], report.conflicts
        if run:  # every other row is back: already there; this one never
            assert (report.inserted, report.updated, report.already) == (0, 0, 5), report


# A SIGINT the process sends itself in the middle of the second batch's LOAD DATA stream
# (half its data sent): the CLI's real handler runs there. Batch 2 (rows 6 and 1, batch size
# 2) holds the lost row 1 at position 1: "1<TAB>\N<TAB>1<TAB>" (position, no group, id).
_CHILD = r"""
import os, signal, sys
import pymysql.connections
from restoredrill.engines.mysql import driver
from restoredrill.cli.app import main
original = pymysql.connections._send_local_file
def send(filename, conn):
    data = bytes(driver._OFFERED[bytes(filename)])
    if b"\n1\t\\N\t1\t" in data:
        conn.write_packet(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGINT)
    return original(filename, conn)
pymysql.connections._send_local_file = send
main(sys.argv[1:])
"""


def test_sigint_mid_load_rolls_the_batch_back_and_a_rerun_resumes(
    kinds: tuple[str, str], tmp_path: Path, server: LocalMySQL
) -> None:
    restored, production = kinds
    out = _diff(kinds, tmp_path)
    argv = ["reapply", str(out), "--to", production, "--execute", "--batch-size", "2"]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "500"},
    )
    assert done.returncode == 130, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("restoredrill:")]
    assert len(errors) == 1 and INTERRUPTED_LINE.match(errors[0]), done.stderr
    now = {r[0]: r for r in _rows(production)}
    then = {r[0]: r for r in _rows(restored)}
    assert now["2"] == then["2"] and now["4"] == then["4"]  # batch 1 committed
    assert now["6"] != then["6"] and "1" not in now  # batch 2 rolled back
    assert json.loads(checkpoint_path(out).read_text())["positions"] == {"kinds": 2}
    database = my.parse_dsn(production).database

    def gone() -> bool:  # the child's session is gone, and its stage with it
        conn = server.connect()
        try:
            found = conn.rows(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                f" WHERE DB = '{database}' AND ID <> CONNECTION_ID()"
            )
        finally:
            conn.close()
        return found == [(0,)]

    assert wait_for(gone, timeout=10)
    resumed = reapply(out, production, ReapplyOptions(execute=True, batch_size=2))
    assert resumed.resumed
    assert (resumed.inserted, resumed.updated, resumed.conflict_count) == (3, 3, 0)
    assert _rows(production) == _rows(restored)
    assert not checkpoint_path(out).exists()


def test_a_value_the_column_does_not_take_fails_the_batch(
    kinds: tuple[str, str], tmp_path: Path
) -> None:
    """LOAD DATA LOCAL turns the strict mode's errors into warnings: a staged value the
    column refuses (999 for a TINYINT) fails the batch with the server's message, as the
    per-row form's strict error does; nothing is written."""
    _, production = kinds
    out = _diff(kinds, tmp_path)
    document = json.loads(out.read_text())
    (row,) = [r for r in document["tables"][0]["lost"] if r["id"] == "5"]
    row["ti"] = "999"
    out.write_text(json.dumps(document))
    before = _rows(production)
    with pytest.raises(DatabaseUnavailable, match="staging the batch: Out of range value"):
        reapply(out, production, ReapplyOptions(execute=True, only="lost"))
    assert _rows(production) == before
