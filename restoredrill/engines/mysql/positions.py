"""MariaDB / MySQL positions and identity: binlog FILE:POS as one comparable integer, where a
restored sandbox stopped replaying, and which server a connection reached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from restoredrill.engines.mysql.catalog import META_SCHEMA, META_TABLE
from restoredrill.engines.mysql.driver import pymysql
from restoredrill.engines.mysql.session import MyConn, int_or_none, quote_ident, text_of
from restoredrill.models import ServerIdentity

_POS_SHIFT = 32
# --- positions -------------------------------------------------------------------------------


def binlog_seq(name: str) -> int:
    suffix = name.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def encode_position(file: str, pos: int) -> int:
    """A comparable integer for binlog FILE:POS (file sequence number, then offset)."""
    return (binlog_seq(file) << _POS_SHIFT) | (pos & ((1 << _POS_SHIFT) - 1))


def format_position(value: int) -> str:
    return f"binlog {value >> _POS_SHIFT:06d}:{value & ((1 << _POS_SHIFT) - 1)}"


def master_status(conn: MyConn) -> tuple[str, int] | None:
    try:
        rows = conn.rows("SHOW MASTER STATUS")
    except pymysql.err.MySQLError:
        try:
            rows = conn.rows("SHOW BINARY LOG STATUS")  # MySQL 8.4+
        except pymysql.err.MySQLError:
            return None
    if not rows or rows[0][0] is None:
        return None
    return text_of(rows[0][0]), int(rows[0][1])


@dataclass(frozen=True)
class RestoredPoint:
    """What a restored sandbox recorded about its replay (``restoredrill_sandbox``)."""

    source_server_id: int | None
    binlog_file: str | None
    binlog_pos: int | None
    gtid: str | None
    last_event_time: datetime | None

    @property
    def position(self) -> int | None:
        if self.binlog_file is None or self.binlog_pos is None:
            return None
        return encode_position(self.binlog_file, self.binlog_pos)


def restored_point(conn: MyConn) -> RestoredPoint | None:
    try:
        rows = conn.rows(
            "SELECT source_server_id, binlog_file, binlog_pos, gtid, last_event_time"
            f" FROM {quote_ident(META_SCHEMA)}.{quote_ident(META_TABLE)} LIMIT 1"
        )
    except pymysql.err.MySQLError:
        return None
    if not rows:
        return None
    r = rows[0]
    moment = r[4].replace(tzinfo=UTC) if isinstance(r[4], datetime) else None
    return RestoredPoint(
        source_server_id=int_or_none(r[0]),
        binlog_file=None if r[1] is None else text_of(r[1]),
        binlog_pos=int_or_none(r[2]),
        gtid=None if r[3] is None else text_of(r[3]),
        last_event_time=moment,
    )


def lineage_id(conn: MyConn) -> int | None:
    """PostgreSQL's system identifier, MariaDB-style: a restored sandbox reports the server id
    of the production its binlogs came from; any other server its own @@server_id."""
    point = restored_point(conn)
    if point is not None:
        return point.source_server_id
    value = conn.scalar("SELECT @@server_id")
    return None if value is None else int(value)


def start_time(conn: MyConn) -> datetime | None:
    """When the server started: UNIX_TIMESTAMP() - Uptime, both read at the same query start
    (MariaDB computes Uptime from the statement's start time), so the value is stable."""
    source = (
        "information_schema.GLOBAL_STATUS" if conn.mariadb else "performance_schema.global_status"
    )
    value = conn.scalar(
        f"SELECT UNIX_TIMESTAMP() - (SELECT VARIABLE_VALUE FROM {source}"
        " WHERE VARIABLE_NAME = 'UPTIME')"
    )
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def snapshot_position(conn: MyConn) -> str | None:
    """Inside a snapshot, where it stands in the binlog (``file:pos``): MariaDB's
    binlog_snapshot_file/position are exactly the snapshot's; MySQL has no such status, so
    its current position is an approximation."""
    if conn.mariadb:
        rows = dict(
            (str(r[0]).lower(), str(r[1]))
            for r in conn.rows("SHOW STATUS LIKE 'binlog_snapshot_%'")
        )
        file, pos = rows.get("binlog_snapshot_file"), rows.get("binlog_snapshot_position")
        return f"{file}:{pos}" if file and pos and pos.isdigit() else None
    status = master_status(conn)
    return None if status is None else f"{status[0]}:{status[1]}"


def server_identity(conn: MyConn, label: str) -> ServerIdentity:
    """The running server: the lineage id (production's @@server_id; a restored sandbox
    reports its source's) plus start time, port, host and data directory (and MySQL's
    @@server_uuid) — a restored sandbox differs from production in all of the latter."""
    row = conn.rows("SELECT DATABASE(), @@port, @@hostname, @@datadir, @@version")[0]
    place = f"{row[2]}:{row[3]}"
    if not conn.mariadb:
        place += f" uuid {conn.scalar('SELECT @@server_uuid')}"
    return ServerIdentity(
        label=label,
        database=str(row[0] or ""),
        system_identifier=lineage_id(conn),
        postmaster_start_time=start_time(conn),
        port=None if row[1] is None else int(row[1]),
        data_directory=place,
        server_version=str(row[4]),
    )
