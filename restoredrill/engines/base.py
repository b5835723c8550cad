"""The engine interface the use cases (verify, manifest, diff, reapply, recover) go through,
as small role protocols: a use case asks for the role it needs.

- ``Session``: connect (production read-only), pin the settings that change values' text
  forms, run and render statements, classify the driver's errors.
- ``Transactions``: snapshots (shared between connections where the server can), savepoints,
  write transactions.
- ``Tables`` and ``Fingerprinting``: list and name tables, fingerprint one inside the server
  (what verify and manifest need). ``Positions``: the server's log position and identity.
- ``Columns``, ``Diffing``: the SQL of keyed checksum bisection (what diff needs).
- ``Reapplying`` and ``ReapplyGuards``: the guarded reapply statements, and what fires on the
  rows it writes (triggers, foreign keys).

``Engine`` is all of them. PostgreSQL (``engines/postgres/engine.py``) and MariaDB/MySQL
(``engines/mysql/engine.py``) implement it; ``engine_for_dsn`` picks one by the DSN's scheme
through ``engines/registry.py``.

The driver boundary is opaque to the use cases (``Connection``, ``Statement``, ``Params``,
``Row``: engines/driver.py). Column descriptions are the engine's own type, handed back to the
same engine (the protocols are generic in it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from restoredrill.engines import registry
from restoredrill.engines.driver import Connection, Params, Query, Row, Statement
from restoredrill.engines.names import TableName
from restoredrill.engines.ranges import KeyRange, KeyText
from restoredrill.engines.staging import Stager
from restoredrill.engines.triggers import Trigger
from restoredrill.errors import ConfigError
from restoredrill.models import RowValues, ServerIdentity, TableFingerprint

ENGINE_NAMES = registry.ENGINE_NAMES


@dataclass(frozen=True)
class ReplayEnd:
    """How far a restored server replayed: a comparable position and the last transaction's
    time (PostgreSQL: replay LSN and pg_last_xact_replay_timestamp())."""

    lsn: int | None
    xact_time: datetime | None


class Column(Protocol):
    """What the use cases read of an engine's column description."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...  # the declared type, as the server prints it
    @property
    def not_null(self) -> bool: ...
    @property
    def generated(self) -> bool: ...


C = TypeVar("C", bound=Column)


class Session(Protocol):
    """Connections and statements."""

    name: str  # "postgres" | "mariadb" | "mysql" (family of the DSN)
    errors: tuple[type[Exception], ...]  # the driver's errors: a failed query or connection

    def connect(self, dsn: str, read_only: bool) -> Connection: ...
    def close(self, conn: Connection) -> None: ...
    def pin_session(self, conn: Connection) -> None: ...
    def allow_parallel(self, conn: Connection) -> None: ...
    def limit_session(
        self, conn: Connection, lock_seconds: float, statement_seconds: float
    ) -> None: ...
    def timeout_kind(self, exc: BaseException) -> Literal["lock", "statement"] | None: ...
    def broken(self, conn: Connection) -> bool: ...
    def cancel(self, conn: Connection) -> None: ...
    def fetchall(self, conn: Connection, statement: Statement, params: Params) -> list[Row]: ...
    def execute(self, conn: Connection, statement: Statement) -> None: ...
    def render(self, conn: Connection, statement: Statement) -> str: ...
    def one_line(self, exc: BaseException) -> str: ...
    def database_of(self, dsn: str) -> str | None: ...


class Transactions(Protocol):
    def snapshot(self, conn: Connection) -> AbstractContextManager[None]: ...
    def savepoint(self, conn: Connection) -> AbstractContextManager[None]: ...
    def export_snapshot(self, conn: Connection) -> str | None: ...
    def join_snapshot(self, conn: Connection, token: str) -> None: ...
    def transaction(self, conn: Connection) -> AbstractContextManager[None]: ...


class Tables(Protocol):
    def list_tables(self, conn: Connection) -> list[TableName]: ...
    def resolve_table(self, spec: str, known: set[str]) -> str: ...
    def table_columns(self, conn: Connection, table: TableName) -> list[str]: ...


