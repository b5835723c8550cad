"""MariaDB / MySQL as an ``Engine`` (engines/base.py): the role protocols bound to this
package's modules (session, catalog, columns, fingerprint, positions, diff and reapply SQL,
triggers). Functions whose signature is already the protocol's are bound as they are.

Statements are complete SQL strings (``reapply_sql.RowInserts`` for a batch of guarded
single-row inserts). MySQL keeps a transaction going after a failed statement, so a
per-table "savepoint" needs nothing; connections share a snapshot only where nothing
committed between them (shared_snapshot.py). Reapply writes by set on MariaDB 10.5+ with
LOAD DATA LOCAL allowed (``staging.MariaDBStager``), row by row elsewhere (MySQL: no
INSERT ... RETURNING)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from restoredrill.engines.base import Diffing, Engine, Reapplying, ReplayEnd, Write
from restoredrill.engines.driver import Statement
from restoredrill.engines.folded_sums import add_fingerprints
from restoredrill.engines.mysql import (
    catalog,
    columns,
    dense,
    diff_ranges,
    keys,
    positions,
    shared_snapshot,
    staging,
    triggers,
)
from restoredrill.engines.mysql import fingerprint as fp
from restoredrill.engines.mysql import reapply_sql as dialect
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.columns import ColumnInfo
from restoredrill.engines.mysql.driver import pymysql
from restoredrill.engines.mysql.session import MyConn
from restoredrill.engines.mysql.staging import MariaDBStager
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError
from restoredrill.models import RowValues


class MySQLEngine:
    errors: tuple[type[Exception], ...] = (pymysql.err.MySQLError,)
    archive_schema = catalog.ARCHIVE_SCHEMA
    max_ranges_per_statement = diff_ranges.MAX_RANGES_PER_STATEMENT
    checksum_algorithm = fp.CHECKSUM_ALGORITHM

    def __init__(self, name: str = "mysql") -> None:
        self.name = name
        self.mariadb = True  # refined by connect(): which server the last connection reached

    # --- session, transactions ---

    pin_session = staticmethod(my.pin_session)
    pin_for_writes = staticmethod(my.pin_session)
    limit_session = staticmethod(my.limit_session)
    timeout_kind = staticmethod(my.timeout_kind)
    one_line = staticmethod(my.one_line)
    cancel = staticmethod(my.cancel)
    transaction = staticmethod(my.transaction)

    def connect(self, dsn: str, read_only: bool) -> MyConn:
        conn = my.connect(dsn, read_only=read_only)
        self.mariadb = conn.mariadb
        return conn

    def close(self, conn: MyConn) -> None:
        conn.close()

    def allow_parallel(self, conn: MyConn) -> None:
        pass  # no parallel query

    def savepoint(self, conn: MyConn) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def snapshot(self, conn: MyConn) -> Iterator[None]:
        shared_snapshot.before_snapshot(conn)
        with my.snapshot(conn):
            yield

    # No snapshot import: a helper shares the main snapshot only if provably nothing
    # committed in between (shared_snapshot.py); otherwise it drops out.
    export_snapshot = staticmethod(shared_snapshot.export_token)
    join_snapshot = staticmethod(shared_snapshot.join)

    def broken(self, conn: MyConn) -> bool:
        return not conn.raw.open

    def fetchall(
        self, conn: MyConn, statement: Statement, params: list[Any]
    ) -> list[tuple[Any, ...]]:
        rows = conn.rows(str(statement))
        return [tuple(v.decode() if isinstance(v, bytes) else v for v in row) for row in rows]

    def execute(self, conn: MyConn, statement: Statement) -> None:
        if isinstance(statement, dialect.RowInserts):
            for one in statement.statements:
                conn.run(one)
        else:
            conn.run(str(statement))

    def render(self, conn: MyConn, statement: Statement) -> str:
        if isinstance(statement, dialect.RowInserts):
            return ";\n".join(statement.statements)
        return str(statement)

    def database_of(self, dsn: str) -> str | None:
        return my.parse_dsn(dsn).database

    # --- tables, fingerprints, positions ---

    list_tables = staticmethod(catalog.list_tables)
    resolve_table = staticmethod(catalog.resolve_table)
    fingerprint = staticmethod(fp.fingerprint)
    fingerprint_pieces = staticmethod(fp.fingerprint_pieces)
    add_fingerprints = staticmethod(add_fingerprints)
    system_identifier = staticmethod(positions.lineage_id)
    format_position = staticmethod(positions.format_position)
    server_identity = staticmethod(positions.server_identity)

    def table_columns(self, conn: MyConn, table: TableName) -> list[str]:
        return [c.name for c in columns.column_info(conn, table)]

    def as_of_predicate(self, conn: MyConn, column: str, as_of: datetime) -> tuple[str, str]:
        where = fp.as_of_predicate(column, as_of)
        return where, where

    def wal_position(self, conn: MyConn) -> int | None:
        status = positions.master_status(conn)
        return None if status is None else positions.encode_position(*status)

    def replay_end(self, conn: MyConn) -> ReplayEnd:
        point = positions.restored_point(conn)
        if point is None:
            return ReplayEnd(lsn=None, xact_time=None)
        return ReplayEnd(lsn=point.position, xact_time=point.last_event_time)

    def snapshot_position(self, conn: MyConn) -> tuple[int | None, str | None]:
        return None, positions.snapshot_position(conn)

    def create_restore_point(self, conn: MyConn, name: str) -> int:
        raise ConfigError("MariaDB/MySQL have no named restore points")

    def restore_point_errors(self) -> tuple[type[Exception], ...]:
        return (pymysql.err.OperationalError,)

    # --- diff ---

    column_info = staticmethod(columns.column_info)
    key_columns = staticmethod(keys.key_columns)
    has_key_index = staticmethod(keys.has_key_index)
    estimate_rows = staticmethod(keys.estimate_rows)
    checksum_query = staticmethod(diff_ranges.checksum_query)
    boundaries_query = staticmethod(diff_ranges.boundaries_query)
    fetch_query = staticmethod(diff_ranges.fetch_query)
    hash_list_query = staticmethod(dense.hash_list_query)
    rows_by_keys_query = staticmethod(dense.rows_by_keys_query)

    def count_query(self, table: TableName, where: str | None) -> str:
        condition = "TRUE" if where is None else f"({where})"
        return f"SELECT COUNT(*) FROM {my.quote_table(table)} AS r WHERE {condition}"

    def where_sql(self, where: str | None) -> str | None:
        """The user's --where, as written (trusted input, like the DSN)."""
        return None if where is None or not where.strip() else where

    def where_probe(self, table: TableName, where: str) -> str:
        return f"SELECT 1 FROM {my.quote_table(table)} AS r WHERE ({where}) LIMIT 0"

    def diff_session(self, conn: MyConn) -> None:
        # a dense range's listing is one GROUP_CONCAT per range (dense.py): never cut
        conn.run("SET SESSION group_concat_max_len = 1073741824")

    # --- reapply ---

    is_unique_key = staticmethod(keys.is_unique_key)
    filter_query = staticmethod(dialect.filter_query)
    lock_and_read = staticmethod(dialect.lock_and_read)
    archive_table_name = staticmethod(dialect.archive_table_name)
    create_archive = staticmethod(dialect.create_archive)
    archive_row = staticmethod(dialect.archive_row)
    revert_row = staticmethod(dialect.revert_row)
    rewrite_row = staticmethod(dialect.rewrite_row)
    insert_rows = staticmethod(dialect.insert_rows)
    session_settings = staticmethod(dialect.session_settings)

    def always_generated_identity(self, column: ColumnInfo) -> bool:
        return False  # AUTO_INCREMENT takes explicit values

    def batch_settings(self, lock_timeout: str, statement_timeout: str) -> list[str]:
        return dialect.batch_settings(lock_timeout, statement_timeout, self.mariadb)

    def apply_batch(
        self, conn: MyConn, writes: Sequence[Write], insert: Statement
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

    def staging(self, conn: MyConn) -> MariaDBStager | None:
        return MariaDBStager() if staging.may_stage(conn) else None

    # --- reapply: triggers and foreign keys ---

    referenced_tables = staticmethod(keys.referenced_tables)
    row_triggers = staticmethod(triggers.row_triggers)
    stamp_columns = staticmethod(triggers.stamp_columns)

    def may_skip_triggers(self, conn: MyConn) -> bool:
        return False  # no session switch keeps a trigger from firing

    def skip_triggers(self) -> list[Statement]:
        return []

    def missing_parents(
        self, conn: MyConn, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[str]:
        return []  # the constraints always fire

    def parent_checks(
        self, conn: MyConn, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[Statement]:
        return []

    def foreign_key_violation(self, conn: MyConn, exc: BaseException) -> str | None:
        return triggers.violation(exc)


if TYPE_CHECKING:  # the class implements every role, with its own column type
    _engine: Engine = MySQLEngine()
    _diffing: Diffing[ColumnInfo] = MySQLEngine()
    _reapplying: Reapplying[ColumnInfo] = MySQLEngine()
