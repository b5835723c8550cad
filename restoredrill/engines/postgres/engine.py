"""PostgreSQL as an ``Engine`` (engines/base.py): a thin adapter over ``postgres.py`` (catalog,
fingerprints, positions) and ``postgres_diff.py`` (diff and reapply SQL) plus psycopg's
connection and transaction handling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.conninfo import conninfo_to_dict

from restoredrill import dsn as dsnlib
from restoredrill.engines.base import ReplayEnd
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres import constraints, dense, triggers
from restoredrill.engines.postgres import diff_sql as dialect
from restoredrill.engines.postgres import fingerprint as pgfp
from restoredrill.engines.postgres import staging as stage
from restoredrill.engines.triggers import Trigger
from restoredrill.lsn import format_lsn
from restoredrill.models import RowValues, ServerIdentity, TableFingerprint


class PostgresEngine:
    name = "postgres"
    errors: tuple[type[Exception], ...] = (psycopg.Error,)
    archive_schema = dialect.ARCHIVE_SCHEMA
    max_ranges_per_statement = 1 << 30  # unnest() takes any number of ranges
    checksum_algorithm = pgfp.ALGORITHM

    # --- connections and transactions ---

    def connect(self, dsn: str, read_only: bool) -> pg.Connection:
        return dsnlib.connect(dsn, read_only=read_only, autocommit=True)

    def close(self, conn: pg.Connection) -> None:
        conn.close()

    def pin_session(self, conn: pg.Connection) -> None:
        pg.pin_session(conn)

    def allow_parallel(self, conn: pg.Connection) -> None:
        """At least two parallel workers per scan in this session (a restored copy keeps
        production's postgresql.conf, which may have turned parallel query off)."""
        conn.execute(
            "SELECT pg_catalog.set_config('max_parallel_workers_per_gather',"
            " GREATEST(pg_catalog.current_setting('max_parallel_workers_per_gather')::int,"
            " 2)::text, false)"
        )

    def limit_session(
        self, conn: pg.Connection, lock_seconds: float, statement_seconds: float
    ) -> None:
        pg.limit_session(conn, lock_seconds, statement_seconds)

    def timeout_kind(self, exc: BaseException) -> Literal["lock", "statement"] | None:
        return pg.timeout_kind(exc)

    def pin_for_writes(self, conn: pg.Connection) -> None:
        dialect.pin_for_writes(conn)

    @contextlib.contextmanager
    def snapshot(self, conn: pg.Connection) -> Iterator[None]:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield

    def savepoint(self, conn: pg.Connection) -> contextlib.AbstractContextManager[Any]:
        return conn.transaction()

    def export_snapshot(self, conn: pg.Connection) -> str | None:
        """Inside ``snapshot``: a token other connections' ``join_snapshot`` can import."""
        row = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
        return None if row is None else str(row[0])

    def join_snapshot(self, conn: pg.Connection, token: str) -> None:
        """First statement inside ``snapshot``: see exactly the exporting transaction's data."""
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(token)))

    def transaction(self, conn: pg.Connection) -> contextlib.AbstractContextManager[Any]:
        return conn.transaction()

    def broken(self, conn: pg.Connection) -> bool:
        return bool(conn.broken or conn.closed)

    def cancel(self, conn: pg.Connection) -> None:
        conn.cancel_safe(timeout=5)

    def fetchall(self, conn: pg.Connection, statement: Any, params: Sequence[Any]) -> list[Any]:
        return list(conn.execute(statement, list(params)).fetchall())

    def execute(self, conn: pg.Connection, statement: Any) -> None:
        conn.execute(statement)

    def render(self, conn: pg.Connection, statement: Any) -> str:
        return str(statement.as_string(conn))

    def one_line(self, exc: BaseException) -> str:
        return dialect.one_line(exc)

    def database_of(self, dsn: str) -> str | None:
        try:
            value = conninfo_to_dict(dsn).get("dbname")
        except psycopg.ProgrammingError:
            return None
        return None if value is None else str(value)

    # --- tables and fingerprints ---

    def list_tables(self, conn: pg.Connection) -> list[TableName]:
        return pg.list_tables(conn)

    def resolve_table(self, spec: str, known: set[str]) -> str:
        return pg.resolve_table(spec, known)

    def table_columns(self, conn: pg.Connection, table: TableName) -> list[str]:
        return pg.table_columns(conn, table)

    def as_of_predicate(
        self, conn: pg.Connection, column: str, as_of: datetime
    ) -> tuple[sql.Composed, str]:
        where = pg.as_of_predicate(column, as_of)
        return where, where.as_string(conn)

    def fingerprint(
        self, conn: pg.Connection, table: TableName, where: Any = None
    ) -> TableFingerprint:
        return pg.fingerprint(conn, table, where)

    # --- positions and identity ---

    def system_identifier(self, conn: pg.Connection) -> int | None:
        return pg.system_identifier(conn)

    def wal_position(self, conn: pg.Connection) -> int | None:
        return pg.wal_position(conn)

    def replay_end(self, conn: pg.Connection) -> ReplayEnd:
        end = pg.replay_end(conn)
        return ReplayEnd(lsn=end.lsn, xact_time=end.xact_time)

    def format_position(self, position: int) -> str:
        return format_lsn(position)

    def snapshot_position(self, conn: pg.Connection) -> tuple[int | None, str | None]:
        return pg.wal_position(conn), None

    def create_restore_point(self, conn: pg.Connection, name: str) -> int:
        return pg.create_restore_point(conn, name)

    def restore_point_errors(self) -> tuple[type[Exception], ...]:
        return (
            psycopg.errors.InsufficientPrivilege,
            psycopg.errors.ObjectNotInPrerequisiteState,
            psycopg.errors.InvalidParameterValue,
        )

    def server_identity(self, conn: pg.Connection, label: str) -> ServerIdentity:
        return dialect.server_identity(conn, label)

    # --- diff ---

    def column_info(self, conn: pg.Connection, table: TableName) -> list[dialect.ColumnInfo]:
        return dialect.column_info(conn, table)

    def key_columns(self, conn: pg.Connection, table: TableName) -> tuple[str, ...] | None:
        return dialect.key_columns(conn, table)

    def has_key_index(self, conn: pg.Connection, table: TableName, key: Sequence[str]) -> bool:
        return dialect.has_key_index(conn, table, key)

    def estimate_rows(self, conn: pg.Connection, table: TableName) -> int | None:
        return dialect.estimate_rows(conn, table)

    def count_query(self, table: TableName, where: Any) -> sql.Composed:
        return sql.SQL("SELECT count(*) FROM {} AS r WHERE {}").format(
            table.identifier(), where if where is not None else sql.SQL("TRUE")
        )

    def where_sql(self, where: str | None) -> sql.Composable | None:
        """The user's --where as SQL (trusted input, like the DSN). '%' is doubled because the
        statements it goes into also carry placeholders."""
        if where is None or not where.strip():
            return None
        return sql.SQL(where.replace("%", "%%"))

    def where_probe(self, table: TableName, where: str) -> sql.Composed:
        # run with a (empty) parameter list, like every diff statement: '%' doubled
        return sql.SQL("SELECT 1 FROM {} AS r WHERE ({}) LIMIT 0").format(
            table.identifier(), sql.SQL(where.replace("%", "%%"))
        )

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

    def diff_session(self, conn: pg.Connection) -> None:
        # a diff runs ~100 short statements whose row estimates look big: compiling each
        # one (JIT) costs more than it saves
        conn.execute("SELECT pg_catalog.set_config('jit', 'off', false)")

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

    def is_unique_key(self, conn: pg.Connection, table: TableName, key: Sequence[str]) -> bool:
        return dialect.is_unique_key(conn, table, key)

    def referenced_tables(self, conn: pg.Connection, table: TableName) -> set[TableName]:
        return constraints.referenced_tables(conn, table)

    def always_generated_identity(self, column: Any) -> bool:
        return bool(column.identity == "a")

    def filter_query(
        self, columns: Sequence[Any], rows: Sequence[RowValues], where: str
    ) -> tuple[Any, list[Any]]:
        return dialect.filter_query(columns, rows, sql.SQL(where.replace("%", "%%")))

    def lock_and_read(
        self,
        table: TableName,
        key: Sequence[str],
        compared: Sequence[str],
        keys: Sequence[RowValues],
        for_update: bool,
        columns: Sequence[Any],
    ) -> sql.Composed:
        return dialect.lock_and_read(table, key, compared, keys, for_update)

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
    ) -> sql.Composed:
        return dialect.archive_row(
            table, archive, all_columns, key, compared, row_key, guard_values
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
    ) -> sql.Composed:
        return dialect.revert_row(table, key, compared, set_columns, restored, guard_values)

    def insert_rows(
        self,
        table: TableName,
        key: Sequence[str],
        columns: Sequence[str],
        rows: Sequence[RowValues],
        overriding: bool,
        infos: Sequence[Any],
    ) -> sql.Composed:
        return dialect.insert_rows(table, key, columns, rows, overriding)

    def batch_settings(self, lock_timeout: str, statement_timeout: str) -> list[Any]:
        return list(dialect.batch_settings(lock_timeout, statement_timeout))

    def session_settings(self) -> list[Any]:
        return list(dialect.session_settings())

    def apply_batch(
        self, conn: pg.Connection, writes: Sequence[tuple[int, Any, Any]], insert: Any
    ) -> tuple[set[int], set[tuple[str | None, ...]]]:
        """Run a batch's archive/update/insert statements (pipelined). Returns the positions
        of the changed rows an UPDATE really changed, and the keys really inserted."""
        updates: list[tuple[int, psycopg.Cursor[Any]]] = []
        with conn.pipeline():
            for n, archive, update in writes:
                if archive is not None:
                    conn.execute(archive)
                updates.append((n, conn.execute(update)))
            cursor = conn.execute(insert) if insert is not None else None
        updated = {n for n, done in updates if done.rowcount == 1}
        if cursor is None:
            return updated, set()
        inserted = {tuple(None if v is None else str(v) for v in row) for row in cursor.fetchall()}
        return updated, inserted

    def staging(self, conn: pg.Connection) -> stage.PostgresStager | None:
        """Set-based batches need a temporary table: a role without TEMP on the database
        writes row by row, as before."""
        return stage.PostgresStager() if stage.may_stage(conn) else None

    # --- reapply: triggers and foreign keys ---

    def row_triggers(self, conn: pg.Connection, table: TableName) -> list[Trigger]:
        return triggers.row_triggers(conn, table)

    def may_skip_triggers(self, conn: pg.Connection) -> bool:
        return triggers.may_skip_triggers(conn)

    def skip_triggers(self) -> list[Any]:
        return list(triggers.skip_triggers())

    def stamp_columns(self, conn: pg.Connection, table: TableName) -> list[str]:
        return []  # PostgreSQL stamps only through triggers

    def rewrite_row(
        self,
        table: TableName,
        key: Sequence[str],
        set_columns: Sequence[str],
        restored: RowValues,
        columns: Sequence[Any],
    ) -> sql.Composed:
        return dialect.revert_row(table, key, [], set_columns, restored, restored)

    def missing_parents(
        self, conn: pg.Connection, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[str]:
        return constraints.missing_parents(conn, table, key, keys)

    def parent_checks(
        self, conn: pg.Connection, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[Any]:
        return list(constraints.parent_checks(conn, table, key, keys))

    def foreign_key_violation(self, conn: pg.Connection, exc: BaseException) -> str | None:
        return constraints.violation(conn, exc)
