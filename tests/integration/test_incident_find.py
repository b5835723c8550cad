"""`incident find` on a real archive: a 2,000-row DELETE among small legitimate transactions
(and a bigger one that was rolled back) is ranked first with its exact counts and commit
time; `recover --incident-xid` then puts back exactly what it did, nothing around it."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from restoredrill.lsn import parse_lsn, segment_name, segment_of
from tests.pgsetup import assert_nothing_left, cli, private_sandbox_root

pytestmark = pytest.mark.slow

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2));
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users
                     ON DELETE CASCADE, amount numeric(10,2));
INSERT INTO users SELECT g, 'user ' || g, g FROM generate_series(1, 3000) g;
INSERT INTO orders SELECT g, 1 + g % 3000, g / 4.0 FROM generate_series(1, 900) g;
"""
CASCADED = sum(1 for g in range(1, 901) if 1 + g % 3000 <= 2000)


@dataclass
class Story:
    production: LocalPostgres
    backups: Path
    archive: Path
    xid: int  # the bad DELETE
    before: datetime  # clock just before / after it
    after: datetime
    savepoints_xid: int  # 100 updates + 50 inserts, one rolled-back savepoint of 10
    aborted_xid: int


def _xid(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT txid_current()").fetchone()
    assert row is not None
    return int(str(row[0])) & 0xFFFFFFFF


def _now(conn: psycopg.Connection[tuple[object, ...]]) -> datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None and isinstance(row[0], datetime)
    return row[0]


@pytest.fixture(scope="module")
def story(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with local_postgres("test-incident-find", tools=pg_tools) as cluster:
        archive = cluster.root / "archive"
        start_archiving(cluster, archive)
        backups = tmp_path_factory.mktemp("incident") / "backups"
        with cluster.connect() as conn:
            conn.execute(SCHEMA)
        base_backup(cluster, backups / "b1", fmt="tar")
        time.sleep(1.1)  # backup end times are recorded to the second
        with cluster.connect() as conn:
            conn.autocommit = True
            conn.execute("INSERT INTO users VALUES (5001, 'legit just before', 1)")
            conn.execute("UPDATE users SET name = 'renamed before' WHERE id = 2500")
            before = _now(conn)
            with conn.transaction():
                xid = _xid(conn)
                conn.execute("DELETE FROM users WHERE id <= 2000")
            after = _now(conn)
        switch_and_wait_archived(cluster)  # the incident's segment is not the archive's last
        with cluster.connect() as conn:
            conn.autocommit = True
            conn.execute("INSERT INTO users VALUES (5002, 'legit just after', 2)")
            conn.execute("UPDATE users SET name = 'edited after' WHERE id = 2600")
            with conn.cursor().copy("COPY users (id, name) FROM STDIN") as copy:
                for n in range(8001, 8301):  # COPY writes MULTI_INSERT records
                    copy.write_row((n, f"copied {n}"))
            conn.execute("BEGIN")
            aborted = _xid(conn)
            conn.execute("DELETE FROM users WHERE id > 2000")
            conn.execute("ROLLBACK")
        with cluster.connect() as conn:
            conn.autocommit = True
            with conn.transaction():
                savepoints = _xid(conn)
                conn.execute("UPDATE users SET balance = 0 WHERE id BETWEEN 2001 AND 2100")
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO users SELECT g, 'sub', 0 FROM generate_series(6001, 6050) g"
                    )
                with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
                    conn.execute(
                        "INSERT INTO users SELECT g, 'gone', 0 FROM generate_series(7001, 7010) g"
                    )
                    conn.execute("INSERT INTO users VALUES (7001, 'dup', 0)")
        switch_and_wait_archived(cluster)
        yield Story(cluster, backups, archive, xid, before, after, savepoints, aborted)


def _find(story: Story, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    # from the base backup on: the schema's load before it is bigger, and not recoverable
    argv = ["incident", "find", "--wal-archive", str(story.archive), "--json"]
    argv += ["--base-backups", str(story.backups), *extra]
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


def test_the_big_delete_is_ranked_first_with_exact_counts(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _find(story, capsys, "--dsn", story.production.dsn())
    incidents = _incidents(document)
    first = incidents[0]
    assert first["xid"] == story.xid
    assert first["rows"] == 2000 + CASCADED
    assert _tables(first) == {"public.users": (0, 0, 2000), "public.orders": (0, 0, CASCADED)}
    committed = datetime.fromisoformat(str(first["commit_time"]))
    assert story.before <= committed <= story.after
    # subtransactions count with their transaction; the rolled-back savepoint does not
    assert _tables(incidents[1]) == {"public.users": (300, 0, 0)}  # the COPY's ntuples
    third = incidents[2]
    assert third["xid"] == story.savepoints_xid
    assert _tables(third) == {"public.users": (50, 100, 0)}
    assert story.aborted_xid not in [i["xid"] for i in incidents]
    command = str(document["recover_command"])
    assert f"--incident-xid {story.xid}" in command
    assert "--table public.users --table public.orders" in command
    assert document["names_resolved"] is True


def test_without_dsn_tables_are_relfilenodes_and_names_need_dsn(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _find(story, capsys, "--top", "1")
    (first,) = _incidents(document)
    assert first["xid"] == story.xid
    labels = list(_tables(first))
    assert all(label.startswith("rel ") for label in labels)
    assert any("--dsn" in str(note) for note in document["notes"])  # type: ignore[attr-defined]
    assert f"--base-backups {story.backups}" in str(document["recover_command"])

    # a relfilenode selects its table without a DSN
    users = labels[0].removeprefix("rel ")
    only = _find(story, capsys, "--table", users)
    assert _tables(_incidents(only)[0]) == {labels[0]: (0, 0, 2000)}

    code, stdout, stderr = cli(
        ["incident", "find", "--wal-archive", str(story.archive), "--table", "users"], capsys
    )
    assert code == 2 and stdout == ""
    assert stderr.strip().count("\n") == 0 and "--table users" in stderr and "--dsn" in stderr


def test_table_and_time_window_filter(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    dsn = ("--dsn", story.production.dsn())
    orders = _incidents(_find(story, capsys, *dsn, "--table", "orders"))
    assert [i["xid"] for i in orders] == [story.xid]
    assert _tables(orders[0]) == {"public.orders": (0, 0, CASCADED)}

    later = _incidents(_find(story, capsys, *dsn, "--since", story.after.isoformat()))
    assert [i["rows"] for i in later[:2]] == [300, 150]
    assert story.xid not in [i["xid"] for i in later]

    earlier = _incidents(_find(story, capsys, *dsn, "--until", story.before.isoformat()))
    assert story.xid not in [i["xid"] for i in earlier]
    assert {"public.users": (1, 0, 0)} in [_tables(i) for i in earlier]

    window = _incidents(
        _find(
            story,
            capsys,
            *dsn,
            "--since",
            story.before.isoformat(),
            "--until",
            (story.after + timedelta(microseconds=1)).isoformat(),
        )
    )
    assert [i["xid"] for i in window] == [story.xid]

    code, _, stderr = cli(
        ["incident", "find", "--wal-archive", str(story.archive), "--since", "2026-01-01T00:00"],
        capsys,
    )
    assert code == 2 and "has no time zone" in stderr and stderr.strip().count("\n") == 0


def test_terminal_output_ends_with_the_recover_command(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["incident", "find", "--wal-archive", str(story.archive), "--top", "3"]
    code, stdout, _ = cli([*argv, "--base-backups", str(story.backups)], capsys)
    assert code == 0
    assert str(story.xid) in stdout and "2,000" in stdout
    last = stdout.strip().splitlines()[-1].strip()
    assert last.startswith("restoredrill recover ") and f"--incident-xid {story.xid}" in last


def test_recover_by_xid_diffs_exactly_that_transaction(
    story: Story,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = [
        "recover",
        "--base-backups",
        str(story.backups),
        "--wal-archive",
        str(story.archive),
        "--table",
        "users",
        "--table",
        "orders",
        "--to",
        story.production.dsn(),
    ]
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        by_xid = [*common, "--incident-xid", str(story.xid), "--json"]
        code, stdout, stderr = cli([*by_xid, "--out", str(tmp_path / "d.json")], capsys)
        assert_nothing_left(root)  # both restores torn down
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["incident_xid"] == story.xid
    counts = {t["table"]: t["counts"] for t in result["tables"]}
    # rows the legitimate transactions just before/after wrote are in neither side's diff
    assert counts["public.users"] == {"lost": 2000, "new": 0, "changed": 0}
    assert counts["public.orders"] == {"lost": CASCADED, "new": 0, "changed": 0}
    planned = sum(t["inserted"] for t in result["reapply"]["tables"])
    assert planned == 2000 + CASCADED and not result["reapply"]["executed"]

    both = [*common, "--incident-xid", str(story.xid), "--before", story.before.isoformat()]
    code, stdout, stderr = cli(both, capsys)
    assert code == 2 and stdout == "" and "not both" in stderr
    assert stderr.strip().count("\n") == 0
    code, _, stderr = cli(common, capsys)
    assert code == 2 and "--incident-xid N, or both --before and --after" in stderr


def _damaged_copy(
    story: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, str]:
    """A copy of the archive, and the name of the segment holding the incident's commit."""
    first = _incidents(_find(story, capsys, "--top", "1"))[0]
    commit = parse_lsn(str(first["commit_lsn"]))
    name = segment_name(1, segment_of(commit))
    copy = tmp_path / "archive"
    shutil.copytree(story.archive, copy)
    return copy, name


def test_a_damaged_segment_is_an_error_not_a_shorter_list(
    story: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, name = _damaged_copy(story, tmp_path, capsys)
    with open(copy / name, "r+b") as segment:
        segment.seek(4 * 8192 + 100)  # inside the DELETE's records, before its commit
        segment.write(b"\xff" * 64)
    argv = ["incident", "find", "--wal-archive", str(copy), "--base-backups", str(story.backups)]
    code, stdout, stderr = cli(argv, capsys)
    assert code == 1 and stdout == ""
    assert f"WAL segment {name}: unreadable WAL" in stderr and stderr.strip().count("\n") == 0
    assert "incorrect resource manager data checksum" in stderr


def test_a_missing_segment_is_named(
    story: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, name = _damaged_copy(story, tmp_path, capsys)
    (copy / name).unlink()
    argv = ["incident", "find", "--wal-archive", str(copy), "--base-backups", str(story.backups)]
    code, stdout, _ = cli([*argv, "--json"], capsys)
    assert code == 0
    document = json.loads(stdout)
    assert document["missing_segments"] == [name]
    assert any(f"WAL segment {name} is missing" in n for n in document["notes"])
    assert story.xid not in [i["xid"] for i in document["incidents"]]


def test_usage_errors_are_one_line(
    story: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, expected in (
        (["incident", "find"], "--wal-archive (PostgreSQL) or --binlog-archive"),
        (
            ["incident", "find", "--wal-archive", str(story.archive), "--binlog-archive", "x"],
            "--wal-archive (PostgreSQL) or --binlog-archive",
        ),
        (["incident", "find", "--wal-archive", str(tmp_path / "nope")], "no such directory"),
    ):
        code, stdout, stderr = cli(argv, capsys)
        assert code == 2 and stdout == "" and expected in stderr, stderr
        assert stderr.strip().count("\n") == 0


def test_recover_an_xid_the_archive_does_not_hold(
    story: Story, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["recover", "--base-backups", str(story.backups), "--wal-archive", str(story.archive)]
    argv += ["--table", "users", "--to", story.production.dsn(), "--incident-xid", "999999"]
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        code, stdout, stderr = cli(argv, capsys)
        assert_nothing_left(root)
    assert code == 1 and stdout == "", stderr
    assert "xid 999999 not found in the WAL archive" in stderr
    assert stderr.strip().count("\n") == 0


def test_a_transaction_without_commit_in_the_archive_is_not_listed_but_said(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    """Still running (or its commit not archived yet): counted as unfinished, named in a note."""
    with story.production.connect() as conn:
        conn.autocommit = True
        conn.execute("BEGIN")
        conn.execute("DELETE FROM users WHERE id BETWEEN 2001 AND 2900")
        switch_and_wait_archived(story.production)  # its records archived, no commit yet
        document = _find(story, capsys)
        conn.execute("ROLLBACK")
    switch_and_wait_archived(story.production)  # its abort archived: the story is whole again
    assert _find(story, capsys)["unfinished"] == 0
    assert document["unfinished"] == 1
    assert all(i["rows"] != 900 for i in _incidents(document))
    assert any("no commit or abort record" in str(n) for n in document["notes"])  # type: ignore[attr-defined]


def test_the_two_plans_of_one_xid_share_one_scan(
    story: Story, pg_tools: PgTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """recover plans a restore to just before and one to just after the xid: with a
    SharedWork the WAL is scanned for it once, and each plan is what it is alone."""
    from restoredrill.engines.postgres import wal_verify
    from restoredrill.engines.postgres.plan import plan_restore
    from restoredrill.models import RecoveryTarget
    from restoredrill.shared_work import SharedWork
    from restoredrill.sources.base import open_source

    scans: list[int] = []
    real = wal_verify.read_wal

    def counted(*args: Any, **kwargs: Any) -> Any:
        if args[1].kind == "xid":
            scans.append(args[1].xid)
        return real(*args, **kwargs)

    monkeypatch.setattr(wal_verify, "read_wal", counted)
    targets = [RecoveryTarget(kind="xid", xid=story.xid, inclusive=i) for i in (False, True)]
    alone = [plan_restore(open_source(story.backups, story.archive), t, pg_tools) for t in targets]
    assert scans == [story.xid, story.xid]
    shared = SharedWork()
    together = [
        plan_restore(open_source(story.backups, story.archive), t, pg_tools, shared)
        for t in targets
    ]
    assert scans == [story.xid] * 3
    assert [o.plan for o in together] == [o.plan for o in alone]
    assert together[0].segments == alone[0].segments
    ends = [o.plan.expected_end_lsn for o in together]
    assert ends[0] is not None and ends[1] is not None and ends[0] < ends[1]
