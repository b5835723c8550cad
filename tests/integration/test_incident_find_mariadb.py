"""`incident find --binlog-archive` on a real MariaDB: a 2,000-row DELETE among small
transactions (and a bigger one rolled back, which never reaches the binlog) is ranked first,
by GTID, with its exact count and commit second; a damaged binlog is an error.
`recover --incident-gtid` then puts back exactly what that transaction did: the small
legitimate writes committed in the same second, just before and just after it, stay out."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.mysqlsetup import (
    DB,
    assert_no_mysql_left,
    mysql_sandbox_root,
    next_second,
    production,
)
from tests.pgsetup import cli

pytestmark = pytest.mark.slow


@dataclass
class Story:
    archive: Path
    snapshot: Path
    dsn: str
    gtid: str
    before: datetime
    after: datetime


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with production("test-incident-mariadb") as prod:
        seed = "INSERT INTO users SELECT seq, CONCAT('user ', seq) FROM seq_{}_to_{}"
        prod.run(
            "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)",
            *(seed.format(n, n + 499) for n in range(1, 3000, 500)),
            "INSERT INTO users VALUES (5001, 'legit before')",
            db=DB,
        )
        snapshot = prod.dump(tmp_path_factory.mktemp("snapshot") / "drill.sql.gz")
        next_second()
        before = datetime.now(UTC).replace(microsecond=0)
        conn = prod.server.connect(DB)
        try:
            # legitimate writes in the incident's very second: times cannot tell them apart
            conn.run("UPDATE users SET name = 'legit just before' WHERE id = 2500")
            conn.run("INSERT INTO users VALUES (5003, 'legit just before')")
            conn.run("DELETE FROM users WHERE id <= 2000")
            gtid = str(conn.scalar("SELECT @@gtid_binlog_pos")).split(",")[-1]
            conn.run("UPDATE users SET name = 'legit just after' WHERE id = 2600")
            conn.run("DELETE FROM users WHERE id = 2700")
            conn.run("INSERT INTO users VALUES (5004, 'legit just after')")
            conn.run("BEGIN")
            conn.run("DELETE FROM users WHERE id > 2000")
            conn.run("ROLLBACK")
        finally:
            conn.close()
        after = datetime.now(UTC)
        next_second()
        prod.run("INSERT INTO users VALUES (5002, 'legit after')", db=DB)
        archive = prod.archive(tmp_path_factory.mktemp("binlogs") / "archive")
        yield Story(archive, snapshot, prod.dsn(), gtid, before, after)


def _find(story: Story, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    argv = ["incident", "find", "--binlog-archive", str(story.archive), "--json", *extra]
    code, stdout, stderr = cli(argv, capsys)
    assert code == 0, stderr
    document = json.loads(stdout)
    assert isinstance(document, dict) and document["format"] == "restoredrill-incidents/1"
    return document


def _incidents(document: dict[str, object]) -> list[dict[str, object]]:
    incidents = document["incidents"]
    assert isinstance(incidents, list)
    return incidents


def _tables(incident: dict[str, object]) -> dict[str, tuple[int, int, int]]:
    tables = incident["tables"]
    assert isinstance(tables, list)
    return {t["table"]: (t["inserted"], t["updated"], t["deleted"]) for t in tables}


def test_the_big_delete_is_ranked_first_by_gtid(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _find(story, capsys)
    assert document["engine"] == "mariadb"
    incidents = _incidents(document)
    first = incidents[0]
    assert first["gtid"] == story.gtid and first["xid"] is None
    assert _tables(first) == {f"{DB}.users": (0, 0, 2000)}
    committed = datetime.fromisoformat(str(first["commit_time"]))
    assert story.before <= committed <= story.after
    # the seed's 500-row transactions follow; the rolled-back DELETE is nowhere
    assert [i["rows"] for i in incidents[1:7]] == [500] * 6
    assert all(_tables(i).get(f"{DB}.users", (0, 0, 0))[2] in (0, 2000) for i in incidents)
    command = str(document["recover_command"])
    assert command.startswith("restoredrill recover ")
    assert f"--incident-gtid {story.gtid} --table {DB}.users --to PRODUCTION_DSN" in command
    assert f"--wal-archive {story.archive} " in command and "--base-backups SNAPSHOT" in command


def test_table_and_window_filter(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    assert _incidents(_find(story, capsys, "--table", "counter")) == []
    assert _incidents(_find(story, capsys, "--table", "users"))[0]["gtid"] == story.gtid
    early = (story.before - timedelta(seconds=1)).isoformat()
    assert story.gtid not in [i["gtid"] for i in _incidents(_find(story, capsys, "--until", early))]
    later = _incidents(
        _find(
            story,
            capsys,
            "--since",
            (story.after.replace(microsecond=0) + timedelta(seconds=1)).isoformat(),
        )
    )
    assert [_tables(i) for i in later] == [{f"{DB}.users": (1, 0, 0)}]


def test_a_damaged_binlog_is_an_error(
    story: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(story.archive, copy)
    biggest = max(
        (p for p in copy.iterdir() if not p.name.endswith(".index")), key=lambda p: p.stat().st_size
    )
    with open(biggest, "r+b") as binlog:
        binlog.seek(biggest.stat().st_size // 2)
        binlog.write(b"\xff" * 32)
    code, stdout, stderr = cli(["incident", "find", "--binlog-archive", str(copy)], capsys)
    assert code == 1 and stdout == ""
    assert f"binlog {biggest.name}: unreadable" in stderr and stderr.strip().count("\n") == 0


def test_terminal_output_names_the_gtid(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["incident", "find", "--binlog-archive", str(story.archive), "--top", "2"]
    code, stdout, _ = cli(argv, capsys)
    assert code == 0
    assert "GTID" in stdout and story.gtid in stdout and "2,000" in stdout
    last = stdout.strip().splitlines()[-1].strip()
    assert last.startswith("restoredrill recover ") and f"--incident-gtid {story.gtid}" in last


def test_the_command_names_the_snapshot_and_production(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = "mysql://someone:s3cret@db.example:3306/drill"  # named, never opened
    extra = ["--base-backups", str(story.snapshot), "--dsn", dsn, "--table", "users"]
    command = str(_find(story, capsys, *extra)["recover_command"])
    assert f"--base-backups {story.snapshot} " in command
    assert "mysql://someone:***@db.example:3306/drill" in command and "s3cret" not in command


def _recover(story: Story, *extra: str) -> list[str]:
    return [
        "recover",
        "--base-backups",
        str(story.snapshot),
        "--wal-archive",
        str(story.archive),
        "--table",
        "users",
        "--to",
        story.dsn,
        *extra,
    ]


def test_recover_by_gtid_is_exactly_the_transaction(
    story: Story,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "d.json"
    argv = _recover(story, "--incident-gtid", story.gtid, "--json", "--out", str(out))
    with mysql_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        code, stdout, stderr = cli(argv, capsys)
        assert_no_mysql_left(root)  # both restores torn down
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["incident_gtid"] == story.gtid and result["incident_xid"] is None
    assert result["before"]["plan"]["target"]["gtid"] == story.gtid
    assert result["before"]["plan"]["target"]["inclusive"] is False
    assert result["after"]["plan"]["target"]["inclusive"] is True
    counts = {t["table"]: t["counts"] for t in result["tables"]}
    assert counts == {"users": {"lost": 2000, "new": 0, "changed": 0}}
    document = json.loads(out.read_text())
    (table,) = document["tables"]
    # exactly the deleted rows; none of the legitimate writes around it (5003, 2500, 2600,
    # 2700, 5004) is in the diff
    assert sorted(int(str(row["id"])) for row in table["lost"]) == list(range(1, 2001))
    assert table["new"] == [] and table["changed"] == []
    planned = sum(t["inserted"] for t in result["reapply"]["tables"])
    assert planned == 2000 and not result["reapply"]["executed"]


def test_recover_usage_errors_are_one_line(
    story: Story, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after = story.before.isoformat(), story.after.isoformat()
    pg = ["--to", "postgresql://nobody@127.0.0.1:1/none"]
    cases = [
        (_recover(story, "--incident-xid", "1234"), "--incident-xid is a PostgreSQL"),
        (
            _recover(story, "--incident-gtid", story.gtid, "--before", before, "--after", after),
            "give either --incident-gtid or --before/--after, not both",
        ),
        (
            _recover(story, "--incident-gtid", story.gtid, "--incident-xid", "1234"),
            "give either --incident-xid or --incident-gtid, not both",
        ),
        (_recover(story, "--incident-gtid", "0-1"), "--incident-gtid '0-1' is not a GTID"),
        (_recover(story), "give the incident: --incident-gtid G, or both --before and --after"),
        ([*_recover(story, "--incident-gtid", story.gtid), *pg], "--incident-gtid is a MariaDB"),
    ]
    with mysql_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        for argv, expected in cases:
            code, stdout, stderr = cli(argv, capsys)
            assert code == 2 and stdout == "", stderr
            assert expected in stderr and stderr.strip().count("\n") == 0, stderr
        assert_no_mysql_left(root)  # refused before restoring anything


def test_recover_a_gtid_the_archive_does_not_hold(
    story: Story, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    domain, server, _ = story.gtid.split("-")
    absent = f"{domain}-{server}-999999"
    with mysql_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        code, stdout, stderr = cli(_recover(story, "--incident-gtid", absent), capsys)
        assert_no_mysql_left(root)
    assert code == 1 and stdout == "", stderr
    assert f"GTID {absent} is not in the binlogs" in stderr
    assert stderr.strip().count("\n") == 0
