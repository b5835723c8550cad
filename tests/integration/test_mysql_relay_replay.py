"""Binlog replay by the sandbox server's replication (binlog_relay.py) on real servers: every
target kind stops where the pipe stops with two GTID domains (one depending on the other),
DDL and a multi-statement transaction in the binlogs; the archive is never written; the
replica state is reset; an SQL thread error is a failed restore; a tail without its commit
goes through the pipe, which rolls it back. (test_mysql_restore.py restores every target kind
of a one-domain history through the parallel workers.)"""

from __future__ import annotations

import gzip
import hashlib
import random
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.binlog import MARIA_GTID, read_binlog
from restoredrill.engines.mysql.restore_options import MySqlOptions
from restoredrill.errors import RecoveryIncomplete
from restoredrill.models import RecoveryTarget
from restoredrill.targets import parse_target
from tests.mysqlsetup import DB, MysqlProduction, counter_rows, next_second, production

pytestmark = pytest.mark.slow


@dataclass
class History:
    prod: MysqlProduction
    snapshots: Path
    archive: Path
    mid: datetime  # between rows 10 and 11


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    root = tmp_path_factory.mktemp("mysql-relay")
    with production("test-mysql-relay") as prod:
        prod.insert(3)
        snapshots = root / "snapshots"
        prod.dump(snapshots / "a.sql.gz")
        prod.insert(4)
        prod.run(  # another domain, DDL and a multi-statement transaction
            "SET SESSION gtid_domain_id = 7",
            f"CREATE TABLE {DB}.other (id INT PRIMARY KEY, v VARCHAR(20))",
            f"INSERT INTO {DB}.other VALUES (1, 'a'), (2, 'b')",
        )
        prod.flush()
        prod.run(
            "START TRANSACTION",
            f"UPDATE {DB}.other SET v = 'c' WHERE id = 2",
            f"INSERT INTO {DB}.other VALUES (3, 'd')",
            "COMMIT",
            db=DB,
        )
        prod.insert(3)
        next_second()
        mid = datetime.now(UTC)
        next_second()
        prod.insert(5)
        archive = prod.archive(root / "archive")
        yield History(prod, snapshots, archive, mid)


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def _restore(
    h: History, target: RecoveryTarget, archive: Path | None = None
) -> tuple[str, list[int]]:
    """The replay phase's detail and the restored counter rows; the sandbox is checked to have
    no replica state left."""
    request = RestoreRequest(h.snapshots, archive or h.archive, target, backend=MySqlOptions())
    with restored(request) as done:
        assert done.result.plan.ok
        replay = next(p for p in done.result.phases if p.name == "replay binlogs")
        conn = done.sandbox.connect()
        try:
            assert conn.rows("SHOW SLAVE STATUS") == []
            assert conn.scalar("SELECT @@global.gtid_slave_pos") == ""
            assert int(conn.scalar("SELECT @@server_id")) == done.sandbox.server_id
        finally:
            conn.close()
        return replay.detail or "", counter_rows(done.dsn(DB))


def _gtid(h: History, n: int) -> str:
    """Row n's GTID, read from the binlog (Commit.gtid takes the last domain's of the server's
    position, which with two domains is not always this transaction's)."""
    commit = h.prod.commits[n - 1]
    txn = next(t for t in read_binlog(h.archive / commit.file).txns if t.end == commit.pos)
    assert txn.gtid is not None and txn.gtid.startswith("0-")
    return txn.gtid


def test_every_target_kind_with_two_domains(history: History) -> None:
    """Domain 0's UPDATE of `other` needs domain 7's CREATE and INSERT before it: parallel
    workers may commit two domains out of binlog order, so one SQL thread applies them."""
    before = _digest(history.archive)
    c, g12 = history.prod.commits, _gtid(history, 12)
    cases: list[tuple[RecoveryTarget, list[int]]] = [
        (RecoveryTarget(kind="latest"), list(range(1, 16))),
        (RecoveryTarget(kind="time", time=history.mid), list(range(1, 11))),
        (parse_target(position=f"{c[8].file}:{c[8].pos}", engine="mariadb"), list(range(1, 10))),
        (parse_target(gtid=g12, engine="mariadb"), list(range(1, 13))),
        (
            parse_target(gtid=g12, exclusive=True, engine="mariadb"),
            list(range(1, 12)),
        ),
    ]
    for target, rows in cases:
        detail, restored_rows = _restore(history, target)
        assert "one SQL thread: 2 GTID domains kept in binlog order" in detail, (target, detail)
        assert restored_rows == rows, target
    assert _digest(history.archive) == before  # the archive is only ever read


def test_other_domain_and_multi_statement_transaction_replayed(history: History) -> None:
    request = RestoreRequest(
        history.snapshots, history.archive, RecoveryTarget(kind="latest"), backend=MySqlOptions()
    )
    with restored(request) as done:
        conn = done.sandbox.connect(DB)
        try:
            assert conn.rows("SELECT id, v FROM other ORDER BY id") == [
                (1, "a"),
                (2, "c"),
                (3, "d"),
            ]
        finally:
            conn.close()


