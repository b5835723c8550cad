"""reapply() against real PostgreSQL: dry run, the guard (conflicts are skipped, never
clobbered), the archive, the ceiling, resume after a failure between batches, idempotent
second runs, filters, foreign-key order, identity columns, and refusing wrong targets."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from restoredrill.drill.diff import (
    DiffOptions,
    diff,
    diff_tables,
    load_diff,
    make_document,
    write_diff,
)
from restoredrill.drill.reapply import (
    ReapplyOptions,
    checkpoint_path,
    exit_code,
    reapply,
)
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import ReapplyRefused, RestoreDrillError
from restoredrill.ledger import Ledger
from tests.diffhelp import Pair, new_pair
from tests.pgsetup import run_cli


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-reapply", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def pair(cluster: LocalPostgres) -> Pair:
    """acct rows 1-20 on both sides; then production loses 1-5 and 6-10 get +100."""
    made = new_pair(cluster)
    made.both(
        "CREATE TABLE acct (id int PRIMARY KEY, owner text NOT NULL, balance numeric, note text)",
        "INSERT INTO acct SELECT g, 'owner ' || g, g * 1.50, CASE WHEN g % 2 = 0 THEN NULL"
        " ELSE 'n' || g END FROM generate_series(1, 20) g",
    )
    made.run(
        made.production,
        "DELETE FROM acct WHERE id <= 5",
        "UPDATE acct SET balance = balance + 100 WHERE id BETWEEN 6 AND 10",
    )
    return made


def _diff(pair: Pair, tmp_path: Path) -> Path:
    out = tmp_path / "acct.json"
    document = diff(pair.restored, pair.production, "acct", out=out)
    assert (document.counts.lost, document.counts.changed) == (5, 5)
    return out


def _query(dsn: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return list(conn.execute(statement).fetchall())


def _acct(dsn: str) -> list[tuple[object, ...]]:
    return _query(dsn, "SELECT id, owner, balance::text, note FROM acct ORDER BY id")


def _has_archive_schema(dsn: str) -> bool:
    rows = _query(dsn, "SELECT 1 FROM pg_namespace WHERE nspname = 'restoredrill_archive'")
    return bool(rows)


def test_dry_run_writes_nothing_and_its_script_runs_in_psql(
    pair: Pair, tmp_path: Path, pg_tools: PgTools
) -> None:
    out = _diff(pair, tmp_path)
    before = _acct(pair.production)
    report = reapply(out, pair.production)
    assert not report.executed
    assert (report.inserted, report.updated, report.already, report.conflict_count) == (5, 5, 0, 0)
    assert _acct(pair.production) == before
    assert not _has_archive_schema(pair.production)
    assert report.sql_file is not None
    script = Path(report.sql_file)
    assert script == tmp_path / "acct.reapply.sql"
    text = script.read_text()
    assert 'ON CONFLICT ("id") DO NOTHING' in text
    # set form: the rows inline as COPY data, the guard against their staged text forms
    assert 't."balance"::text IS NOT DISTINCT FROM s."g' in text
    assert "\t109.00\t" in text and "\n\\.\n" in text
    assert "SET LOCAL lock_timeout" in text and "FOR UPDATE" in text
    # the reviewable script is the real thing: psql runs it, twice, with the same result
    psql = [pg_tools.path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pair.production]
    for _ in range(2):
        done = subprocess.run([*psql, "-f", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert _acct(pair.production) == _acct(pair.restored)


def test_guard_skips_rows_edited_since_and_archives_what_it_overwrites(
    pair: Pair, tmp_path: Path
) -> None:
    out = _diff(pair, tmp_path)
    pair.run(
        pair.production,
        "UPDATE acct SET balance = 999 WHERE id = 6",  # edited after the diff: a conflict
        "INSERT INTO acct VALUES (1, 'someone else', 1, NULL)",  # key reused: a conflict
        "INSERT INTO acct VALUES (2, 'owner 2', 3.00, NULL)",  # already back as it was
        "UPDATE acct SET balance = 10.50 WHERE id = 7",  # already reverted by hand
    )
    report = reapply(out, pair.production, ReapplyOptions(execute=True))
    assert (report.inserted, report.updated, report.already, report.conflict_count) == (3, 3, 2, 2)
    assert exit_code(report) == 1
    conflicts = {(c.kind, c.key["id"]): c.reason for c in report.conflicts}
    assert set(conflicts) == {("changed", "6"), ("lost", "1")}
    assert "edited" in conflicts[("changed", "6")]
    rows = {r[0]: r for r in _acct(pair.production)}
    assert rows[6][2] == "999" and rows[1][1] == "someone else"  # never clobbered
    assert rows[8][2] == "12.00" and rows[3][1] == "owner 3"
    archive = report.tables[0].archive_table
    assert archive is not None and archive.startswith("restoredrill_archive.acct_")
    name = archive.split(".", 1)[1]
    archived = _query(
        pair.production,
        f'SELECT id, balance::text FROM restoredrill_archive."{name}" ORDER BY id',  # noqa: S608
    )
    assert archived == [(8, "112.00"), (9, "113.50"), (10, "115.00")]
    assert not checkpoint_path(out).exists()

    again = reapply(out, pair.production, ReapplyOptions(execute=True))
    assert (again.inserted, again.updated, again.already, again.conflict_count) == (0, 0, 8, 2)


def test_executing_runs_are_in_the_ledger_and_dry_runs_are_not(pair: Pair, tmp_path: Path) -> None:
    out = _diff(pair, tmp_path)
    ledger = tmp_path / "ledger.db"
    reapply(out, pair.production, ReapplyOptions(ledger=ledger))
    assert not ledger.exists()
    reapply(out, pair.production, ReapplyOptions(execute=True, ledger=ledger))
    pair.run(pair.production, "DROP TABLE acct")
    with pytest.raises(RestoreDrillError):
        reapply(out, pair.production, ReapplyOptions(execute=True, ledger=ledger))
    with Ledger(ledger) as history:
        applied, failed = history.records()
    assert (applied.kind, applied.verdict) == ("reapply", "APPLIED")
    assert applied.details["inserted"] == 5 and applied.details["updated"] == 5
    assert applied.source == str(out) and applied.target == f"rows of {out.name}"
    assert applied.database.endswith(f"/{pair.production_db}")
    assert failed.kind == "reapply" and failed.verdict.startswith("ERROR")


def test_ceiling_is_checked_before_anything_is_written(pair: Pair, tmp_path: Path) -> None:
    out = _diff(pair, tmp_path)
    before = _acct(pair.production)
    with pytest.raises(ReapplyRefused, match="over the --max-rows ceiling of 9"):
        reapply(out, pair.production, ReapplyOptions(execute=True, max_rows=9))
    assert _acct(pair.production) == before
    assert not _has_archive_schema(pair.production)
    assert not checkpoint_path(out).exists()
    dry = reapply(out, pair.production, ReapplyOptions(max_rows=9))
    assert dry.over_ceiling and dry.rows_selected == 10


def test_a_diff_file_edited_by_hand_is_refused_before_anything_is_written(
    pair: Pair, tmp_path: Path
) -> None:
    """A row taken out of a line of the diff file (valid JSON still): the CLI says so in one
    line, exit 2, and production, the archive and the checkpoint are untouched."""
    out = _diff(pair, tmp_path)
    lines = out.read_text().split("\n")
    at = next(n for n, line in enumerate(lines) if line.startswith('{"id":"1"'))
    lines[at] = lines[at].split("},", 1)[1]  # the first lost row gone
    out.write_text("\n".join(lines))
    before = _acct(pair.production)
    done = run_cli(["reapply", str(out), "--to", pair.production, "--execute"])
    assert done.returncode == 2, done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("restoredrill: error")]
    assert len(error) == 1 and "a line of 4 lost row(s) said to hold 5" in error[0], done.stderr
    assert _acct(pair.production) == before
    assert not _has_archive_schema(pair.production)
    assert not checkpoint_path(out).exists()


class _Killed(Exception):
    pass


def test_resume_after_a_failure_between_batches(pair: Pair, tmp_path: Path) -> None:
    out = _diff(pair, tmp_path)
    pair.run(pair.production, "UPDATE acct SET note = 'mine' WHERE id = 6")  # a conflict

    def die_after_second(batch: int) -> None:
        if batch == 2:
            raise _Killed

    options = ReapplyOptions(execute=True, batch_size=2)
    with pytest.raises(_Killed):
        reapply(out, pair.production, options, after_batch=die_after_second)
    checkpoint = checkpoint_path(out)
    assert checkpoint.exists()
    saved = checkpoint.read_text()
    assert '"public.acct": 4' in saved and '"last_keys"' in saved
    halfway = {r[0]: r for r in _acct(pair.production)}
    assert halfway[9][2] == "13.50" and halfway[10][2] == "115.00"  # 4 of 10 rows applied
    assert 1 not in halfway

    # a different --only would be another job: refused, the checkpoint stays
    with pytest.raises(ReapplyRefused, match="other --only"):
        reapply(out, pair.production, ReapplyOptions(execute=True, only="lost"))

    resumed = reapply(out, pair.production, options)
    assert resumed.resumed
    assert (resumed.updated, resumed.inserted, resumed.conflict_count) == (4, 5, 1)
    assert [c.key for c in resumed.conflicts] == [{"id": "6"}]  # found before the failure
    assert resumed.batches == 5
    assert not checkpoint.exists()
    rows = {r[0]: r for r in _acct(pair.production)}
    assert rows[6][3] == "mine"
    assert {n: r for n, r in rows.items() if n != 6} == {
        r[0]: r for r in _acct(pair.restored) if r[0] != 6
    }
    archive = resumed.tables[0].archive_table
    assert archive is not None
    count = _query(
        pair.production,
        f'SELECT count(*) FROM restoredrill_archive."{archive.split(".", 1)[1]}"',  # noqa: S608
    )
    assert count == [(4,)]  # one archive table across both runs


def test_only_and_where(pair: Pair, tmp_path: Path) -> None:
    out = _diff(pair, tmp_path)
    lost_only = reapply(out, pair.production, ReapplyOptions(only="lost"))
    assert (lost_only.inserted, lost_only.updated) == (5, 0)
    changed_only = reapply(out, pair.production, ReapplyOptions(only="changed"))
    assert (changed_only.inserted, changed_only.updated) == (0, 5)
    filtered = reapply(
        out, pair.production, ReapplyOptions(where="balance > 4 AND owner LIKE 'owner %'")
    )
    assert (filtered.inserted, filtered.updated) == (3, 5)  # ids 3-5 and 6-10
    done = reapply(
        out, pair.production, ReapplyOptions(execute=True, where="note IS NULL", only="lost")
    )
    assert done.inserted == 2  # ids 2 and 4
    assert {r[0] for r in _acct(pair.production)} >= {2, 4}


def test_a_where_selection_across_lines_and_windows_puts_back_exactly_its_rows(
    cluster: LocalPostgres, tmp_path: Path
) -> None:
    """A diff file of many lines (small chunks), 24,000 lost and 3,000 changed rows, and a
    reapply --where the diff was not made with: the selection keeps positions only, read
    back a window at a time across lines and batches. Exactly the selected rows come back,
    byte for byte; the others stay as production has them; a rerun changes nothing."""
    made = new_pair(cluster)
    made.both(
        "CREATE TABLE big (id int PRIMARY KEY, t text, n numeric)",
        r"INSERT INTO big SELECT g, 'row ' || g || E'\t\\', g / 3.0"
        " FROM generate_series(1, 60000) g",
    )
    made.run(
        made.production,
        "DELETE FROM big WHERE id % 5 IN (1, 2)",
        "UPDATE big SET n = -1 WHERE id % 20 = 3",
    )
    out = tmp_path / "big.json"
    options = DiffOptions(dense_chunk_rows=3000, fetch_chunk_rows=2000)
    document = diff(made.restored, made.production, "big", out=out, options=options)
    assert (document.counts.lost, document.counts.changed) == (24000, 3000)
    opts = ReapplyOptions(
        execute=True, where="id % 7 = 0 OR id > 55000", batch_size=1500, max_rows=100_000
    )
    done = reapply(out, made.production, opts)
    restored = {r[0]: r for r in _query(made.restored, "SELECT id, t, n::text FROM big")}
    now = {r[0]: r for r in _query(made.production, "SELECT id, t, n::text FROM big")}
    ids = [int(str(k)) for k in restored]
    picked = {k for k in ids if k % 7 == 0 or k > 55000}
    lost = {k for k in picked if k % 5 in (1, 2)}
    changed = {k for k in picked if k % 20 == 3}
    assert (done.inserted, done.updated, done.conflict_count) == (len(lost), len(changed), 0)
    assert all(now[k] == restored[k] for k in picked)
    for k in set(ids) - picked:  # as production had them
        if k % 5 in (1, 2):
            assert k not in now
        elif k % 20 == 3:
            assert now[k][2] == "-1"
        else:
            assert now[k] == restored[k]
    again = reapply(out, made.production, opts)
    assert (again.inserted, again.updated, again.already) == (0, 0, len(lost) + len(changed))


def test_where_of_the_diff_itself_still_filters_changed_rows(pair: Pair, tmp_path: Path) -> None:
    """A diff made with --where W and a reapply --where W: the lost rows matched W (they are
    on the restored side only), the changed rows are in the diff when they match on either
    side, so only the changed rows whose restored values match W are written (6, 8, 10:
    7 and 9 match on the production side only, by their new balance)."""
    where = "note IS NULL OR balance > 100"
    out = tmp_path / "acct-where.json"
    document = diff(pair.restored, pair.production, "acct", out=out, where=where)
    assert (document.counts.lost, document.counts.changed) == (2, 5)
    done = reapply(out, pair.production, ReapplyOptions(execute=True, where=where))
    assert (done.inserted, done.updated) == (2, 3)
    restored = {r[0]: r for r in _acct(pair.restored)}
    rows = {r[0]: r for r in _acct(pair.production)}
    assert [rows[n] for n in (2, 4, 6, 8, 10)] == [restored[n] for n in (2, 4, 6, 8, 10)]
    assert rows[7] != restored[7] and rows[9] != restored[9]


def test_refuses_targets_that_are_not_the_diffs_production(
    pair: Pair, tmp_path: Path, pg_tools: PgTools
) -> None:
    out = _diff(pair, tmp_path)
    with pytest.raises(ReapplyRefused, match="is the restored database of this diff"):
        reapply(out, pair.restored)
    document = load_diff(out)
    restarted = document.production.model_copy(
        update={
            "postmaster_start_time": document.production.postmaster_start_time.replace(year=2000)
        }  # type: ignore[union-attr]
    )
    stale = tmp_path / "stale.json"
    write_diff(document.model_copy(update={"production": restarted}), stale)
    with pytest.raises(ReapplyRefused, match="not the server the diff names as production"):
        reapply(stale, pair.production)
    with local_postgres("test-reapply-other", tools=pg_tools) as other:
        other.initdb()
        other.start()
        with pytest.raises(ReapplyRefused, match="another cluster"):
            reapply(out, other.dsn())


def test_parents_first_identity_always_and_generated_columns(pair: Pair, tmp_path: Path) -> None:
    pair.both(
        "CREATE TABLE parent (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)",
        "CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent"
        " ON DELETE CASCADE, qty int, doubled int GENERATED ALWAYS AS (qty * 2) STORED)",
        "INSERT INTO parent (name) SELECT 'p' || g FROM generate_series(1, 5) g",
        "INSERT INTO child (id, parent_id, qty)"
        " SELECT g, 1 + g % 5, g FROM generate_series(1, 20) g",
    )
    pair.run(pair.production, "DELETE FROM parent WHERE id IN (2, 3)")
    restored_id, production_id, diffs = diff_tables(
        pair.restored, pair.production, ["child", "parent"]
    )
    assert [d.counts.lost for d in diffs] == [8, 2]
    assert "doubled" not in [c.name for c in diffs[0].columns]
    out = tmp_path / "two.json"
    write_diff(make_document("production", restored_id, production_id, diffs, None), out)
    report = reapply(out, pair.production, ReapplyOptions(execute=True))
    assert [t.table for t in report.tables] == ["public.parent", "public.child"]
    assert report.inserted == 10
    rows = _query(pair.production, "SELECT count(*), sum(doubled) FROM child")
    assert rows == [(20, 420)]