class Fingerprinting(Protocol):
    """What verify and manifest compute inside the server."""

    checksum_algorithm: str  # how ``fingerprint`` computes checksums (recorded in manifests)

    def as_of_predicate(
        self, conn: Connection, column: str, as_of: datetime
    ) -> tuple[Statement, str]: ...
    def fingerprint(
        self, conn: Connection, table: TableName, where: Statement = None
    ) -> TableFingerprint: ...
    def fingerprint_pieces(
        self, conn: Connection, table: TableName, where: Statement, pieces: int
    ) -> list[Statement] | None: ...  # disjoint WHEREs covering the table, or None: whole
    def add_fingerprints(self, parts: Sequence[TableFingerprint]) -> TableFingerprint: ...


class Positions(Protocol):
    """The server's log position (LSN; binlog file:pos encoded as one int) and identity."""

    def system_identifier(self, conn: Connection) -> int | None: ...
    def wal_position(self, conn: Connection) -> int | None: ...
    def replay_end(self, conn: Connection) -> ReplayEnd: ...
    def format_position(self, position: int) -> str: ...
    def snapshot_position(self, conn: Connection) -> tuple[int | None, str | None]: ...
    def create_restore_point(self, conn: Connection, name: str) -> int: ...
    def restore_point_errors(self) -> tuple[type[Exception], ...]: ...
    def server_identity(self, conn: Connection, label: str) -> ServerIdentity: ...


class Columns(Protocol[C]):
    def column_info(self, conn: Connection, table: TableName) -> list[C]: ...


class Diffing(Columns[C], Protocol[C]):
    """The SQL of keyed checksum bisection: every query covers many key ranges at once."""

    max_ranges_per_statement: int

    def key_columns(self, conn: Connection, table: TableName) -> tuple[str, ...] | None: ...
    def has_key_index(self, conn: Connection, table: TableName, key: Sequence[str]) -> bool: ...
    def estimate_rows(self, conn: Connection, table: TableName) -> int | None: ...
    def count_query(self, table: TableName, where: Statement) -> Statement: ...
    def where_sql(self, where: str | None) -> Statement: ...
    def where_probe(self, table: TableName, where: str) -> Statement: ...
    def diff_session(self, conn: Connection) -> None: ...  # session settings of a diff's sides
    def checksum_query(
        self, table: TableName, key: Sequence[C], compared: Sequence[C], where: Statement,
        ranges: Sequence[KeyRange],
    ) -> Query: ...  # fmt: skip
    def boundaries_query(
        self, table: TableName, key: Sequence[C], where: Statement, ranges: Sequence[KeyRange],
        steps: Sequence[int],
    ) -> Query: ...  # fmt: skip
    def fetch_query(
        self, table: TableName, key: Sequence[C], columns: Sequence[C], where: Statement,
        ranges: Sequence[KeyRange],
    ) -> Query: ...  # fmt: skip
    def hash_list_query(
        self, table: TableName, key: Sequence[C], compared: Sequence[C], where: Statement,
        ranges: Sequence[KeyRange],
    ) -> Query: ...  # fmt: skip
    def rows_by_keys_query(
        self, table: TableName, key: Sequence[C], columns: Sequence[C], keys: Sequence[KeyText],
    ) -> Query: ...  # fmt: skip


# (position in the batch, archive statement or None, guarded UPDATE) per changed row
Write = tuple[int, Statement, Statement]


