"""`incident find --binlog-archive` on a real MariaDB when the incident is a TRUNCATE or a
DROP TABLE: statements, no row events, so counting rows never lists them. They are listed
apart by GTID with the tables the statement names, and the TRUNCATE's recover command puts
every row back."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from restoredrill.engines.mysql.session import connect
from tests.mysqlsetup import DB, assert_no_mysql_left, mysql_sandbox_root, production
from tests.pgsetup import cli, cli_json

pytestmark = pytest.mark.slow


@dataclass
class Story:
    archive: Path
    snapshot: Path
    dsn: str
    gtids: dict[str, str]  # what each transaction did -> its GTID


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with production("test-incident-tables-mariadb") as prod:
        prod.run(
            "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)",
            "INSERT INTO users SELECT seq, CONCAT('user ', seq) FROM seq_1_to_300",
            "CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20))",
            "INSERT INTO orders SELECT seq, CONCAT('n', seq % 7) FROM seq_1_to_1500",
            "CREATE TABLE `my logs` (id INT PRIMARY KEY)",
            "INSERT INTO `my logs` SELECT seq FROM seq_1_to_50",
            "CREATE DATABASE `old shop`",
            db=DB,
        )
        snapshot = prod.dump(tmp_path_factory.mktemp("snapshot") / "drill.sql.gz")
        gtids: dict[str, str] = {}
        conn = prod.server.connect(DB)
        try:
            for what, statement in (
                ("delete", "DELETE FROM users WHERE id > 290"),
                ("truncate", "TRUNCATE TABLE orders"),
                ("drop", "DROP TABLE IF EXISTS `my logs` /* by hand */"),
                ("drop database", "DROP DATABASE `old shop`"),
            ):
                conn.run(statement)
                gtids[what] = str(conn.scalar("SELECT @@gtid_binlog_pos")).split(",")[-1]
        finally:
            conn.close()
        archive = prod.archive(tmp_path_factory.mktemp("binlogs") / "archive")
        yield Story(archive, snapshot, prod.dsn(), gtids)


def _find(story: Story, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    argv = ["incident", "find", "--binlog-archive", str(story.archive)]
    return cli_json(
        [*argv, "--base-backups", str(story.snapshot), "--dsn", story.dsn, *extra], capsys
    )


def test_truncate_and_drop_are_listed_by_gtid_with_their_tables(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _find(story, capsys)
    truncate, drop, database = document["storage"]
    assert (database["kind"], database["tables"]) == ("drop database", ["old shop"])
    assert f"--target-gtid {story.gtids['drop database']} --exclusive" in database["command"]
    assert (truncate["kind"], truncate["gtid"]) == ("truncate", story.gtids["truncate"])
    assert (drop["kind"], drop["gtid"]) == ("drop", story.gtids["drop"])
    assert truncate["tables"] == [f"{DB}.orders"] and drop["tables"] == [f"{DB}.my logs"]
    assert truncate["command"].startswith("restoredrill recover ")
    assert f"--incident-gtid {story.gtids['truncate']} --table {DB}.orders" in (truncate["command"])
    assert f"--target-gtid {story.gtids['drop']} --exclusive --keep" in drop["command"]
    rows = {i["gtid"]: i["rows"] for i in document["incidents"]}
    assert rows[story.gtids["delete"]] == 10
    assert story.gtids["truncate"] not in rows and story.gtids["drop"] not in rows
    only = _find(story, capsys, "--table", "orders")
    assert [s["kind"] for s in only["storage"]] == ["truncate", "drop database"]


def test_the_truncate_s_recover_puts_every_row_back(
    story: Story,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = next(s["command"] for s in _find(story, capsys)["storage"])
    argv = shlex.split(command)[1:]
    with mysql_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        result = cli_json([*argv, "--out", str(tmp_path / "d.json"), "--execute"], capsys)
        assert_no_mysql_left(root)
    assert [t["counts"] for t in result["tables"]] == [{"lost": 1500, "new": 0, "changed": 0}]
    conn = connect(story.dsn)
    try:
        assert conn.scalar("SELECT count(*) FROM orders") == 1500
        in_n3 = conn.scalar("SELECT count(*) FROM orders WHERE note = 'n3'")
        assert in_n3 == sum(1 for g in range(1, 1501) if g % 7 == 3)
    finally:
        conn.close()


def test_the_drop_s_restore_holds_the_table_as_it_was(
    story: Story, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    command = next(s["command"] for s in _find(story, capsys)["storage"] if s["kind"] == "drop")
    with mysql_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        kept = cli_json(shlex.split(command)[1:], capsys)
        conn = connect(kept["dsn"])
        try:  # just before the DROP: the table with its rows, the TRUNCATE before it in
            assert conn.scalar(f"SELECT count(*) FROM `{DB}`.`my logs`") == 50  # noqa: S608
            assert conn.scalar(f"SELECT count(*) FROM `{DB}`.orders") == 0  # noqa: S608
        finally:
            conn.close()
        # this process ran the restore, so it is the sandbox's owner: --force
        code, _, stderr = cli(["sandbox", "rm", kept["sandbox_id"], "--force"], capsys)
        assert code == 0, stderr
        assert_no_mysql_left(root)
