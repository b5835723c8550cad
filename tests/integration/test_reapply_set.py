"""Set-based reapply on real PostgreSQL (rows streamed with COPY into a staging table, then
guarded INSERT ... SELECT / UPDATE ... FROM): every type of the type corpus (NULLs, bytea,
arrays, json, enums and domains and composites in another schema, text with tabs, newlines and
backslashes) comes back byte-identical by execution and by the script run in psql; several
groups of SET columns in one batch; a conflict is still reported per row; and a SIGINT that
lands in the middle of a batch's COPY rolls that batch back, exits 130 with one line, leaves
nothing running, and a rerun resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from restoredrill.drill.diff import diff
from restoredrill.drill.reapply import ReapplyOptions, checkpoint_path, reapply
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.staging import orders
from restoredrill.engines.postgres.tools import PgTools
from tests.diffhelp import Pair, all_text, new_pair
from tests.pgsetup import INTERRUPTED_LINE

SCHEMA = """
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.posint AS int CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a int, b text);
CREATE TABLE kinds (
    id int PRIMARY KEY, t text, n numeric, f8 float8, f4 float4, ia int[], ta text[],
    jb jsonb, js json, b bytea, ts timestamptz, iv interval, e app.mood, d app.posint,
    c app.pair, vc varchar(10), ch char(3), bits bit(4), ip inet, u uuid, pt point,
    r tsrange, dt date, bo boolean, x xml, m money, ea app.mood[]
);
"""
COLUMNS = [
    "id", "t", "n", "f8", "f4", "ia", "ta", "jb", "js", "b", "ts", "iv", "e", "d", "c", "vc",
    "ch", "bits", "ip", "u", "pt", "r", "dt", "bo", "x", "m", "ea",
]  # fmt: skip
ROWS = r"""
INSERT INTO kinds VALUES
(1, '', 1.10, '-0', 1.0000001, '{}', '{NULL}', '{"a": 1, "b": 2}', '{"b":2,"a":1}', '\x00',
 '2024-01-01 12:00:00.000001+00', '1 day', 'sad', 1, '(1,"x y")', 'short', 'ab', '1010',
 '10.0.0.1/8', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '(1,2)', '[2024-01-01,2024-02-01)',
 '2024-02-29', true, '<a>1</a>', '12.34', '{sad,happy}'),
(2, E'tab\there\nnew line\\back \\N', 'NaN', 'NaN', '-Infinity', '{1,NULL,3}',
 '{"NULL","a,b","q\"uote"}', '1.0', '[1, 2.50]', '', '2024-01-01 12:00:00+02', '24 hours',
 'ok', 2, '(,)', '', 'a', '0000', '::1', NULL, '(0,-0)', 'empty', '0001-01-01', false,
 NULL, '-0.01', '{}'),
