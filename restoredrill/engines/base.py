"""The engine interface the use cases (verify, manifest, diff, reapply, recover) go through.

An engine is a dialect object: how to connect (read-only for production), pin the session
settings that change values' text forms, list and name tables, fingerprint a table inside
the server, read the server's position and identity, and build the SQL of diff bisection and
of the guarded reapply. PostgreSQL (``postgres_engine.PostgresEngine``) and MariaDB/MySQL
(``mysql_engine.MySQLEngine``) implement it; ``engine_for_dsn`` picks one by the DSN's scheme
(``mysql://`` / ``mariadb://`` → MariaDB/MySQL, anything else → PostgreSQL).

Connections, statements and WHERE fragments are opaque to the use cases (``Any``): each engine
builds and runs its own (``psycopg.sql`` objects for PostgreSQL, complete SQL strings with
validated, backtick-quoted identifiers for MariaDB/MySQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from restoredrill.engines.names import TableName
from restoredrill.engines.staging import Stager
from restoredrill.engines.triggers import Trigger
from restoredrill.errors import ConfigError
from restoredrill.models import RowValues, ServerIdentity, TableFingerprint

MYSQL_SCHEMES = ("mysql://", "mariadb://")
ENGINE_NAMES = ("postgres", "mariadb", "mysql")


@dataclass(frozen=True)
class ReplayEnd:
    """How far a restored server replayed: a comparable position and the last transaction's
    time (PostgreSQL: replay LSN and pg_last_xact_replay_timestamp())."""

    lsn: int | None
    xact_time: datetime | None


class Engine(Protocol):
    """What verify, manifest, diff, reapply and recover need from a database engine."""

    name: str  # "postgres" | "mariadb" | "mysql" (family of the DSN)
    errors: tuple[type[Exception], ...]  # the driver's errors: a failed query or connection
    archive_schema: str
    max_ranges_per_statement: int
    checksum_algorithm: str  # how ``fingerprint`` computes checksums (recorded in manifests)

    # --- connections and transactions ---
    def connect(self, dsn: str, read_only: bool) -> Any: ...
    def close(self, conn: Any) -> None: ...
    def pin_session(self, conn: Any) -> None: ...
    def allow_parallel(self, conn: Any) -> None: ...
    def limit_session(self, conn: Any, lock_seconds: float, statement_seconds: float) -> None: ...
    def timeout_kind(self, exc: BaseException) -> Literal["lock", "statement"] | None: ...
    def pin_for_writes(self, conn: Any) -> None: ...
    def snapshot(self, conn: Any) -> AbstractContextManager[None]: ...
    def savepoint(self, conn: Any) -> AbstractContextManager[None]: ...
    def export_snapshot(self, conn: Any) -> str | None: ...
    def join_snapshot(self, conn: Any, token: str) -> None: ...
    def transaction(self, conn: Any) -> AbstractContextManager[None]: ...
    def broken(self, conn: Any) -> bool: ...
    def cancel(self, conn: Any) -> None: ...
    def fetchall(self, conn: Any, statement: Any, params: Sequence[Any]) -> list[Any]: ...
    def execute(self, conn: Any, statement: Any) -> None: ...
    def render(self, conn: Any, statement: Any) -> str: ...
    def one_line(self, exc: BaseException) -> str: ...
    def database_of(self, dsn: str) -> str | None: ...

    # --- tables and fingerprints ---
    def list_tables(self, conn: Any) -> list[TableName]: ...
    def resolve_table(self, spec: str, known: set[str]) -> str: ...
    def table_columns(self, conn: Any, table: TableName) -> list[str]: ...
    def as_of_predicate(self, conn: Any, column: str, as_of: datetime) -> tuple[Any, str]: ...
    def fingerprint(self, conn: Any, table: TableName, where: Any = None) -> TableFingerprint: ...

    # --- positions and identity ---
    def system_identifier(self, conn: Any) -> int | None: ...
    def wal_position(self, conn: Any) -> int | None: ...
    def replay_end(self, conn: Any) -> ReplayEnd: ...
    def format_position(self, position: int) -> str: ...
    def snapshot_position(self, conn: Any) -> tuple[int | None, str | None]: ...
    def create_restore_point(self, conn: Any, name: str) -> int: ...
    def restore_point_errors(self) -> tuple[type[Exception], ...]: ...
    def server_identity(self, conn: Any, label: str) -> ServerIdentity: ...

    # --- diff ---
    def column_info(self, conn: Any, table: TableName) -> list[Any]: ...
    def key_columns(self, conn: Any, table: TableName) -> tuple[str, ...] | None: ...
    def has_key_index(self, conn: Any, table: TableName, key: Sequence[str]) -> bool: ...
    def estimate_rows(self, conn: Any, table: TableName) -> int | None: ...
    def count_query(self, table: TableName, where: Any) -> Any: ...
    def where_sql(self, where: str | None) -> Any: ...
    def where_probe(self, table: TableName, where: str) -> Any: ...
    def checksum_query(
        self, table: TableName, key: Sequence[Any], compared: Sequence[Any], where: Any,
        ranges: Sequence[Any],
    ) -> tuple[Any, list[Any]]: ...  # fmt: skip
    def boundaries_query(
        self, table: TableName, key: Sequence[Any], where: Any, ranges: Sequence[Any],
        steps: Sequence[int],
    ) -> tuple[Any, list[Any]]: ...  # fmt: skip
    def fetch_query(
        self, table: TableName, key: Sequence[Any], columns: Sequence[Any], where: Any,
        ranges: Sequence[Any],
    ) -> tuple[Any, list[Any]]: ...  # fmt: skip
    def diff_session(self, conn: Any) -> None: ...  # session settings of a diff's sides
    def hash_list_query(
        self, table: TableName, key: Sequence[Any], compared: Sequence[Any], where: Any,
        ranges: Sequence[Any],
    ) -> tuple[Any, list[Any]]: ...  # fmt: skip
    def rows_by_keys_query(
        self, table: TableName, key: Sequence[Any], columns: Sequence[Any],
        keys: Sequence[tuple[str, ...]],
    ) -> tuple[Any, list[Any]]: ...  # fmt: skip

    # --- reapply ---
    def is_unique_key(self, conn: Any, table: TableName, key: Sequence[str]) -> bool: ...
    def referenced_tables(self, conn: Any, table: TableName) -> set[TableName]: ...
    def always_generated_identity(self, column: Any) -> bool: ...
    def filter_query(
        self, columns: Sequence[Any], rows: Sequence[RowValues], where: str
    ) -> tuple[Any, list[Any]]: ...
    def lock_and_read(
        self, table: TableName, key: Sequence[str], compared: Sequence[str],
        keys: Sequence[RowValues], for_update: bool, columns: Sequence[Any],
    ) -> Any: ...  # fmt: skip
    def archive_table_name(self, table: TableName, stamp: str) -> TableName: ...
    def create_archive(self, table: TableName, archive: TableName) -> list[Any]: ...
    def archive_row(
        self, table: TableName, archive: TableName, all_columns: Sequence[str],
        key: Sequence[str], compared: Sequence[str], row_key: RowValues,
        guard_values: RowValues, columns: Sequence[Any],
    ) -> Any: ...  # fmt: skip
    def revert_row(
        self, table: TableName, key: Sequence[str], compared: Sequence[str],
        set_columns: Sequence[str], restored: RowValues, guard_values: RowValues,
        columns: Sequence[Any],
    ) -> Any: ...  # fmt: skip
    def insert_rows(
        self, table: TableName, key: Sequence[str], columns: Sequence[str],
        rows: Sequence[RowValues], overriding: bool, infos: Sequence[Any],
    ) -> Any: ...  # fmt: skip
    def batch_settings(self, lock_timeout: str, statement_timeout: str) -> list[Any]: ...
    def session_settings(self) -> list[Any]: ...
    def apply_batch(
        self, conn: Any, writes: Sequence[tuple[int, Any, Any]], insert: Any
    ) -> tuple[set[int], set[tuple[str | None, ...]]]: ...
    def staging(self, conn: Any) -> Stager | None: ...  # set-based batches; None: per row

    # --- reapply: triggers and foreign keys (what fires on the rows written) ---
    def row_triggers(self, conn: Any, table: TableName) -> list[Trigger]: ...
    def may_skip_triggers(self, conn: Any) -> bool: ...
    def skip_triggers(self) -> list[Any]: ...  # per batch; [] where there is no such switch
    def stamp_columns(self, conn: Any, table: TableName) -> list[str]: ...
    def rewrite_row(
        self, table: TableName, key: Sequence[str], set_columns: Sequence[str],
        restored: RowValues, columns: Sequence[Any],
    ) -> Any: ...  # fmt: skip
    def missing_parents(
        self, conn: Any, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[str]: ...
    def parent_checks(
        self, conn: Any, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[Any]: ...  # missing_parents for a script run by hand (raises); [] if not needed
    def foreign_key_violation(self, conn: Any, exc: BaseException) -> str | None: ...


def is_mysql_dsn(dsn: str) -> bool:
    return dsn.strip().lower().startswith(MYSQL_SCHEMES)


def engine_family(name: str) -> str:
    """'postgres' or 'mysql' (MariaDB and MySQL share one engine)."""
    if name not in ENGINE_NAMES:
        raise ConfigError(f"--engine {name!r}: expected one of {', '.join(ENGINE_NAMES)}")
    return "postgres" if name == "postgres" else "mysql"


def engine_for_dsn(dsn: str) -> Engine:
    if is_mysql_dsn(dsn):
        from restoredrill.engines.mysql.engine import MySQLEngine

        return MySQLEngine("mariadb" if dsn.strip().lower().startswith("mariadb") else "mysql")
    from restoredrill.engines.postgres.engine import PostgresEngine

    return PostgresEngine()


def engine_for_dsns(*dsns: str) -> Engine:
    """One engine for several DSNs (both sides of a verify or diff must be the same kind)."""
    kinds = {is_mysql_dsn(d) for d in dsns}
    if len(kinds) > 1:
        raise ConfigError(
            "the DSNs name different engines (one MariaDB/MySQL, one PostgreSQL): "
            "compare like with like"
        )
    return engine_for_dsn(dsns[0])