def test_sql_thread_error_is_a_failed_restore(history: History, tmp_path: Path) -> None:
    """A dump that already holds a row the binlogs insert: the SQL thread stops on the
    duplicate key, and the restore fails (never a copy that looks complete)."""
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    text = gzip.decompress((history.snapshots / "a.sql.gz").read_bytes())
    footer = text.rindex(b"-- Dump completed")
    extra = f"INSERT INTO {DB}.counter VALUES (6, '2020-01-01 00:00:00');\n".encode()
    (snapshots / "a.sql.gz").write_bytes(gzip.compress(text[:footer] + extra + text[footer:]))
    request = RestoreRequest(
        snapshots, history.archive, RecoveryTarget(kind="latest"), backend=MySqlOptions()
    )
    failed = pytest.raises(RecoveryIncomplete, match=r"binlog replay failed: .*[Dd]uplicate")
    with failed, restored(request):
        pass


def _event_starts(path: Path) -> list[tuple[int, int]]:
    data = path.read_bytes()
    pos, found = 4, []
    while pos + 19 <= len(data):
        _when, kind, _server, length, _end, _flags = struct.unpack_from("<IBIIIH", data, pos)
        found.append((pos, kind))
        pos += length
    return found


def test_tail_without_its_commit_goes_through_the_pipe(history: History, tmp_path: Path) -> None:
    """The head file cut cleanly between two events of its last transaction: the server would
    wait for the rest forever, so the pipe replays it (its client rolls the tail back)."""
    archive = tmp_path / "archive"
    shutil.copytree(history.archive, archive)
    head = max(p for p in archive.iterdir() if p.name[-6:].isdigit())
    events = _event_starts(head)
    last_gtid = max(i for i, (_, kind) in enumerate(events) if kind == MARIA_GTID)
    cut = events[last_gtid + 2][0]  # after the GTID and the next event, before the commit
    with head.open("r+b") as handle:
        handle.truncate(cut)
    detail, rows = _restore(history, RecoveryTarget(kind="latest"), archive)
    assert "mariadb-binlog | mariadb: the last transaction" in detail
    assert rows == list(range(1, 15))


# --- a busy stream: the parallel workers stop where the pipe stops ---------------------------


def _statements(count: int, first_id: int, seed: int) -> str:
    """Single-statement transactions on `busy` (values are numbers: nothing to quote)."""
    rng = random.Random(seed)
    lines, top = [f"USE {DB};"], first_id
    for _ in range(count):
        roll = rng.random()
        if roll < 0.5:
            top += 1
            lines.append(
                f"INSERT INTO busy VALUES ({top}, {rng.randint(1, 999)}, REPEAT('x', 300))"
            )
        elif roll < 0.85:
            lines.append(f"UPDATE busy SET k = k + 1 WHERE id = {rng.randint(1, top)}")
        else:
            lines.append(f"DELETE FROM busy WHERE id = {rng.randint(1, top)}")
    return ";\n".join(lines) + ";\n"


def _sums(dsn: str) -> tuple[int, int]:
    conn = my.connect(dsn)
    try:
        row = conn.rows("CHECKSUM TABLE busy")[0]
        return int(row[1]), int(conn.scalar("SELECT COUNT(*) FROM busy"))
    finally:
        conn.close()


def test_busy_stream_parallel_workers_stop_where_the_pipe_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3,000 transactions of inserts, updates and deletes: for a time, a position, a GTID
    (inclusive and exclusive) and latest, the parallel route's copy equals the pipe's."""
    with production("test-mysql-relay-busy") as prod:
        prod.run(
            f"CREATE TABLE {DB}.busy (id INT PRIMARY KEY, k INT NOT NULL, pad TEXT)",
            f"INSERT INTO {DB}.busy SELECT seq, seq, 'base' FROM {DB}.seq_1_to_500",
        )
        prod.dump(tmp_path / "snapshots" / "a.sql.gz")
        client = prod.server.client_argv()
        subprocess.run(client, input=_statements(1500, 500, 1).encode(), check=True)
        conn = prod.server.connect()
        try:
            gtid = str(conn.scalar("SELECT @@gtid_binlog_pos"))
            file, pos = conn.rows("SHOW MASTER STATUS")[0][:2]
        finally:
            conn.close()
        next_second()
        mid = datetime.now(UTC)
        next_second()
        subprocess.run(client, input=_statements(1500, 2000, 2).encode(), check=True)
        archive = prod.archive(tmp_path / "archive")
    targets = [
        RecoveryTarget(kind="latest"),
        RecoveryTarget(kind="time", time=mid),
        parse_target(position=f"{file}:{int(pos) - 1}", engine="mariadb"),  # inside: before it
        parse_target(gtid=gtid, engine="mariadb"),
        parse_target(gtid=gtid, exclusive=True, engine="mariadb"),
    ]
    states = set()
    for target in targets:
        copies = []
        for off in ("relay-replay", ""):
            monkeypatch.setenv("RESTOREDRILL_BENCH_OFF", off)
            request = RestoreRequest(
                tmp_path / "snapshots", archive, target, backend=MySqlOptions()
            )
            with restored(request) as done:
                replay = next(p for p in done.result.phases if p.name == "replay binlogs")
                assert ("mariadb-binlog | mariadb" if off else "parallel workers") in (
                    replay.detail or ""
                )
                copies.append(_sums(done.dsn(DB)))
        assert copies[0] == copies[1], target
        states.add(copies[0])
    assert len(states) >= 3  # latest, the middle, and one transaction before it differ
