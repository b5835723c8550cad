"""Several connections on one MariaDB snapshot, where it can be proven.

MariaDB has no ``pg_export_snapshot``: each connection's ``START TRANSACTION WITH CONSISTENT
SNAPSHOT`` sees what was committed when it ran. Two such snapshots see the same data if no
transaction became visible between them, and that can be checked without a lock:

- InnoDB writes redo for every read-write commit, so a redo log sequence number
  (``Innodb_lsn_current``) read before the first snapshot and unchanged after the last one
  means no commit wrote in between (purge and other background redo only make it differ: the
  helper then drops out, never the other way round);
- a commit whose redo was written just before that first read becomes visible a moment later;
  it is still listed in ``information_schema.INNODB_TRX`` then, so no read-write transaction
  may be open when the first snapshot starts (reading that list needs PROCESS: without it,
  nothing is shared; a list not refreshed since before the check began proves nothing);
- with the binlog on, the snapshots' ``binlog_snapshot_file/position`` must be equal too.

A connection whose snapshot does not match does not join (``FanOut`` carries on without it):
a busy production fingerprints on one connection as before, a restored sandbox — nobody
writes to it — on several. MySQL, which reports none of this, never shares.
"""

from __future__ import annotations

import time

from restoredrill.engines.mysql import positions
from restoredrill.engines.mysql.driver import pymysql
from restoredrill.engines.mysql.session import MyConn

_PREFIX = "innodb-lsn:"
_CACHE_IDLE = 0.15  # s: longer than the 0.1 s InnoDB keeps INNODB_TRX's cache unrefreshed


def redo_lsn(conn: MyConn) -> int | None:
    """The server's current InnoDB log sequence number, or None where it is not reported."""
    if not conn.mariadb:
        return None
    found = conn.rows("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'")
    value = str(found[0][1]) if found else ""
    return int(value) if value.isdigit() else None


def _writers_open(conn: MyConn) -> bool:
    """Whether any read-write transaction is open (or mid-commit); True when it cannot tell.

    INNODB_TRX is a cache InnoDB refreshes only when nobody read it in the last 0.1 s: a
    monitor polling it faster serves one old list for ever (one open writer went unseen for
    two minutes in a test). So a transaction of our own is started first and must be in the
    list, else the list is older than it and proves nothing; read again once after 0.15 s
    of nobody reading it (an occasional reader), then give up."""
    for attempt in range(2):
        if attempt:
            time.sleep(_CACHE_IDLE)
        try:
            conn.run("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            try:
                found = conn.rows(
                    "SELECT trx_mysql_thread_id = CONNECTION_ID(), trx_is_read_only"
                    " FROM information_schema.INNODB_TRX"
                )
            finally:
                conn.run("ROLLBACK")
        except pymysql.err.MySQLError:  # no PROCESS privilege
            return True
        if any(int(own) for own, _ in found):
            return any(not int(own) and not int(read_only) for own, read_only in found)
    return True


def before_snapshot(conn: MyConn) -> None:
    """Called just before the connection's snapshot starts: the LSN a helper must still see
    (None: nothing may share this snapshot)."""
    lsn = redo_lsn(conn)
    # read the LSN first: a writer that opens after it moves the LSN before it can commit
    conn.lsn_before_snapshot = None if lsn is None or _writers_open(conn) else lsn


def export_token(conn: MyConn) -> str | None:
    """Inside the main connection's snapshot: what a helper's snapshot must match."""
    lsn = conn.lsn_before_snapshot
    if lsn is None:
        return None
    return f"{_PREFIX}{lsn}|{positions.snapshot_position(conn) or ''}"


def join(conn: MyConn, token: str) -> None:
    """Inside a helper's snapshot (started after the main one's): raise unless it holds the
    very same commits."""
    mine = f"{_PREFIX}{redo_lsn(conn)}|{positions.snapshot_position(conn) or ''}"
    if mine != token:
        raise pymysql.err.OperationalError(
            0, "the database changed between the snapshots: this connection cannot share it"
        )