(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(4, 'NULL', 0.3, 0.1::float8 + 0.2::float8, 'Infinity', '{{1,2},{3,4}}', '{}',
 '{"nested": {"k": [1, null, "\\u00e9"]}}', 'null', '\xdeadbeef', 'infinity', '-1 mon 3 us',
 'happy', 2147483647, '(-1,"")', 'ümlaut ✓', '日本', '1111', '192.168.0.0/16',
 '00000000-0000-0000-0000-000000000000', '(1e+300,-1.5)', '(,)', 'infinity', true,
 '<b attr="1">t&amp;x</b>', '0.00', '{happy,NULL}'),
(5, U&'e\0301 🐘', 1e-20, 1e300, 3.4e38, '{-2147483648}', E'{"tab\\there","back\\\\slash"}',
 '{}', '{}', E'\\x5c0a09', '2000-02-29 23:59:59.999999+00', '00:00:00', 'sad', 7,
 '(2,"(nested, parens)")', E'x\\y', '   ', '0101', '::ffff:1.2.3.4', NULL, '(0,0)',
 '[,)', '1999-12-31', NULL, '', '1000000.00', NULL),
(6, E'\\', -0.000, 1, 1, '{0}', '{""}', '"s"', '"s"', E'\\x', '1970-01-01 00:00:00+00',
 '1 year 2 mons', 'ok', 3, '(3,"\\")', 'z', 'zzz', '1000', '0.0.0.0/0', NULL, '(2,3)',
 '["2024-01-01 00:00:00","2024-01-01 00:00:01"]', '2024-01-01', true, '<c/>', '1.00',
 '{ok}')
"""


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-reapply-set", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def kinds(cluster: LocalPostgres) -> Pair:
    """Six rows of every kind; production lost 1, 3, 5 and had columns of 2, 4, 6 changed."""
    made = new_pair(cluster)
    made.both(SCHEMA, ROWS)
    made.run(
        made.production,
        "DELETE FROM kinds WHERE id IN (1, 3, 5)",
        "UPDATE kinds SET t = 'clobbered', n = NULL WHERE id = 2",  # two groups of SET
        "UPDATE kinds SET e = 'sad', c = '(9,z)', ea = NULL WHERE id = 4",  # columns, and
        "UPDATE kinds SET t = 'clobbered', n = 0 WHERE id = 6",  # one shared by 2 and 6
    )
    return made


def _rows(dsn: str) -> list[dict[str, str | None]]:
    return sorted(
        all_text(dsn, sql.Identifier("public", "kinds"), COLUMNS), key=lambda r: int(str(r["id"]))
    )


def _diff(pair: Pair, tmp_path: Path) -> Path:
    out = tmp_path / "kinds.json"
    document = diff(pair.restored, pair.production, "kinds", out=out)
    assert (document.counts.lost, document.counts.changed) == (3, 3)
    return out


def test_every_type_comes_back_byte_identical_and_a_rerun_changes_nothing(
    kinds: Pair, tmp_path: Path
) -> None:
    out = _diff(kinds, tmp_path)
    before = {r["id"]: r for r in _rows(kinds.production)}
    report = reapply(out, kinds.production, ReapplyOptions(execute=True, batch_size=4))
    assert (report.inserted, report.updated, report.conflict_count) == (3, 3, 0)
    assert report.batches == 2
    assert _rows(kinds.production) == _rows(kinds.restored)
    # what the UPDATEs overwrote is archived, byte for byte
    archive = report.tables[0].archive_table
    assert archive is not None
    archived = all_text(kinds.production, sql.Identifier(*archive.split(".", 1)), COLUMNS)
    assert sorted(archived, key=lambda r: str(r["id"])) == [before["2"], before["4"], before["6"]]
    again = reapply(out, kinds.production, ReapplyOptions(execute=True, batch_size=4))
    assert (again.inserted, again.updated, again.already, again.conflict_count) == (0, 0, 6, 0)


def test_the_set_script_runs_in_psql_with_the_same_result(
    kinds: Pair, tmp_path: Path, pg_tools: PgTools
) -> None:
    out = _diff(kinds, tmp_path)
    report = reapply(out, kinds.production, ReapplyOptions(batch_size=4))
    assert not report.executed and report.sql_file is not None
    text = Path(report.sql_file).read_text()
    assert text.count("FROM STDIN;\n") == 2 and "UPDATE " in text and "ON COMMIT DROP" in text
    # the joins on the stage are bounded by the batch's keys (no index read from its start)
    assert 'AND t."id" BETWEEN (SELECT b."v0" FROM' in text
    psql = [pg_tools.path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", kinds.production]
    for _ in range(2):
        done = subprocess.run([*psql, "-f", report.sql_file], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert _rows(kinds.production) == _rows(kinds.restored)


def test_a_row_edited_since_is_a_conflict_and_left_alone(kinds: Pair, tmp_path: Path) -> None:
    out = _diff(kinds, tmp_path)
    kinds.run(kinds.production, "UPDATE kinds SET vc = 'mine' WHERE id = 4")
    kinds.run(kinds.production, "INSERT INTO kinds (id, t) VALUES (3, 'someone else')")
    report = reapply(out, kinds.production, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.conflict_count) == (2, 2, 2)
    reasons = {c.key["id"]: c.reason for c in report.conflicts}
    assert reasons == {
        "3": "a row with this key exists in production with other values",
        "4": "the row was edited in production since",
    }
    now = {r["id"]: r for r in _rows(kinds.production)}
    assert now["4"]["vc"] == "mine" and now["3"]["t"] == "someone else"


def test_a_row_edited_while_the_locked_read_waits_is_judged_on_its_new_version(
    kinds: Pair, tmp_path: Path
) -> None:
    """A rerun (every row back) whose locked read waits on a row another transaction is
    changing: once that commits, the row is judged on its new version (PostgreSQL rechecks
    a row locked FOR UPDATE), so it is a conflict, never "already in place" from the
    version it replaced. Computing the guard in a subquery (a LATERAL one, say) would
    carry the old version's answer through that recheck."""
    out = _diff(kinds, tmp_path)
    first = reapply(out, kinds.production, ReapplyOptions(execute=True))
    assert (first.inserted, first.updated, first.conflict_count) == (3, 3, 0)
    checkpoint_path(out).unlink(missing_ok=True)
    with psycopg.connect(kinds.production) as blocker:
        blocker.execute("UPDATE kinds SET vc = 'mine' WHERE id = 4")  # holds the row's lock
        done: dict[str, Any] = {}
        rerun = threading.Thread(
            target=lambda: done.update(
                report=reapply(out, kinds.production, ReapplyOptions(execute=True))
            )
        )
        rerun.start()
        with psycopg.connect(kinds.production, autocommit=True) as watch:
            for _ in range(200):  # until the rerun's locked read waits on the row
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the rerun never waited on the locked row")
        blocker.commit()
        rerun.join(timeout=60)
    report = done["report"]
    assert (report.updated, report.conflict_count) == (0, 1)
    assert [(c.key["id"], c.reason) for c in report.conflicts] == [
        ("4", "the row was edited in production since")
    ]
    assert {r["id"]: r["vc"] for r in _rows(kinds.production)}["4"] == "mine"


def test_lost_rows_already_back_or_taken_share_a_batch_with_rows_inserted(
    kinds: Pair, tmp_path: Path
) -> None:
    """One batch: lost row 1 is already back as restored (every type of the corpus: the
    comparison in SQL must call it "already"), row 3's key was taken by someone else, row 5
    is missing. The plain INSERT fails on a taken key, so the batch goes through ON CONFLICT
    DO NOTHING: row 5 inserted, row 1 already there, row 3 a conflict left alone."""
    out = _diff(kinds, tmp_path)
    first = reapply(out, kinds.production, ReapplyOptions(execute=True, where="id = 1"))
    assert first.inserted == 1
    kinds.run(kinds.production, "INSERT INTO kinds (id, t) VALUES (3, 'someone else')")
    report = reapply(out, kinds.production, ReapplyOptions(execute=True, only="lost"))
    assert (report.inserted, report.already, report.conflict_count) == (1, 1, 1)
    assert report.batches == 1
    assert [(c.key["id"], c.reason) for c in report.conflicts] == [
        ("3", "a row with this key exists in production with other values")
    ]
    now = {r["id"]: r for r in _rows(kinds.production)}
    restored = {r["id"]: r for r in _rows(kinds.restored)}
    assert now["1"] == restored["1"] and now["5"] == restored["5"]
    assert now["3"]["t"] == "someone else"


# A SIGINT delivered by the process to itself in the middle of the second batch's COPY
# stream (half its data sent): the CLI's real signal handler runs there. The second batch
# (rows 6 and 1, batch size 2) is the one whose data holds the lost row 1 as position 1:
# "1<TAB>\\N<TAB>1<TAB>" (position, no SET group, id).
_CHILD = r"""
import os, signal, sys
import psycopg
from restoredrill.cli.app import main
original = psycopg.Copy.write
def write(self, buffer):
    data = bytes(buffer)
    if b"1\t\\N\t1\t" in data:
        original(self, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGINT)
    return original(self, data)
psycopg.Copy.write = write
main(sys.argv[1:])
"""


def test_sigint_mid_copy_rolls_the_batch_back_and_a_rerun_resumes(
    kinds: Pair, tmp_path: Path
) -> None:
    out = _diff(kinds, tmp_path)
    argv = ["reapply", str(out), "--to", kinds.production, "--execute", "--batch-size", "2"]
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
    # batch 1 (the changed rows 2 and 4) committed; batch 2 (6, then lost 1) rolled back
    now = {r["id"]: r for r in _rows(kinds.production)}
    restored = {r["id"]: r for r in _rows(kinds.restored)}
    assert now["2"] == restored["2"] and now["4"] == restored["4"]
    assert now["6"] != restored["6"] and "1" not in now
    saved = json.loads(checkpoint_path(out).read_text())
    assert saved["positions"] == {"public.kinds": 2}
    # nothing left running: the child's session is gone, and its staging table with it
    with psycopg.connect(kinds.production, autocommit=True) as conn:
        for _ in range(50):
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ).fetchone()
            if others == (0,):
                break
            time.sleep(0.1)
        assert others == (0,)
        staged = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = 'restoredrill_stage'"
        ).fetchone()
        assert staged == (0,)
    resumed = reapply(out, kinds.production, ReapplyOptions(execute=True, batch_size=2))
    assert resumed.resumed
    assert (resumed.inserted, resumed.updated, resumed.conflict_count) == (3, 3, 0)
    assert _rows(kinds.production) == _rows(kinds.restored)
    assert not checkpoint_path(out).exists()


