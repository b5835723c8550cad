"""`incident find` on PostgreSQL when the incident is a TRUNCATE, a DROP TABLE or a DROP
DATABASE: none
writes a row record to WAL, so counting rows never lists them. They are listed apart, with
what WAL shows (files removed, a table left empty), and the command printed for each works:
the TRUNCATE's recover puts every row back, the DROP's restore holds the table as it was."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from restoredrill.engines.postgres.archiving import (
    base_backup,
    start_archiving,
    switch_and_wait_archived,
)
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from tests.pgsetup import assert_nothing_left, cli, cli_json, private_sandbox_root

pytestmark = pytest.mark.slow

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users, note text);
CREATE TABLE logs (id int PRIMARY KEY, line text);
CREATE TABLE big (id int, v text);
INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 500) g;
INSERT INTO orders SELECT g, 1 + g % 400, repeat('n', g % 50) FROM generate_series(1, 3000) g;
INSERT INTO logs SELECT g, 'line ' || g FROM generate_series(1, 1200) g;
INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 2000) g;
CREATE TABLE events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT g, date '2025-07-01' + (g % 2) * 365 FROM generate_series(1, 200) g;
"""


@dataclass
class Story:
    production: LocalPostgres
    backups: Path
    archive: Path
    xids: dict[str, int]  # what each transaction did -> its xid
    shop_oid: int  # the database the DROP DATABASE removed


