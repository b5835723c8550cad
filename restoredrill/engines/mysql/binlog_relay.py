"""Binlog replay by the sandbox server itself: the staged binlog copies become its relay log
and its SQL thread applies them with parallel workers (MariaDB's parallel replication), up to
the plan's stop point — faster than ``mariadb-binlog … | mariadb`` (no text decoding, no
client round trips; bench/results/binlog_replay.md).

How: the sandbox starts with ``relay-log`` named like the archive's binlogs, so a relay
position is the binlog position; the files the plan chose are copied into that directory
(the last one cut at the stop, so nothing past the target is in the sandbox) and listed in
the relay-log index; ``CHANGE MASTER TO`` names a dummy master (no IO thread ever runs) and
both the master and relay coordinates of the snapshot (without MASTER_LOG_FILE the server has
no master log name, and 10.11 crashes comparing it for UNTIL); ``START SLAVE SQL_THREAD UNTIL
RELAY_LOG_FILE/POS`` the plan's stop, which every target kind (time, position, GTID, latest)
resolves to: the point the pipe stops at. UNTIL stops a run with events after the stop; a
run whose copy ends at the stop idles there, and is stopped once done. Workers commit in
binlog order within a domain, so the state at the end is the serial one.

Done means: the relay position is at or past the end of the last transaction to replay and
@@gtid_slave_pos holds exactly the last GTID of every domain among them, with no SQL thread
error; anything else is a failed restore (RecoveryIncomplete), never a PASS. The replica
state (master info, relay log, gtid_slave_pos, server_id) is reset afterwards.

The pipe (restore.py) stays the route where this one cannot apply (why_not): a MySQL server
(other syntax, other GTIDs), binlogs not written by MariaDB, transactions without GTIDs
(completion is told by GTID), or a last transaction whose commit is not in the archive (the
pipe's client rolls such a tail back at end of input; the SQL thread would wait for the rest).
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.binlog import MARIA_GTID, BinlogFile, Txn
from restoredrill.engines.mysql.driver import escape_string
from restoredrill.engines.mysql.plan import MysqlPlanOutcome
from restoredrill.engines.mysql.positions import binlog_seq
from restoredrill.engines.mysql.sandbox_local import LocalMySQL
from restoredrill.engines.mysql.tools import MysqlTools
from restoredrill.errors import RecoveryIncomplete, SandboxError
from restoredrill.levers import lever_off, lever_value

RELAY_DIR = "relay"
MODE = "optimistic"  # conservative finds no parallelism in a serial production's binlog
_HEADER = struct.Struct("<IBIIIH")
_QUERY, _XID, _XA_PREPARE = 2, 16, 38
_STANDALONE = 0x1  # Gtid_log_event flags2: a single statement (DDL), no COMMIT follows
_DUMMY_MASTER = "MASTER_HOST='127.0.0.1', MASTER_PORT=9, MASTER_USER='restoredrill-replay'"
CHUNK = 1 << 20


def threads() -> int:
    """Parallel workers: 0 (one SQL thread) when the bench lever is off."""
    if lever_off("relay-parallel"):
        return 0
    return int(lever_value("relay-threads", str(max(4, 2 * (os.cpu_count() or 1)))))


def mode() -> str:
    if lever_off("relay-parallel"):
        return "one SQL thread"
    chosen = lever_value("relay-mode", MODE)
    return chosen if chosen in ("conservative", "optimistic", "aggressive") else MODE


def why_not(tools: MysqlTools, outcome: MysqlPlanOutcome) -> str | None:
    """Why the replay must go through the pipe; None when the server can apply the binlogs."""
    if lever_off("relay-replay"):
        return "switched off for a benchmark"
    if not tools.mariadb:
        return "the server is MySQL (this route is MariaDB's)"
    if any("mariadb" not in (f.server_version or "").lower() for f in outcome.files):
        return "binlogs not written by MariaDB"
    if outcome.replayed and not replay_goal(outcome).gtids:
        return "transactions without GTIDs (completion is told by GTID)"
    last = outcome.last_txn
    home = next((f for f in outcome.files for t in f.txns if t is last), None)
    if last is not None and outcome.replayed and (home is None or not ends_committed(home, last)):
        return f"the last transaction ({last.gtid or '?'}) has no commit event in the archive"
    return None


def relay_options(sandbox: LocalMySQL, outcome: MysqlPlanOutcome) -> dict[str, str]:
    """Server options naming the relay log after the archive's binlogs."""
    base = outcome.files[0].name.rsplit(".", 1)[0]
    directory = sandbox.root / RELAY_DIR
    directory.mkdir(mode=0o700)  # before start-up: a copied master.info opens the relay log
    sandbox.run_as.own(directory)
    return {
        "relay-log": str(directory / base),
        "relay-log-index": str(directory / f"{base}.index"),
    }


