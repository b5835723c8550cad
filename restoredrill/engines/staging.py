"""Set-based reapply (an engine's optional ``staging()``): a batch's rows go into a
session-local staging table in one stream, then a few guarded statements move them into the
target — instead of one statement per row.

The staging table has generated column names (never a user column's): ``restoredrill_n`` (the
row's position in the batch), ``restoredrill_sig`` (changed rows: which group of SET columns;
NULL for a lost row), ``v0..`` the restored values of ``StageSpec.columns`` typed as the target's
columns, ``g0..`` the guard's text forms of ``StageSpec.guarded`` (changed rows only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from restoredrill.engines.driver import Connection, Statement
from restoredrill.engines.names import TableName

StageRow = Sequence[int | str | None]  # n, sig, *values, *guards


@dataclass(frozen=True)
class StageSpec:
    table: TableName
    key: tuple[str, ...]
    columns: tuple[str, ...]  # the diff's columns: staged and written (key included)
    compared: tuple[str, ...]  # read back after writing
    guarded: tuple[str, ...]  # compared columns outside the key: the guard
    all_columns: tuple[str, ...]  # every column of the target (the archive copies them)
    overriding: bool  # GENERATED ALWAYS identity among the columns
    infos: tuple[Any, ...]  # the engine's ColumnInfo of ``columns``


class Stager(Protocol):
    """Statements of one set-based batch. ``encode`` makes the batch's data (once: for the
    script and for execution); ``load`` runs in the batch's transaction; the statements
    built here run there too, in order: lock, archive, updates, insert, read back."""

    def encode(self, conn: Connection, spec: StageSpec, rows: Iterable[StageRow]) -> bytes: ...
    def load(self, conn: Connection, spec: StageSpec, data: bytes) -> None: ...
    def before_join(self, conn: Connection) -> None: ...  # before a query joins stage and target
    def script_load(self, conn: Connection, spec: StageSpec, data: bytes) -> str: ...
    def lock(self, spec: StageSpec) -> Statement: ...  # (n, guard holds, as staged, texts...)
    def skipped(self, spec: StageSpec) -> Statement: ...  # after the INSERT: (n, text forms)
    def archive(self, spec: StageSpec, archive: TableName) -> Statement: ...
    def update(self, spec: StageSpec, sig: int, set_columns: Sequence[str]) -> Statement: ...
    def insert(self, spec: StageSpec) -> Statement: ...
    def apply(
        self,
        conn: Connection,
        spec: StageSpec,
        archive: Statement,
        updates: Sequence[Statement],
        insert: Statement,
    ) -> tuple[set[int], set[tuple[str | None, ...]] | None]: ...  # None: every lost row
    def readback(
        self, conn: Connection, spec: StageSpec, positions: Sequence[int]
    ) -> dict[int, list[str]]: ...


__all__ = ["StageRow", "StageSpec", "Stager"]