def test_a_statement_trigger_that_rewrites_the_rows_is_undone_before_commit(
    kinds: Pair, tmp_path: Path
) -> None:
    """An AFTER INSERT ... FOR EACH STATEMENT trigger stamps the rows put back: the set-based
    batch reads them back before COMMIT and sets them back as restored."""
    out = _diff(kinds, tmp_path)
    kinds.run(
        kinds.production,
        "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " UPDATE kinds SET vc = 'stamped' WHERE id IN (SELECT id FROM fresh); RETURN NULL;"
        " END $$",
        "CREATE TRIGGER stamp AFTER INSERT ON kinds REFERENCING NEW TABLE AS fresh"
        " FOR EACH STATEMENT EXECUTE FUNCTION stamp()",
    )
    report = reapply(out, kinds.production, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.conflict_count) == (3, 3, 0)
    assert _rows(kinds.production) == _rows(kinds.restored)


def test_a_role_without_temp_writes_row_by_row(kinds: Pair, tmp_path: Path) -> None:
    """No TEMPORARY privilege on the database: no staging table, the per-row statements
    (and the per-row script) instead — same rows back, same guarantees."""
    out = _diff(kinds, tmp_path)
    database = kinds.production_db
    kinds.run(
        kinds.production,
        "CREATE ROLE writer LOGIN" if not _role_exists(kinds.production) else "SELECT 1",
        sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)),
        sql.SQL("GRANT CREATE ON DATABASE {} TO writer").format(sql.Identifier(database)),
        "GRANT USAGE ON SCHEMA app TO writer",
        "GRANT SELECT, INSERT, UPDATE ON kinds TO writer",
    )
    writer = kinds.cluster.dsn(database, user="writer")
    report = reapply(out, writer, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.conflict_count) == (3, 3, 0)
    assert _rows(kinds.production) == _rows(kinds.restored)
    script = Path(str(report.sql_file)).read_text()
    assert "FROM STDIN" not in script and "IS NOT DISTINCT FROM '" in script


