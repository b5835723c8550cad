"""verify() against real PostgreSQL clusters: live references, manifests, real restores."""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from restoredrill.drill.manifest import create_manifest, write_manifest
from restoredrill.drill.verify import verify
from restoredrill.engines.postgres.archiving import base_backup, switch_and_wait_archived
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, free_port, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import ConfigError, DatabaseUnavailable, InvalidTarget
from restoredrill.lsn import parse_lsn
from restoredrill.models import PhaseTiming, VerifyStatus
from tests.conftest import ArchivingCluster

HOSTILE = sql.Identifier("My Schema", 'we"ird Table')

SCHEMA = [
    sql.SQL("CREATE SCHEMA {}").format(sql.Identifier("My Schema")),
    sql.SQL('CREATE TABLE {} ("Mixed Case" int PRIMARY KEY, "r" text, "a.b" jsonb)').format(
        HOSTILE
    ),
    sql.SQL(
        "CREATE TABLE public.events (id int, amount numeric, f float8, tags text[],"
        " blob bytea, at timestamptz NOT NULL)"
    ),
    sql.SQL("CREATE TABLE public.nokey (v text)"),
]
DATA = [
    sql.SQL("""INSERT INTO {} VALUES (1, NULL, '{{"b": 2, "a": 1}}'), (2, '', NULL)""").format(
        HOSTILE
    ),
    sql.SQL(
        "INSERT INTO public.events VALUES"
        " (1, 1.10, '-0', '{NULL}', '\\x00', '2024-01-01 10:00:00+00'),"
        " (2, 'NaN', 'NaN', '{}', '', '2024-01-02 10:00:00+00'),"
        " (3, 3, 'Infinity', '{a,b}', NULL, '2024-01-03 10:00:00+00')"
    ),
    sql.SQL("INSERT INTO public.nokey VALUES ('dup'), ('dup'), ('ü✓')"),
]


@dataclass(frozen=True)
class Db:
    """One database of a cluster: what a test's "restored" or "reference" side is."""

    cluster: LocalPostgres
    dbname: str

    def dsn(self) -> str:
        return self.cluster.dsn(self.dbname)

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return self.cluster.connect(self.dbname)


Target = Db | LocalPostgres
_databases = itertools.count()


def _load(target: Target, statements: list[sql.Composed]) -> None:
    with target.connect() as conn:
        for statement in statements:
            conn.execute(statement)


def _execute(target: Target, statement: str) -> None:
    with target.connect() as conn:
        conn.execute(statement)