def _xid(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT txid_current()").fetchone()
    assert row is not None
    return int(str(row[0])) & 0xFFFFFFFF


@pytest.fixture(scope="module")
def story(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with local_postgres("test-incident-tables", tools=pg_tools) as cluster:
        archive = cluster.root / "archive"
        start_archiving(cluster, archive)
        backups = tmp_path_factory.mktemp("incident-tables") / "backups"
        with cluster.connect() as conn:
            conn.execute(SCHEMA)
            conn.commit()
            conn.autocommit = True
            conn.execute("CREATE DATABASE shop")
            row = conn.execute("SELECT oid FROM pg_database WHERE datname = 'shop'").fetchone()
            assert row is not None
            shop_oid = int(str(row[0]))
        base_backup(cluster, backups / "b1", fmt="tar")
        time.sleep(1.1)  # backup end times are recorded to the second
        xids: dict[str, int] = {}
        with cluster.connect() as conn:
            conn.autocommit = True
            for what, statement in (
                ("delete", "DELETE FROM users WHERE id > 495"),
                ("partitioned", "DELETE FROM events WHERE id % 4 < 2"),
                ("truncate", "TRUNCATE orders"),
                ("drop", "DROP TABLE logs"),
                ("vacuum full", "VACUUM FULL big"),
                ("drop database", "DROP DATABASE shop"),
            ):
                if what in ("vacuum full", "drop database"):  # not in a transaction block
                    conn.execute(statement)
                    continue
                with conn.transaction():
                    xids[what] = _xid(conn)
                    conn.execute(statement)
            conn.execute("UPDATE users SET name = 'later' WHERE id = 1")
        switch_and_wait_archived(cluster)
        yield Story(cluster, backups, archive, xids, shop_oid)


def _find(story: Story, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    argv = ["incident", "find", "--wal-archive", str(story.archive)]
    return cli_json([*argv, "--base-backups", str(story.backups), *extra], capsys)


def test_truncate_and_drop_are_listed_though_they_wrote_no_rows(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _find(story, capsys)
    found = {(s["kind"], s["xid"]) for s in document["storage"]}
    assert ("truncate", story.xids["truncate"]) in found
    assert ("drop", story.xids["drop"]) in found
    kinds = [s["kind"] for s in document["storage"]]
    assert kinds == ["truncate", "drop", "rewrite", "drop database"]
    truncate, drop, rewrite, database = document["storage"]
    assert database["tables"] == [f"database oid {story.shop_oid}"]
    assert "--exclusive --keep" in database["command"]
    # each: its table, TOAST table, TOAST index and primary key
    assert truncate["files_dropped"] == 4 and drop["files_dropped"] == 4
    assert truncate["tables"] == drop["tables"] == []  # without --dsn nothing is named
    assert f"--target-xid {story.xids['drop']} --exclusive --keep" in drop["command"]
    assert rewrite["command"] is None
    # the row incidents are unchanged: the DELETE of 5 users is there with its count
    rows = {i["xid"]: i["rows"] for i in document["incidents"]}
    assert rows[story.xids["delete"]] == 5
    assert story.xids["truncate"] not in rows and story.xids["drop"] not in rows


def test_with_dsn_the_truncated_table_is_named_and_table_filters_apply(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = story.production.dsn()
    document = _find(story, capsys, "--dsn", dsn)
    kinds = {s["kind"]: s for s in document["storage"]}
    assert kinds["truncate"]["tables"] == ["public.orders"]
    assert kinds["rewrite"]["tables"] == ["public.big"]
    assert kinds["drop"]["tables"] == []  # the name went with the table
    command = kinds["truncate"]["command"]
    assert command.startswith("restoredrill recover ")
    assert f"--incident-xid {story.xids['truncate']} --table public.orders" in command
    # --table orders: the rewrite of big goes, the unnamed drop stays (it may be orders')
    only = _find(story, capsys, "--dsn", dsn, "--table", "public.orders")
    assert [s["kind"] for s in only["storage"]] == ["truncate", "drop", "drop database"]


def test_terminal_output_puts_them_first(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["incident", "find", "--wal-archive", str(story.archive)]
    argv += ["--base-backups", str(story.backups), "--dsn", story.production.dsn()]
    code, stdout, _ = cli(argv, capsys)
    assert code == 0
    lines = stdout.splitlines()
    assert "3 committed transaction(s) changed rows; 4 dropped or emptied tables" in lines[0]
    assert lines[1] == "whole tables dropped or emptied (no row counts for these)"
    assert "TRUNCATE: public.orders emptied" in stdout
    assert "DROP TABLE: 4 relation file(s) removed" in stdout
    assert f"DROP DATABASE: database oid {story.shop_oid} (its name is not in WAL)" in stdout
    assert stdout.index("TRUNCATE") < stdout.index("biggest first")
    # the recover command at the end is the biggest by rows: said to be only that
    assert "their rows are not counted, so the biggest by rows may not be the incident" in stdout


def test_the_truncate_s_recover_puts_every_row_back(
    story: Story,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = _find(story, capsys, "--dsn", story.production.dsn())
    command = next(s["command"] for s in document["storage"] if s["kind"] == "truncate")
    argv = command.split()[1:]  # the DSN is quoted: take it from the story instead
    argv = [*argv[: argv.index("--to")], "--to", story.production.dsn()]
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        result = cli_json([*argv, "--out", str(tmp_path / "d.json"), "--execute"], capsys)
        assert_nothing_left(root)
    assert [t["counts"] for t in result["tables"]] == [{"lost": 3000, "new": 0, "changed": 0}]
    with story.production.connect() as conn:
        row = conn.execute("SELECT count(*), sum(length(note)) FROM orders").fetchone()
    assert row == (3000, sum(g % 50 for g in range(1, 3001)))


def test_the_drop_s_restore_holds_the_table_as_it_was(
    story: Story, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _find(story, capsys)
    command = next(s["command"] for s in document["storage"] if s["kind"] == "drop")
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        code, stdout, stderr = cli([*command.split()[1:], "--json"], capsys)
        assert code == 0, stderr
        kept = json.loads(stdout)
        with psycopg.connect(kept["dsn"]) as conn:
            logs = conn.execute("SELECT count(*) FROM logs").fetchone()
            users = conn.execute("SELECT count(*) FROM users").fetchone()
        assert logs == (1200,)  # just before the DROP: the rows it took
        assert users == (495,)  # the DELETE before it is in
        code, _, stderr = cli(["sandbox", "rm", kept["sandbox_id"], "--force"], capsys)
        assert code == 0, stderr
        assert_nothing_left(root)


def test_table_matches_the_partitions_of_a_partitioned_table(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    """WAL knows a partitioned table's rows by their partitions: --table events (the name a
    person knows) finds the DELETE on both; of the dropped tables only those WAL cannot
    name stay (they may be it)."""
    document = _find(story, capsys, "--dsn", story.production.dsn(), "--table", "events")
    (incident,) = document["incidents"]
    assert incident["xid"] == story.xids["partitioned"] and incident["rows"] == 100
    deleted = {t["table"]: t["deleted"] for t in incident["tables"]}
    assert deleted == {"public.events_2025": 50, "public.events_2026": 50}
    assert [s["kind"] for s in document["storage"]] == ["drop", "drop database"]