def _role_exists(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'writer'").fetchone()
    return found is not None


def test_only_a_key_whose_type_sorts_bounds_the_joins(kinds: Pair) -> None:
    """``orders`` asks the planner; a type without a b-tree class (point) says no, and the
    question leaves the caller's transaction usable."""
    table = TableName("public", "kinds")
    with psycopg.connect(kinds.production) as conn:
        assert orders(conn, table, "id") and orders(conn, table, "e") and orders(conn, table, "c")
        assert not orders(conn, table, "pt")
        assert conn.execute("SELECT count(*) FROM kinds").fetchone() == (3,)


def test_keys_with_percent_signs_and_a_not_null_domain(
    cluster: LocalPostgres, tmp_path: Path
) -> None:
    """The reads of current rows carry the keys as one literal: a '%' in a key is itself
    (no placeholder), and only the key columns are typed, so a NOT NULL domain elsewhere in
    the row is no obstacle. Dry run, execution (by set and row by row), rerun."""
    pair = new_pair(cluster)
    pair.both(
        "CREATE DOMAIN present AS int NOT NULL",
        "CREATE TABLE codes (code text PRIMARY KEY, n present, note text)",
        "INSERT INTO codes VALUES ('100%', 1, 'a'), ('50%s', 2, 'b'), ('x%y''z\\', 3, 'c'),"
        " ('plain', 4, 'd')",
    )
    pair.run(
        pair.production,
        "DELETE FROM codes WHERE code IN ('100%', 'x%y''z\\')",
        "UPDATE codes SET note = 'changed' WHERE code = '50%s'",
    )
    out = tmp_path / "codes.json"
    diff(pair.restored, pair.production, "codes", out=out)
    dry = reapply(out, pair.production, ReapplyOptions())
    assert (dry.inserted, dry.updated, dry.conflict_count) == (2, 1, 0)
    done = reapply(out, pair.production, ReapplyOptions(execute=True))
    assert (done.inserted, done.updated, done.conflict_count) == (2, 1, 0)

    def rows(dsn: str) -> list[dict[str, str | None]]:
        found = all_text(dsn, sql.Identifier("public", "codes"), ["code", "n", "note"])
        return sorted(found, key=lambda r: str(r["code"]))

    assert rows(pair.production) == rows(pair.restored)
    again = reapply(out, pair.production, ReapplyOptions())
    assert (again.already, again.conflict_count) == (3, 0)
    # row by row (the locked read is the same statement): a role without TEMP
    pair.run(pair.production, "DELETE FROM codes WHERE code = '100%'")
    pair.run(
        pair.production,
        "CREATE ROLE coder LOGIN",
        sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(pair.production_db)
        ),
        "GRANT SELECT, INSERT, UPDATE ON codes TO coder",
    )
    rows = reapply(out, cluster.dsn(pair.production_db, user="coder"), ReapplyOptions(execute=True))
    assert (rows.inserted, rows.already, rows.conflict_count) == (1, 2, 0)