@pytest.fixture(scope="module")
def cluster_a(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-verify-a", tools=pg_tools) as cluster:
        cluster.initdb()
        cluster.start()
        yield cluster


@pytest.fixture(scope="module")
def cluster_b(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    """A second cluster (another system identifier)."""
    with local_postgres("test-verify-b", tools=pg_tools) as cluster:
        cluster.initdb()
        cluster.start()
        yield cluster


@pytest.fixture
def twins(cluster_a: LocalPostgres, cluster_b: LocalPostgres) -> tuple[Db, Db]:
    """A new database in each of two independent clusters, holding the same data:
    (restored, reference). Each test gets its own pair, so tests stay independent."""
    dbname = f"twin{next(_databases)}"
    pair = (Db(cluster_a, dbname), Db(cluster_b, dbname))
    for db in pair:
        with db.cluster.connect() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        _load(db, SCHEMA + DATA)
    return pair


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def phase_started(self, name: str) -> None:
        self.events.append(f"start {name}")

    def phase_finished(self, timing: PhaseTiming) -> None:
        self.events.append(f"end {timing.name}")

    def note(self, message: str) -> None:
        self.events.append(message)


def test_identical_databases_pass(twins: tuple[Db, Db]) -> None:
    restored, reference = twins
    recorder = Recorder()
    report = verify(restored.dsn(), reference.dsn(), progress=recorder)
    assert report.status == VerifyStatus.PASS
    assert [c.table for c in report.tables] == [
        'My Schema.we"ird Table',
        "public.events",
        "public.nokey",
    ]
    assert all(c.status == VerifyStatus.PASS for c in report.tables)
    nokey = report.tables[2]
    assert nokey.restored is not None and nokey.restored.rows == 3
    assert report.as_of is None
    assert "password" not in report.reference
    assert recorder.events[0] == "start verify" and recorder.events[-1] == "end verify"
    assert "restored: public.events done" in recorder.events
    assert "reference: public.events done" in recorder.events


def test_difference_against_another_live_cluster_is_inconclusive(
    twins: tuple[Db, Db],
) -> None:
    restored, reference = twins
    _execute(reference, "UPDATE public.events SET amount = 1.1 WHERE id = 1")
    _execute(reference, "INSERT INTO public.nokey VALUES ('dup')")
    report = verify(restored.dsn(), reference.dsn())
    by_table = {c.table: c for c in report.tables}
    assert report.status == VerifyStatus.INCONCLUSIVE
    events = by_table["public.events"]
    assert events.status == VerifyStatus.INCONCLUSIVE
    assert events.detail is not None
    assert "same row count" in events.detail and "--as-of-column" in events.detail
    assert "system identifiers differ" in events.detail
    nokey = by_table["public.nokey"]
    assert nokey.status == VerifyStatus.INCONCLUSIVE
    assert nokey.reference is not None and nokey.reference.rows == 4
    assert by_table['My Schema.we"ird Table'].status == VerifyStatus.PASS


def test_as_of_column_with_an_explicit_time(twins: tuple[Db, Db]) -> None:
    restored, reference = twins
    _execute(
        reference,
        "INSERT INTO public.events VALUES (4, 4, 4, '{}', NULL, '2024-01-09 10:00:00+00')",
    )
    as_of = datetime(2024, 1, 3, 12, 0, tzinfo=UTC)
    report = verify(
        restored.dsn(),
        reference.dsn(),
        tables=["events"],
        as_of_columns={"events": "at"},
        as_of=as_of,
    )
    assert report.status == VerifyStatus.PASS
    assert report.as_of == as_of
    (check,) = report.tables
    assert check.predicate == "\"at\" <= '2024-01-03 12:00:00+00:00'::timestamptz"
    assert check.restored is not None and check.restored.rows == 3

    # the same as-of time in another zone selects the same rows
    other_zone = as_of.astimezone(timezone(timedelta(hours=5)))
    again = verify(
        restored.dsn(), reference.dsn(), as_of_columns={"public.events": "at"}, as_of=other_zone
    )
    assert {c.table: c.status for c in again.tables}["public.events"] == VerifyStatus.PASS

    # an old row changed in production: the user vouched for the column, so it is a FAIL
    _execute(reference, "UPDATE public.events SET tags = '{x}' WHERE id = 2")
    failed = verify(restored.dsn(), reference.dsn(), as_of_columns={"events": "at"}, as_of=as_of)
    by_table = {c.table: c for c in failed.tables}
    assert by_table["public.events"].status == VerifyStatus.FAIL
    assert by_table["public.events"].predicate is not None
    assert by_table["public.nokey"].status == VerifyStatus.PASS
    assert failed.status == VerifyStatus.FAIL


def test_missing_tables_fail_and_query_errors_are_per_table_errors(
    twins: tuple[Db, Db],
) -> None:
    restored, reference = twins
    _execute(reference, "CREATE TABLE public.added_later (id int)")
    _execute(restored, "CREATE TABLE public.only_restored (id int)")
    report = verify(restored.dsn(), reference.dsn())
    by_table = {c.table: c for c in report.tables}
    # a table on one side only is a data difference, not an infrastructure error
    assert by_table["public.added_later"].status == VerifyStatus.FAIL
    assert by_table["public.added_later"].detail == "missing in the restored database"
    assert by_table["public.only_restored"].status == VerifyStatus.FAIL
    assert by_table["public.only_restored"].detail == "missing in the reference"
    assert by_table["public.events"].status == VerifyStatus.PASS
    assert report.status == VerifyStatus.FAIL

    # a query that fails on one table (an integer "as-of" column) leaves the others intact
    as_of = datetime(2024, 1, 1, tzinfo=UTC)
    broken = verify(
        restored.dsn(),
        reference.dsn(),
        tables=["events", "public.nokey", '"My Schema"."we""ird Table"'],
        as_of_columns={'My Schema.we"ird Table': "Mixed Case"},
        as_of=as_of,
    )
    by_table = {c.table: c for c in broken.tables}
    hostile = by_table['My Schema.we"ird Table']
    assert hostile.status == VerifyStatus.ERROR
    assert hostile.detail is not None and "operator does not exist" in hostile.detail
    assert by_table["public.events"].status == VerifyStatus.PASS
    assert by_table["public.nokey"].status == VerifyStatus.PASS
    assert broken.status == VerifyStatus.ERROR


def test_usage_errors(twins: tuple[Db, Db], tmp_path: Path) -> None:
    restored, reference = twins
    with pytest.raises(ConfigError, match="unknown table 'nope'"):
        verify(restored.dsn(), reference.dsn(), tables=["nope"])
    with pytest.raises(ConfigError, match="has no column 'nope'"):
        verify(
            restored.dsn(),
            reference.dsn(),
            as_of_columns={"events": "nope"},
            as_of=datetime(2024, 1, 1, tzinfo=UTC),
        )
    with pytest.raises(ConfigError, match="unknown table"):
        verify(restored.dsn(), reference.dsn(), as_of_columns={"nope": "at"})
    with pytest.raises(InvalidTarget, match="no timezone"):
        verify(
            restored.dsn(),
            reference.dsn(),
            as_of_columns={"events": "at"},
            as_of=datetime(2024, 1, 1),
        )
    with pytest.raises(ConfigError, match="only applies together with --as-of-column"):
        verify(restored.dsn(), reference.dsn(), as_of=datetime(2024, 1, 1, tzinfo=UTC))
    # a fresh cluster replayed nothing, so there is no default as-of time
    with pytest.raises(ConfigError, match="pass --as-of"):
        verify(restored.dsn(), reference.dsn(), as_of_columns={"events": "at"})
    with pytest.raises(ConfigError, match="no such manifest file"):
        verify(restored.dsn(), tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="no such manifest file"):
        verify(restored.dsn(), str(tmp_path / "missing.json"))


def test_unreachable_servers(cluster_a: LocalPostgres) -> None:
    nowhere = f"host=127.0.0.1 port={free_port()} dbname=x user=x password=s3cret"
    with pytest.raises(DatabaseUnavailable, match="cannot connect") as info:
        verify(nowhere, cluster_a.dsn())
    assert "s3cret" not in str(info.value)
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        verify(cluster_a.dsn(), nowhere)


def test_against_a_manifest(twins: tuple[Db, Db], tmp_path: Path) -> None:
    restored, reference = twins
    path = tmp_path / "prod.json"
    write_manifest(create_manifest(reference.dsn()), path)

    passed = verify(restored.dsn(), path)
    assert passed.status == VerifyStatus.PASS
    assert passed.reference == str(path)
    assert len(passed.tables) == 3
    assert verify(restored.dsn(), str(path), tables=["nokey"]).status == VerifyStatus.PASS

    # a difference against a manifest is always a FAIL (the snapshot cannot move on)
    _execute(restored, "DELETE FROM public.nokey WHERE ctid = (SELECT min(ctid) FROM public.nokey)")
    _execute(restored, "CREATE TABLE public.extra (id int)")
    failed = verify(restored.dsn(), path)
    by_table = {c.table: c for c in failed.tables}
    assert by_table["public.nokey"].status == VerifyStatus.FAIL
    assert by_table["public.nokey"].detail == "row counts differ (2 restored, 3 reference)"
    assert by_table["public.extra"].status == VerifyStatus.FAIL
    assert by_table["public.extra"].detail == "missing in the manifest"
    assert failed.status == VerifyStatus.FAIL
    assert verify(restored.dsn(), path, tables=["nokey"]).status == VerifyStatus.FAIL

    with pytest.raises(ConfigError, match="cannot be used with a manifest"):
        verify(restored.dsn(), path, as_of_columns={"events": "at"})


def test_manifest_of_an_older_checksum_algorithm_is_refused(
    twins: tuple[Db, Db], tmp_path: Path
) -> None:
    """A manifest written by the md5 fingerprint (before ``checksum_algorithm`` existed) is
    an error naming both algorithms, through the CLI: never a false FAIL or PASS."""
    restored, reference = twins
    path = tmp_path / "old.json"
    write_manifest(create_manifest(reference.dsn()), path)
    document = json.loads(path.read_text())
    assert document["checksum_algorithm"] == "pg-rowhash64-sum/1"
    del document["checksum_algorithm"]  # what a manifest of the previous version holds
    for fingerprint in document["tables"].values():
        fingerprint["checksum"] = "0123456789abcdef" * 2  # md5 era: 32 hex digits
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [sys.executable, "-m", "restoredrill", "verify", restored.dsn(), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert (
        f"manifest {path} was made with checksum algorithm 'md5-halves-sum/1', this "
        "restoredrill computes 'pg-rowhash64-sum/1': their checksums cannot be compared"
    ) in " ".join(done.stderr.split())
    assert "PASS" not in done.stdout and "FAIL" not in done.stdout


# --- a real restore: same system identifier, WAL positions, replay timestamps ----------------


@dataclass
class RestoredPair:
    production: LocalPostgres
    restored: LocalPostgres


@pytest.fixture
def restored_pair(archiving_cluster: ArchivingCluster, pg_tools: PgTools) -> Iterator[RestoredPair]:
    """Production archiving WAL, and a copy restored from a base backup plus the archive to
    its end, then promoted."""
    production = archiving_cluster.cluster
    _execute(
        production,
        "CREATE TABLE public.t (id int PRIMARY KEY, payload text,"
        " at timestamptz NOT NULL DEFAULT clock_timestamp())",
    )
    _execute(production, "CREATE TABLE public.t2 (v int)")
    _execute(
        production,
        "INSERT INTO public.t (id, payload) SELECT g, 'p' FROM generate_series(1, 200) g",
    )
    _execute(production, "INSERT INTO public.t2 SELECT generate_series(1, 50)")
    backup = base_backup(production, archiving_cluster.backups / "base", fmt="plain")
    _execute(
        production,
        "INSERT INTO public.t (id, payload) SELECT g, 'q' FROM generate_series(201, 300) g",
    )
    switch_and_wait_archived(production)
    with local_postgres("test-restored", tools=pg_tools) as restored:
        restored.datadir.rmdir()
        shutil.copytree(backup, restored.datadir)
        restored.datadir.chmod(0o700)
        (restored.datadir / "recovery.signal").touch()
        restored.run_as.own(restored.datadir, recursive=True)
        archive = shlex.quote(str(archiving_cluster.archive))
        restored.start(settings={"restore_command": f"cp {archive}/%f %p"}, recovery=True)
        yield RestoredPair(production, restored)


def _lsn(cluster: LocalPostgres, query: str) -> int:
    with cluster.connect() as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return parse_lsn(str(row[0]))


def test_restore_that_production_has_not_moved_past_fails(restored_pair: RestoredPair) -> None:
    production, restored = restored_pair.production, restored_pair.restored
    assert verify(restored.dsn(), production.dsn()).status == VerifyStatus.PASS

    _execute(restored, "DELETE FROM public.t2 WHERE v = 1")  # the restore lost a row
    report = verify(restored.dsn(), production.dsn(), tables=["t2"])
    production_now = _lsn(production, "SELECT pg_current_wal_lsn()")
    restored_end = _lsn(restored, "SELECT pg_last_wal_replay_lsn()")
    if production_now <= restored_end:
        # production wrote nothing since the restored point: the difference is real
        assert report.status == VerifyStatus.FAIL, report.tables[0].detail
    else:  # background WAL (a running-xacts record) arrived meanwhile: then either is right
        assert report.status in (VerifyStatus.FAIL, VerifyStatus.INCONCLUSIVE)


def test_restore_vs_production_that_moved_on(restored_pair: RestoredPair) -> None:
    production, restored = restored_pair.production, restored_pair.restored
    _execute(production, "INSERT INTO public.t (id, payload) VALUES (301, 'new')")

    report = verify(restored.dsn(), production.dsn(), tables=["t"])
    (check,) = report.tables
    assert report.status == VerifyStatus.INCONCLUSIVE
    assert check.detail is not None
    assert "past the restored point" in check.detail and "--as-of-column" in check.detail

    # as of the restored server's last replayed commit, both sides hold the same rows
    limited = verify(restored.dsn(), production.dsn(), tables=["t"], as_of_columns={"t": "at"})
    assert limited.status == VerifyStatus.PASS
    assert limited.as_of is not None
    assert limited.tables[0].restored is not None and limited.tables[0].restored.rows == 300
    with restored.connect() as conn:
        row = conn.execute("SELECT pg_last_xact_replay_timestamp()").fetchone()
    assert row is not None and limited.as_of == row[0]

    # an old row changed in production after the restored point: FAIL, not INCONCLUSIVE
    _execute(production, "UPDATE public.t SET payload = 'changed' WHERE id = 7")
    changed = verify(restored.dsn(), production.dsn(), as_of_columns={"t": "at"})
    by_table = {c.table: c.status for c in changed.tables}
    assert by_table == {"public.t": VerifyStatus.FAIL, "public.t2": VerifyStatus.PASS}
