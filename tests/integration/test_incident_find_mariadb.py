"""`incident find --binlog-archive` on a real MariaDB: a 2,000-row DELETE among small
transactions (and a bigger one rolled back, which never reaches the binlog) is ranked first,
by GTID, with its exact count and commit second; a damaged binlog is an error."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.mysqlsetup import DB, next_second, production
from tests.pgsetup import cli

pytestmark = pytest.mark.slow


@dataclass
class Story:
    archive: Path
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
        next_second()
        before = datetime.now(UTC).replace(microsecond=0)
        conn = prod.server.connect(DB)
        try:
            conn.run("DELETE FROM users WHERE id <= 2000")
            gtid = str(conn.scalar("SELECT @@gtid_binlog_pos")).split(",")[-1]
            conn.run("BEGIN")
            conn.run("DELETE FROM users WHERE id > 2000")
            conn.run("ROLLBACK")
        finally:
            conn.close()
        after = datetime.now(UTC)
        next_second()
        prod.run("INSERT INTO users VALUES (5002, 'legit after')", db=DB)
        archive = prod.archive(tmp_path_factory.mktemp("binlogs") / "archive")
        yield Story(archive, gtid, before, after)


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
    assert f"--target-gtid {story.gtid} --exclusive" in str(document["recover_command"])


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
    assert last.startswith("restoredrill restore ") and f"--target-gtid {story.gtid}" in last