def stage(sandbox: LocalMySQL, outcome: MysqlPlanOutcome) -> tuple[list[Path], int]:
    """Copy the binlogs replay needs into the relay directory (copies: the archive is never
    opened for writing, nor its owner changed), the last one cut at the stop, and write the
    index; returns the copies and their bytes."""
    directory = sandbox.root / RELAY_DIR
    staged, total = [], 0
    for info in outcome.files:
        target = directory / info.name
        limit = outcome.stop_pos if info is outcome.files[-1] else None
        _copy(info.path, target, limit)
        sandbox.run_as.own(target)
        total += target.stat().st_size
        staged.append(target)
    index = directory / f"{outcome.files[0].name.rsplit('.', 1)[0]}.index"
    index.write_text("".join(f"{p}\n" for p in staged))
    sandbox.run_as.own(index)
    return staged, total


def _copy(source: Path, target: Path, limit: int | None) -> None:
    if limit is None:
        shutil.copyfile(source, target)
        return
    with source.open("rb") as src, target.open("wb") as dst:
        left = limit
        while left > 0 and (chunk := src.read(min(CHUNK, left))):
            dst.write(chunk)
            left -= len(chunk)


def ends_committed(info: BinlogFile, txn: Txn) -> bool:
    """Does ``txn`` end with its commit in ``info`` (an Xid, a COMMIT/ROLLBACK query, an XA
    PREPARE, or the one statement of a standalone GTID)?"""
    events: list[tuple[int, bytes]] = []
    with info.path.open("rb") as handle:
        handle.seek(txn.start)
        data = handle.read(txn.end - txn.start)
    pos = 0
    while pos + _HEADER.size <= len(data):
        _when, kind, _server, length, _end, _flags = _HEADER.unpack_from(data, pos)
        if length < _HEADER.size:
            return False
        events.append((kind, data[pos + _HEADER.size : pos + length]))
        pos += length
    if len(events) < 2 or events[0][0] != MARIA_GTID:
        return False
    first = events[0][1]
    if len(first) > 12 and first[12] & _STANDALONE:
        return True
    kind, body = events[-1]
    if kind in (_XID, _XA_PREPARE):
        return True
    return kind == _QUERY and _query_text(body).upper().startswith((b"COMMIT", b"ROLLBACK"))


def _query_text(body: bytes) -> bytes:
    """The statement of a Query event body (post-header, status variables, schema, NUL)."""
    if len(body) < 13:
        return b""
    db_len = body[8]
    (status_len,) = struct.unpack_from("<H", body, 11)
    return body[13 + status_len + db_len + 1 :]


def replay(sandbox: LocalMySQL, outcome: MysqlPlanOutcome, timeout: float) -> str:
    """Apply the staged relay log up to the stop; returns how (for the phase's detail)."""
    assert outcome.stop_file is not None and outcome.stop_pos is not None
    goal = replay_goal(outcome)
    workers, how = threads(), mode()
    if len(goal.gtids) > 1:
        # workers commit in binlog order within a domain only: one domain's transaction could
        # run before another's it depends on; the pipe keeps binlog order, so one thread does
        workers, how = 0, f"one SQL thread: {len(goal.gtids)} GTID domains kept in binlog order"
    conn = sandbox.connect()
    try:
        saved_gtid = my.text_of(conn.scalar("SELECT @@global.gtid_slave_pos") or "")
        saved_id = int(conn.scalar("SELECT @@global.server_id"))
        # the SQL thread skips events stamped with its own server id: never one of the source's
        conn.run(f"SET GLOBAL server_id = {_foreign_id(saved_id, outcome)}")
        for setting in (
            f"slave_parallel_threads = {workers}",
            f"slave_parallel_mode = '{how if workers else MODE}'",
            "slave_parallel_max_queued = 4194304",
            "slave_ddl_exec_mode = 'STRICT'",  # IDEMPOTENT would hide a CREATE over a table
            "slave_exec_mode = 'STRICT'",
            "slave_sql_verify_checksum = ON",
        ):
            conn.run(f"SET GLOBAL {setting}")
        start = f"{_quoted(outcome.files[0].name)}, %s_LOG_POS = {outcome.start_position}"
        conn.run(
            f"CHANGE MASTER TO {_DUMMY_MASTER}, MASTER_USE_GTID = no,"
            f" MASTER_LOG_FILE = {start % 'MASTER'}, RELAY_LOG_FILE = {start % 'RELAY'}"
        )
        # UNTIL stops a run that has events after the stop; one that ends at the stop (the
        # copy is cut there) is done when every domain's last GTID is applied
        conn.run(
            f"START SLAVE SQL_THREAD UNTIL RELAY_LOG_FILE = {_quoted(outcome.stop_file)},"
            f" RELAY_LOG_POS = {outcome.stop_pos}"
        )
        try:
            _wait_applied(conn, goal, timeout)
        finally:
            conn.run("STOP SLAVE")
        _check_stop(conn, _status(conn), goal)
        conn.run("RESET SLAVE ALL")
        conn.run(f"SET GLOBAL gtid_slave_pos = {_quoted(saved_gtid)}")
        conn.run(f"SET GLOBAL server_id = {saved_id}")
    finally:
        conn.close()
    return f"server replication ({f'{workers} parallel workers, {how}' if workers else how})"


