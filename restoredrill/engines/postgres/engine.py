"""PostgreSQL as an ``Engine`` (engines/base.py): the role protocols bound to this package's
modules (catalog, fingerprint, columns and keys, diff ranges, reapply SQL, triggers and
constraints), plus psycopg's connection and transaction handling. Functions whose signature
is already the protocol's are bound as they are, not wrapped."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.conninfo import conninfo_to_dict

from restoredrill import dsn as dsnlib
from restoredrill.engines.base import (
    Diffing,
    Engine,
    Reapplying,
    ReplayEnd,
    Write,
)
from restoredrill.engines.driver import Statement
from restoredrill.engines.folded_sums import add_fingerprints
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres import (
    columns,
    constraints,
    dense,
    diff_ranges,
    keys,
    reapply_sql,
    triggers,
)
from restoredrill.engines.postgres import fingerprint as pgfp
from restoredrill.engines.postgres import staging as stage
from restoredrill.engines.postgres.columns import ColumnInfo, user_where
from restoredrill.engines.postgres.staging_catalog import may_stage
from restoredrill.lsn import format_lsn
from restoredrill.models import TableFingerprint

Connection = pg.Connection


class PostgresEngine:
    errors: tuple[type[Exception], ...] = (psycopg.Error,)
    archive_schema = pg.ARCHIVE_SCHEMA
    max_ranges_per_statement = 1 << 30  # unnest() takes any number of ranges
    checksum_algorithm = pgfp.ALGORITHM

    def __init__(self, name: str = "postgres") -> None:
        self.name = name

    # --- session, transactions ---

    pin_session = staticmethod(pg.pin_session)
    limit_session = staticmethod(pg.limit_session)
    timeout_kind = staticmethod(pg.timeout_kind)
    one_line = staticmethod(pg.one_line)
    pin_for_writes = staticmethod(reapply_sql.pin_for_writes)

    def connect(self, dsn: str, read_only: bool) -> Connection:
        return dsnlib.connect(dsn, read_only=read_only, autocommit=True)

    def close(self, conn: Connection) -> None:
        conn.close()

    def allow_parallel(self, conn: Connection) -> None:
        """At least two parallel workers per scan in this session (a restored copy keeps
        production's postgresql.conf, which may have turned parallel query off)."""
        conn.execute(
            "SELECT pg_catalog.set_config('max_parallel_workers_per_gather',"
            " GREATEST(pg_catalog.current_setting('max_parallel_workers_per_gather')::int,"
            " 2)::text, false)"
        )

    @contextlib.contextmanager
    def snapshot(self, conn: Connection) -> Iterator[None]:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield

    @contextlib.contextmanager
    def transaction(self, conn: Connection) -> Iterator[None]:
        with conn.transaction():
            yield

    savepoint = transaction  # nested: psycopg makes it a SAVEPOINT

    def export_snapshot(self, conn: Connection) -> str | None:
        """Inside ``snapshot``: a token other connections' ``join_snapshot`` can import."""
        row = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
        return None if row is None else str(row[0])

    def join_snapshot(self, conn: Connection, token: str) -> None:
        """First statement inside ``snapshot``: see exactly the exporting transaction's data."""
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(token)))

    def broken(self, conn: Connection) -> bool:
        return bool(conn.broken or conn.closed)

    def cancel(self, conn: Connection) -> None:
        conn.cancel_safe(timeout=5)

    def fetchall(
        self, conn: Connection, statement: Statement, params: list[Any]
    ) -> list[tuple[Any, ...]]:
        # no parameters: none parsed for, so a '%' in a literal (a key, a value) is itself
        return list(conn.execute(statement, params or None).fetchall())

    def execute(self, conn: Connection, statement: Statement) -> None:
        conn.execute(statement)

    def render(self, conn: Connection, statement: Statement) -> str:
        return str(statement.as_string(conn))

    def database_of(self, dsn: str) -> str | None:
        try:
            value = conninfo_to_dict(dsn).get("dbname")
        except psycopg.ProgrammingError:
            return None
        return None if value is None else str(value)

    # --- tables, fingerprints, positions ---

    list_tables = staticmethod(pg.list_tables)
    resolve_table = staticmethod(pg.resolve_table)
    table_columns = staticmethod(pg.table_columns)
    system_identifier = staticmethod(pg.system_identifier)
    wal_position = staticmethod(pg.wal_position)
    create_restore_point = staticmethod(pg.create_restore_point)
    server_identity = staticmethod(pg.server_identity)

    def as_of_predicate(
        self, conn: Connection, column: str, as_of: datetime
    ) -> tuple[sql.Composed, str]:
        where = pg.as_of_predicate(column, as_of)
        return where, where.as_string(conn)

    def fingerprint(
        self, conn: Connection, table: TableName, where: sql.Composable | None = None
    ) -> TableFingerprint:
        return pg.fingerprint(conn, table, where)

    def fingerprint_pieces(
        self, conn: Connection, table: TableName, where: sql.Composable | None, pieces: int
    ) -> None:
        return None  # one statement: PostgreSQL's parallel query splits a big table itself

    add_fingerprints = staticmethod(add_fingerprints)

    def replay_end(self, conn: Connection) -> ReplayEnd:
        end = pg.replay_end(conn)
        return ReplayEnd(lsn=end.lsn, xact_time=end.xact_time)

    def format_position(self, position: int) -> str:
        return format_lsn(position)

    def snapshot_position(self, conn: Connection) -> tuple[int | None, str | None]:
        return pg.wal_position(conn), None

    def restore_point_errors(self) -> tuple[type[Exception], ...]:
        return (
            psycopg.errors.InsufficientPrivilege,
            psycopg.errors.ObjectNotInPrerequisiteState,
            psycopg.errors.InvalidParameterValue,
        )

    # --- diff ---

    column_info = staticmethod(columns.column_info)
    estimate_rows = staticmethod(columns.estimate_rows)
    key_columns = staticmethod(keys.key_columns)
    has_key_index = staticmethod(keys.has_key_index)
    checksum_query = staticmethod(diff_ranges.checksum_query)
    boundaries_query = staticmethod(diff_ranges.boundaries_query)
    fetch_query = staticmethod(diff_ranges.fetch_query)
    hash_list_query = staticmethod(dense.hash_list_query)
    rows_by_keys_query = staticmethod(dense.rows_by_keys_query)

    def count_query(self, table: TableName, where: sql.Composable | None) -> sql.Composed:
        return sql.SQL("SELECT count(*) FROM {} AS r WHERE {}").format(
            table.identifier(), where if where is not None else sql.SQL("TRUE")
        )

    def where_sql(self, where: str | None) -> sql.Composable | None:
        return None if where is None or not where.strip() else user_where(where)

    def where_probe(self, table: TableName, where: str) -> sql.Composed:
        # run by fetchall without parameters: the condition as written, '%' not doubled
        return sql.SQL("SELECT 1 FROM {} AS r WHERE ({}) LIMIT 0").format(
            table.identifier(), sql.SQL(where)
        )

    def diff_session(self, conn: Connection) -> None:
        # a diff runs ~100 short statements whose row estimates look big: compiling each
        # one (JIT) costs more than it saves
        conn.execute("SELECT pg_catalog.set_config('jit', 'off', false)")

    # --- reapply ---

    is_unique_key = staticmethod(keys.is_unique_key)
    archive_table_name = staticmethod(reapply_sql.archive_table_name)
    create_archive = staticmethod(reapply_sql.create_archive)
    batch_settings = staticmethod(reapply_sql.batch_settings)
    session_settings = staticmethod(reapply_sql.session_settings)
    filter_query = staticmethod(reapply_sql.filter_query)
    lock_and_read = staticmethod(reapply_sql.lock_and_read)
    archive_row = staticmethod(reapply_sql.archive_row)
    revert_row = staticmethod(reapply_sql.revert_row)
    rewrite_row = staticmethod(reapply_sql.rewrite_row)
    insert_rows = staticmethod(reapply_sql.insert_rows)

    def always_generated_identity(self, column: ColumnInfo) -> bool:
        return column.identity == "a"

    def apply_batch(
        self, conn: Connection, writes: Sequence[Write], insert: Statement
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

    def staging(self, conn: Connection) -> stage.PostgresStager | None:
        """Set-based batches need a temporary table: a role without TEMP on the database
        writes row by row, as before."""
        return stage.PostgresStager() if may_stage(conn) else None

    # --- reapply: triggers and foreign keys ---

    referenced_tables = staticmethod(constraints.referenced_tables)
    row_triggers = staticmethod(triggers.row_triggers)
    may_skip_triggers = staticmethod(triggers.may_skip_triggers)
    skip_triggers = staticmethod(triggers.skip_triggers)
    missing_parents = staticmethod(constraints.missing_parents)
    parent_checks = staticmethod(constraints.parent_checks)
    foreign_key_violation = staticmethod(constraints.violation)

    def stamp_columns(self, conn: Connection, table: TableName) -> list[str]:
        return []  # PostgreSQL stamps only through triggers


if TYPE_CHECKING:  # the class implements every role, with its own column type
    _engine: Engine = PostgresEngine()
    _diffing: Diffing[ColumnInfo] = PostgresEngine()
    _reapplying: Reapplying[ColumnInfo] = PostgresEngine()