class Reapplying(Columns[C], Protocol[C]):
    """The guarded, idempotent statements of reapply, and how a batch of them runs."""

    archive_schema: str

    def pin_for_writes(self, conn: Connection) -> None: ...
    def is_unique_key(self, conn: Connection, table: TableName, key: Sequence[str]) -> bool: ...
    def always_generated_identity(self, column: C) -> bool: ...
    def filter_query(
        self, columns: Sequence[C], rows: Sequence[RowValues], where: str
    ) -> Query: ...
    def lock_and_read(
        self, table: TableName, key: Sequence[str], compared: Sequence[str],
        keys: Sequence[RowValues], for_update: bool, columns: Sequence[C],
    ) -> Statement: ...  # fmt: skip
    def archive_table_name(self, table: TableName, stamp: str) -> TableName: ...
    def create_archive(self, table: TableName, archive: TableName) -> list[Statement]: ...
    def archive_row(
        self, table: TableName, archive: TableName, all_columns: Sequence[str],
        key: Sequence[str], compared: Sequence[str], row_key: RowValues,
        guard_values: RowValues, columns: Sequence[C],
    ) -> Statement: ...  # fmt: skip
    def revert_row(
        self, table: TableName, key: Sequence[str], compared: Sequence[str],
        set_columns: Sequence[str], restored: RowValues, guard_values: RowValues,
        columns: Sequence[C],
    ) -> Statement: ...  # fmt: skip
    def rewrite_row(
        self, table: TableName, key: Sequence[str], set_columns: Sequence[str],
        restored: RowValues, columns: Sequence[C],
    ) -> Statement: ...  # fmt: skip
    def insert_rows(
        self, table: TableName, key: Sequence[str], columns: Sequence[str],
        rows: Sequence[RowValues], overriding: bool, infos: Sequence[C],
    ) -> Statement: ...  # fmt: skip
    def batch_settings(self, lock_timeout: str, statement_timeout: str) -> list[Statement]: ...
    def session_settings(self) -> list[Statement]: ...
    def apply_batch(
        self, conn: Connection, writes: Sequence[Write], insert: Statement
    ) -> tuple[set[int], set[tuple[str | None, ...]]]: ...
    def staging(self, conn: Connection) -> Stager | None: ...  # set-based batches; None: per row


class ReapplyGuards(Protocol):
    """What fires on the rows reapply writes (triggers, foreign keys), and in which order
    tables must be written."""

    def referenced_tables(self, conn: Connection, table: TableName) -> set[TableName]: ...
    def row_triggers(self, conn: Connection, table: TableName) -> list[Trigger]: ...
    def may_skip_triggers(self, conn: Connection) -> bool: ...
    def skip_triggers(self) -> list[Statement]: ...  # per batch; [] where there is no switch
    def stamp_columns(self, conn: Connection, table: TableName) -> list[str]: ...
    def missing_parents(
        self, conn: Connection, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[str]: ...
    def parent_checks(
        self, conn: Connection, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
    ) -> list[Statement]: ...  # missing_parents for a script run by hand (raises); [] if not needed
    def foreign_key_violation(self, conn: Connection, exc: BaseException) -> str | None: ...


class Engine(
    Session,
    Transactions,
    Tables,
    Fingerprinting,
    Positions,
    Diffing[Any],  # the use cases pass an engine's columns back to it unopened
    Reapplying[Any],
    ReapplyGuards,
    Protocol,
):
    """Every role: what verify, manifest, diff, reapply and recover need from an engine."""


def is_mysql_dsn(dsn: str) -> bool:
    return registry.family(registry.name_for_dsn(dsn)) == "mysql"


def engine_family(name: str) -> str:
    """'postgres' or 'mysql' (MariaDB and MySQL share one engine)."""
    if name not in ENGINE_NAMES:
        raise ConfigError(f"--engine {name!r}: expected one of {', '.join(ENGINE_NAMES)}")
    return registry.family(name)


def engine_named(name: str) -> Engine:
    """The engine registered as ``name`` (engines/registry.py), its module imported now."""
    module, attr = registry.factory(name)
    make: Callable[[str], Engine] = getattr(importlib.import_module(module), attr)
    return make(name)


def engine_for_dsn(dsn: str) -> Engine:
    return engine_named(registry.name_for_dsn(dsn))


def engine_for_dsns(*dsns: str) -> Engine:
    """One engine for several DSNs (both sides of a verify or diff must be the same kind)."""
    kinds = {registry.family(registry.name_for_dsn(d)) for d in dsns}
    if len(kinds) > 1:
        raise ConfigError(
            "the DSNs name different engines (one MariaDB/MySQL, one PostgreSQL): "
            "compare like with like"
        )
    return engine_for_dsn(dsns[0])