@dataclass(frozen=True)
class Goal:
    """Where replay is complete: the last GTID of every domain among the transactions it
    applies (domains commit independently of each other in parallel replication), and the
    end of the last of them (file sequence number, offset)."""

    gtids: dict[str, str]
    end: tuple[int, int]
    label: str  # FILE:POS of that end


def replay_goal(outcome: MysqlPlanOutcome) -> Goal:
    assert outcome.stop_pos is not None
    gtids: dict[str, str] = {}
    end, label = (0, 0), ""
    first, final = outcome.files[0], outcome.files[-1]
    for info in outcome.files:
        for txn in info.txns:
            if info is first and txn.start < outcome.start_position:
                continue
            if info is final and txn.end > outcome.stop_pos:
                break
            if txn.gtid:
                gtids[txn.gtid.split("-", 1)[0]] = txn.gtid
            end, label = (info.seq, txn.end), f"{info.name}:{txn.end}"
    return Goal(gtids, end, label)


def _quoted(text: str) -> str:
    """A plain string literal: CHANGE MASTER / START SLAVE take no character set introducer."""
    return "'" + escape_string(text) + "'"


def _foreign_id(own: int, outcome: MysqlPlanOutcome) -> int:
    ids = {f.server_id for f in outcome.files}
    ids |= {int(t.gtid.split("-")[1]) for f in outcome.files for t in f.txns if t.gtid}
    while own in ids:
        own += 1
    return own


def _status(conn: my.MyConn) -> dict[str, Any]:
    with conn.cursor() as cursor:
        cursor.execute("SHOW SLAVE STATUS")
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    return dict(zip(names, row, strict=True)) if row else {}


def _applied(conn: my.MyConn) -> dict[str, str]:
    text = my.text_of(conn.scalar("SELECT @@global.gtid_slave_pos") or "")
    return {g.strip().split("-", 1)[0]: g.strip() for g in text.split(",") if g.strip()}


def _position(status: dict[str, Any]) -> tuple[int, int]:
    file = my.text_of(status.get("Relay_Log_File") or "")
    return binlog_seq(file), int(status.get("Relay_Log_Pos") or 0)


def _wait_applied(conn: my.MyConn, goal: Goal, timeout: float) -> None:
    """Poll until the goal is reached or the SQL thread stops; one idle at the end of the
    relay log short of the goal (it will never get there) is left to _check_stop."""
    deadline = time.monotonic() + timeout
    pause, idle_since, last = 0.02, 0.0, None
    while True:
        applied = _applied(conn)
        status = _status(conn)
        if _position(status) >= goal.end and all(
            applied.get(d) == g for d, g in goal.gtids.items()
        ):
            return
        if my.text_of(status.get("Slave_SQL_Running") or "No") != "Yes":
            return  # stopped: by UNTIL or by an error
        where = (_position(status), applied)
        if _exhausted(conn, status):
            idle_since = idle_since if where == last else time.monotonic()
            if time.monotonic() - idle_since > 2.0:
                return  # nothing left to read or apply, short of the goal
        last = where
        if time.monotonic() > deadline:
            raise SandboxError(f"binlog replay did not finish within {timeout:.0f}s")
        time.sleep(pause)
        pause = min(0.2, pause * 1.5)


def _exhausted(conn: my.MyConn, status: dict[str, Any]) -> bool:
    """Has the SQL thread read the whole relay log, with no worker still applying a
    transaction (a long one keeps the position still without being stuck)?"""
    if "waiting for more" not in my.text_of(status.get("Slave_SQL_Running_State") or ""):
        return False
    busy = conn.scalar(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_worker'"
        " AND COALESCE(STATE, '') NOT LIKE 'Waiting for work%'"
    )
    return int(busy or 0) == 0


def _check_stop(conn: my.MyConn, status: dict[str, Any], goal: Goal) -> None:
    """The SQL thread met no error, passed the end of the last transaction to replay, and
    applied exactly the last GTID of every domain (the copy ends at the stop: nothing past
    it can have run)."""
    error = my.text_of(status.get("Last_SQL_Error") or "")
    if int(status.get("Last_SQL_Errno") or 0) or error:
        raise RecoveryIncomplete(f"binlog replay failed: {error or status.get('Last_SQL_Errno')}")
    if _position(status) < goal.end:
        at = f"{my.text_of(status.get('Relay_Log_File') or '?')}:{_position(status)[1]}"
        raise RecoveryIncomplete(f"binlog replay stopped at {at}, short of {goal.label}")
    applied = _applied(conn)
    wrong = [
        f"{applied.get(d, 'none')} instead of {g}"
        for d, g in goal.gtids.items()
        if applied.get(d) != g
    ]
    if wrong:
        raise RecoveryIncomplete(f"binlog replay did not end at the target: {'; '.join(wrong)}")
