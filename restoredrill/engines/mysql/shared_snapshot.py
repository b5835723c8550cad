"""Several connections on one MariaDB snapshot, where it can be proven.

MariaDB has no ``pg_export_snapshot``: each connection's ``START TRANSACTION WITH CONSISTENT
SNAPSHOT`` sees what was committed when it ran. Two such snapshots see the same data if no
transaction committed between them, and that can be checked without a lock:

- InnoDB writes redo for every read-write commit, so the redo log sequence number
  (``Innodb_lsn_current``) read before the first snapshot and after the last one is unchanged
  only if nothing committed in between (purge and other background redo only make it differ:
  the helper then drops out, never the other way round);
- with the binlog on, MariaDB takes the snapshot under the commit-order lock, and
  ``binlog_snapshot_file/position`` says exactly which binlogged commits it holds: both must be
  equal too.

A connection whose snapshot does not match does not join (``FanOut`` carries on without it):
a busy production fingerprints on one connection as before, a restored sandbox — nobody
writes to it — on several. MySQL, which reports neither, never shares.
"""

from __future__ import annotations

from restoredrill.engines.mysql import positions
from restoredrill.engines.mysql.driver import pymysql
from restoredrill.engines.mysql.session import MyConn

_PREFIX = "innodb-lsn:"


def redo_lsn(conn: MyConn) -> int | None:
    """The server's current InnoDB log sequence number, or None where it is not reported."""
    if not conn.mariadb:
        return None
    found = conn.rows("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'")
    value = str(found[0][1]) if found else ""
    return int(value) if value.isdigit() else None


def before_snapshot(conn: MyConn) -> None:
    """Called just before the connection's snapshot starts: the LSN a helper must still see."""
    conn.lsn_before_snapshot = redo_lsn(conn)


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
