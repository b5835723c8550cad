"""MariaDB / MySQL as an ``Engine`` (engines/base.py), over ``mysql.py`` and ``mysql_diff.py``.

Statements are complete SQL strings (``mysql_diff.RowInserts`` for a batch of guarded
single-row inserts). MySQL keeps a transaction going after a failed statement, so a
per-table "savepoint" needs nothing; a REPEATABLE READ snapshot is ``START TRANSACTION WITH
CONSISTENT SNAPSHOT, READ ONLY``; a running query is cancelled with KILL QUERY from a second
connection. Reapply writes row by row (no ``staging()``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

import pymysql

from restoredrill.engines.base import ReplayEnd
from restoredrill.engines.mysql import catalog as my
from restoredrill.engines.mysql import dense, triggers
from restoredrill.engines.mysql import diff_sql as dialect
from restoredrill.engines.mysql.catalog import MyConn
from restoredrill.engines.names import TableName
from restoredrill.engines.triggers import Trigger
from restoredrill.errors import ConfigError
from restoredrill.models import RowValues, ServerIdentity, TableFingerprint


class MySQLEngine:
    errors: tuple[type[Exception], ...] = (pymysql.err.MySQLError,)
    archive_schema = my.ARCHIVE_SCHEMA
    max_ranges_per_statement = dialect.MAX_RANGES_PER_STATEMENT
    checksum_algorithm = my.CHECKSUM_ALGORITHM

    def __init__(self, name: str = "mysql") -> None:
        self.name = name
        self.mariadb = True  # refined by connect(): which server the last connection reached

    # --- connections and transactions ---

    def connect(self, dsn: str, read_only: bool) -> MyConn:
        conn = my.connect(dsn, read_only=read_only)
        self.mariadb = conn.mariadb
        return conn

    def close(self, conn: MyConn) -> None:
        conn.close()

    def pin_session(self, conn: MyConn) -> None:
        my.pin_session(conn)

    def allow_parallel(self, conn: MyConn) -> None:
        pass  # no parallel query

    def limit_session(self, conn: MyConn, lock_seconds: float, statement_seconds: float) -> None:
        my.limit_session(conn, lock_seconds, statement_seconds)

    def timeout_kind(self, exc: BaseException) -> Literal["lock", "statement"] | None:
        return my.timeout_kind(exc)

    def pin_for_writes(self, conn: MyConn) -> None:
        my.pin_session(conn)

    @contextlib.contextmanager
    def snapshot(self, conn: MyConn) -> Iterator[None]:
        conn.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.run("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            yield
        except KeyboardInterrupt:
            self._abandon(conn)
            raise
        except BaseException:
            with contextlib.suppress(pymysql.err.MySQLError):
                conn.run("ROLLBACK")
            raise
        conn.run("COMMIT")

    def _abandon(self, conn: MyConn) -> None:
        """After Ctrl-C/SIGTERM the connection may be cut mid-statement and cannot be trusted
        to answer a ROLLBACK in order: stop the statement and disconnect (the server rolls
        the transaction back)."""
        with contextlib.suppress(Exception):
            self.cancel(conn)
        with contextlib.suppress(Exception):
            conn.close()

    def savepoint(self, conn: MyConn) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def export_snapshot(self, conn: MyConn) -> str | None:
        return None  # no way to share a consistent snapshot between connections

    def join_snapshot(self, conn: MyConn, token: str) -> None:
        raise NotImplementedError("MariaDB/MySQL cannot import a snapshot")

    @contextlib.contextmanager
    def transaction(self, conn: MyConn) -> Iterator[None]:
        conn.run("START TRANSACTION")
        try:
            yield
        except KeyboardInterrupt:
            self._abandon(conn)
            raise
        except BaseException:
            with contextlib.suppress(pymysql.err.MySQLError):
                conn.run("ROLLBACK")
            raise
        conn.run("COMMIT")

    def broken(self, conn: MyConn) -> bool:
        return not conn.raw.open

    def cancel(self, conn: MyConn) -> None:
        """KILL QUERY the connection's running statement, from a second connection."""
        other = pymysql.connect(**conn.dsn.connect_kwargs(), connect_timeout=5)
        try:
            with other.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(conn.raw.thread_id())}")  # type: ignore[no-untyped-call]
        finally:
            other.close()

    def fetchall(self, conn: MyConn, statement: Any, params: Sequence[Any]) -> list[Any]:
        rows = conn.rows(str(statement))
        return [tuple(v.decode() if isinstance(v, bytes) else v for v in row) for row in rows]

    def execute(self, conn: MyConn, statement: Any) -> None:
        if isinstance(statement, dialect.RowInserts):
            for one in statement.statements:
                conn.run(one)
        else:
            conn.run(str(statement))

    def render(self, conn: MyConn, statement: Any) -> str:
        if isinstance(statement, dialect.RowInserts):
            return ";\n".join(statement.statements)
        return str(statement)

    def one_line(self, exc: BaseException) -> str:
        return my.one_line(exc)

    def database_of(self, dsn: str) -> str | None:
        return my.parse_dsn(dsn).database

    # --- tables and fingerprints ---

    def list_tables(self, conn: MyConn) -> list[TableName]:
        return my.list_tables(conn)

    def resolve_table(self, spec: str, known: set[str]) -> str:
        return my.resolve_table(spec, known)

    def table_columns(self, conn: MyConn, table: TableName) -> list[str]:
        return [c.name for c in my.column_info(conn, table)]

    def as_of_predicate(self, conn: MyConn, column: str, as_of: datetime) -> tuple[str, str]:
        where = my.as_of_predicate(column, as_of)
        return where, where

    def fingerprint(self, conn: MyConn, table: TableName, where: Any = None) -> TableFingerprint:
        return my.fingerprint(conn, table, where)

    # --- positions and identity ---

    def system_identifier(self, conn: MyConn) -> int | None:
        return my.lineage_id(conn)

    def wal_position(self, conn: MyConn) -> int | None:
        status = my.master_status(conn)
        return None if status is None else my.encode_position(*status)

    def replay_end(self, conn: MyConn) -> ReplayEnd:
        point = my.restored_point(conn)
        if point is None:
            return ReplayEnd(lsn=None, xact_time=None)
        return ReplayEnd(lsn=point.position, xact_time=point.last_event_time)

    def format_position(self, position: int) -> str:
        return my.format_position(position)

    def snapshot_position(self, conn: MyConn) -> tuple[int | None, str | None]:
        """Inside the snapshot: MariaDB's binlog_snapshot_file/position are exactly the
        snapshot's; MySQL has no such status, so its current position is an approximation."""
        if conn.mariadb:
            rows = dict(
                (str(r[0]).lower(), str(r[1]))
                for r in conn.rows("SHOW STATUS LIKE 'binlog_snapshot_%'")
            )
            file, pos = rows.get("binlog_snapshot_file"), rows.get("binlog_snapshot_position")
            if file and pos and pos.isdigit():
                return None, f"{file}:{pos}"
            return None, None
        status = my.master_status(conn)
        return None, None if status is None else f"{status[0]}:{status[1]}"

    def create_restore_point(self, conn: MyConn, name: str) -> int:
        raise ConfigError("MariaDB/MySQL have no named restore points")

    def restore_point_errors(self) -> tuple[type[Exception], ...]:
        return (pymysql.err.OperationalError,)

    def server_identity(self, conn: MyConn, label: str) -> ServerIdentity:
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
            system_identifier=my.lineage_id(conn),
            postmaster_start_time=my.start_time(conn),
            port=None if row[1] is None else int(row[1]),
            data_directory=place,
            server_version=str(row[4]),
        )

    # --- diff ---

    def column_info(self, conn: MyConn, table: TableName) -> list[my.ColumnInfo]:
        return my.column_info(conn, table)

    def key_columns(self, conn: MyConn, table: TableName) -> tuple[str, ...] | None:
        return dialect.key_columns(conn, table)

    def has_key_index(self, conn: MyConn, table: TableName, key: Sequence[str]) -> bool:
        return dialect.has_key_index(conn, table, key)

    def estimate_rows(self, conn: MyConn, table: TableName) -> int | None:
        return dialect.estimate_rows(conn, table)

    def count_query(self, table: TableName, where: Any) -> str:
        condition = "TRUE" if where is None else f"({where})"
        return f"SELECT COUNT(*) FROM {my.quote_table(table)} AS r WHERE {condition}"

    def where_sql(self, where: str | None) -> str | None:
        """The user's --where, as written (trusted input, like the DSN)."""
        return None if where is None or not where.strip() else where

    def where_probe(self, table: TableName, where: str) -> str:
        return f"SELECT 1 FROM {my.quote_table(table)} AS r WHERE ({where}) LIMIT 0"

    def checksum_query(
        self,
        table: TableName,
        key: Sequence[Any],
        compared: Sequence[Any],
        where: Any,
        ranges: Sequence[Any],
    ) -> tuple[Any, list[Any]]:
        return dialect.checksum_query(table, key, compared, where, ranges)

    def boundaries_query(
        self,
        table: TableName,
        key: Sequence[Any],
        where: Any,
        ranges: Sequence[Any],
        steps: Sequence[int],
    ) -> tuple[Any, list[Any]]:
        return dialect.boundaries_query(table, key, where, ranges, steps)

    def fetch_query(
        self,
        table: TableName,
        key: Sequence[Any],
        columns: Sequence[Any],
        where: Any,
        ranges: Sequence[Any],
    ) -> tuple[Any, list[Any]]:
        return dialect.fetch_query(table, key, columns, where, ranges)

    def diff_session(self, conn: MyConn) -> None:
        # a dense range's listing is one GROUP_CONCAT per range (mysql_dense.py): never cut
        conn.run("SET SESSION group_concat_max_len = 1073741824")

    def hash_list_query(
        self,
        table: TableName,
        key: Sequence[Any],
        compared: Sequence[Any],
        where: Any,
        ranges: Sequence[Any],
    ) -> tuple[Any, list[Any]]:
        return dense.hash_list_query(table, key, compared, where, ranges)

    def rows_by_keys_query(
        self,
        table: TableName,
        key: Sequence[Any],
        columns: Sequence[Any],
        keys: Sequence[tuple[str, ...]],
    ) -> tuple[Any, list[Any]]:
        return dense.rows_by_keys_query(table, key, columns, keys)

    # --- reapply ---

    def is_unique_key(self, conn: MyConn, table: TableName, key: Sequence[str]) -> bool:
        return dialect.is_unique_key(conn, table, key)

    def referenced_tables(self, conn: MyConn, table: TableName) -> set[TableName]:
        return dialect.referenced_tables(conn, table)

    def always_generated_identity(self, column: Any) -> bool:
        return False  # AUTO_INCREMENT takes explicit values

    def filter_query(
        self, columns: Sequence[Any], rows: Sequence[RowValues], where: str
    ) -> tuple[Any, list[Any]]:
        return dialect.filter_query(columns, rows, where)

    def lock_and_read(
        self,
        table: TableName,
        key: Sequence[str],
        compared: Sequence[str],
        keys: Sequence[RowValues],
        for_update: bool,
        columns: Sequence[Any],
    ) -> str:
        return dialect.lock_and_read(table, key, compared, keys, for_update, columns)

    def archive_table_name(self, table: TableName, stamp: str) -> TableName:
        return dialect.archive_table_name(table, stamp)

    def create_archive(self, table: TableName, archive: TableName) -> list[Any]:
        return list(dialect.create_archive(table, archive))

    def archive_row(
        self,
        table: TableName,
        archive: TableName,
        all_columns: Sequence[str],
        key: Sequence[str],
        compared: Sequence[str],
        row_key: RowValues,
        guard_values: RowValues,
        columns: Sequence[Any],
    ) -> str:
        return dialect.archive_row(
            table, archive, all_columns, key, compared, row_key, guard_values, columns
        )

    def revert_row(
        self,
        table: TableName,
        key: Sequence[str],
        compared: Sequence[str],
        set_columns: Sequence[str],
        restored: RowValues,
        guard_values: RowValues,
        columns: Sequence[Any],
    ) -> str:
        return dialect.revert_row(
            table, key, compared, set_columns, restored, guard_values, columns
        )

    def insert_rows(
        self,
        table: TableName,
        key: Sequence[str],
        columns: Sequence[str],
        rows: Sequence[RowValues],
        overriding: bool,
        infos: Sequence[Any],
    ) -> dialect.RowInserts:
        return dialect.insert_rows(table, key, columns, rows, infos)

    def batch_settings(self, lock_timeout: str, statement_timeout: str) -> list[Any]:
        return list(dialect.batch_settings(lock_timeout, statement_timeout, self.mariadb))

    def session_settings(self) -> list[Any]:
        return dialect.session_settings()

    def apply_batch(
        self, conn: MyConn, writes: Sequence[tuple[int, Any, Any]], insert: Any
    ) -> tuple[set[int], set[tuple[str | None, ...]]]:
        """Archive + guarded UPDATE per changed row, one guarded INSERT per lost row: the
        changed rows an UPDATE matched, the keys an INSERT inserted (no staging(): per row)."""
        updated: set[int] = set()
        for n, archive, update in writes:
            if archive is not None:
                conn.run(str(archive))
            if conn.run(str(update)) == 1:
                updated.add(n)
        inserted: set[tuple[str | None, ...]] = set()
        if isinstance(insert, dialect.RowInserts):
            for statement, key in zip(insert.statements, insert.keys, strict=True):
                if conn.run(statement) == 1:
                    inserted.add(key)
        return updated, inserted

    def staging(self, conn: MyConn) -> None:
        return None

    # --- reapply: triggers and foreign keys ---

    def row_triggers(self, conn: MyConn, table: TableName) -> list[Trigger]:
        return triggers.row_triggers(conn, table)

    def may_skip_triggers(self, conn: MyConn) -> bool:
        return False  # no session switch keeps a trigger from firing

    def skip_triggers(self) -> list[Any]:
        return []

    def stamp_columns(self, conn: MyConn, table: TableName) -> list[str]:
        return triggers.stamp_columns(conn, table)

    def rewrite_row(
        self,
        table: TableName,
        key: Sequence[str],
        set_columns: Sequence[str],
        restored: RowValues,
        columns: Sequence[Any],
    ) -> str:
        return dialect.revert_row(table, key, [], set_columns, restored, restored, columns)

    def missing_parents(
        self, conn: MyConn, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[str]:
        return []  # the constraints always fire

    def parent_checks(
        self, conn: MyConn, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[Any]:
        return []

    def foreign_key_violation(self, conn: MyConn, exc: BaseException) -> str | None:
        return triggers.violation(exc)
