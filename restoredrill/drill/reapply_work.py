"""The work of a reapply: what to write per table, the statements of one batch, and what a
row's outcome is given production's current values (shared by the dry run and execution)."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

from restoredrill.drill.reapply_items import Item, Items
from restoredrill.drill.reapply_triggers import TriggerPlan
from restoredrill.engines.base import Engine
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, ReapplyRefused
from restoredrill.models import ReapplyOnly, RowDiff, RowOutcome, RowValues
from restoredrill.spill import SpilledMap

DEFAULT_MAX_ROWS = 50_000
DEFAULT_BATCH_SIZE = 10_000  # rows per transaction (bench/results/reapply.md)
DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_STATEMENT_TIMEOUT = "5min"


@dataclass(frozen=True)
class ReapplyOptions:
    only: ReapplyOnly = "all"
    where: str | None = None
    sql_out: Path | None = None
    execute: bool = False
    max_rows: int = DEFAULT_MAX_ROWS
    batch_size: int = DEFAULT_BATCH_SIZE
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT
    statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT
    force: bool = False  # may overwrite an existing ``sql_out``
    ledger: Path | None = None  # where an executing run is recorded (None: the default ledger)
    record: bool = True  # False when the caller records the write itself (recover)


@dataclass
class TableWork:
    diff: RowDiff
    table: TableName
    columns: list[Any]  # production's columns (the engine's ColumnInfo: types for casts)
    insert_columns: list[str]
    compared: list[str]
    overriding: bool
    items: Items
    guarded: list[str]  # compared columns outside the key: the guard predicate's columns
    target_columns: list[str]  # every column of the target table (the archive copies them)
    archive: TableName | None = None
    archive_exists: bool = False  # created (or found) by this run: created only when needed
    totals: dict[str, int] = field(default_factory=dict)
    triggers: TriggerPlan = field(default_factory=TriggerPlan)
    # set-based batches encoded by the script writer, by first row: execution streams them
    # as they are (encoded once), and drops each once committed
    # on disk (restoredrill/spill.py): the encoded batches of 400,000 rows are ~100 MB
    payloads: SpilledMap[int] = field(default_factory=lambda: SpilledMap("reapply's batches"))

    @property
    def key(self) -> list[str]:
        return self.diff.key

    @cached_property
    def compared_of(self) -> Callable[[RowValues], tuple[str | None, ...]]:
        return values_of(self.compared)

    @cached_property
    def key_of_values(self) -> Callable[[RowValues], tuple[str | None, ...]]:
        return values_of(self.key)


def values_of(columns: Sequence[str]) -> Callable[[RowValues], tuple[str | None, ...]]:
    """A row's values of ``columns`` as a tuple (itemgetter: this runs once per row)."""
    if not columns:
        return lambda values: ()
    get = itemgetter(*columns)
    one = len(columns) == 1

    def of(values: RowValues) -> tuple[str | None, ...]:
        try:
            found = get(values)
        except KeyError:  # a value the diff left out is NULL, as the per-row form reads it
            return tuple(values.get(c) for c in columns)
        return (found,) if one else found

    return of


def table_items(diff: RowDiff, only: ReapplyOnly) -> Items:
    """Changed rows first, then lost rows; each list in key order (as the diff found them)."""
    return Items(
        diff.changed if only in ("changed", "all") else [],
        diff.lost if only in ("lost", "all") else [],
    )


def prepare(engine: Engine, conn: Any, diff: RowDiff, only: ReapplyOnly) -> TableWork:
    table = TableName(diff.schema_name, diff.table_name)
    if not diff.keyed or not diff.key:
        raise ReapplyRefused(
            f"{diff.table} has no key in the diff: rows cannot be matched safely, nothing reapplied"
        )
    columns = engine.column_info(conn, table)
    if not columns:
        raise ReapplyRefused(f"table {diff.table} does not exist in the target")
    by_name = {c.name: c for c in columns}
    for column in diff.columns:
        found = by_name.get(column.name)
        if found is None:
            raise ReapplyRefused(f"{diff.table}: the target has no column {column.name!r}")
        if found.type != column.type:
            raise ReapplyRefused(
                f"{diff.table}.{column.name} is {found.type} in the target but {column.type} "
                "in the diff"
            )
        if found.generated:
            raise ReapplyRefused(f"{diff.table}.{column.name} is a generated column in the target")
    if not engine.is_unique_key(conn, table, diff.key):
        raise ReapplyRefused(
            f"{diff.table}: no unique index on ({', '.join(diff.key)}) in the target, so rows "
            "cannot be matched safely (ON CONFLICT needs one)"
        )
    insert_columns = [c.name for c in diff.columns]
    overriding = any(engine.always_generated_identity(by_name[c]) for c in insert_columns)
    return TableWork(
        diff=diff,
        table=table,
        columns=[by_name[c.name] for c in diff.columns],
        insert_columns=insert_columns,
        compared=[c.name for c in diff.columns if c.compared],
        overriding=overriding,
        items=table_items(diff, only),
        guarded=[c.name for c in diff.columns if c.compared and c.name not in diff.key],
        target_columns=[c.name for c in columns],
    )


def filter_items(engine: Engine, conn: Any, work: TableWork, where: str) -> None:
    """Keep the items whose restored values satisfy ``where`` (evaluated in the target).

    A lost row of a diff made with this very ``where`` satisfied it already: the diff lists
    a key only when its row matches on either side, and a lost row is on the restored side
    only; its restored values are the ones reapply writes. Only the other rows are sent."""
    known = work.diff.where is not None and work.diff.where.strip() == where.strip()
    items = work.items
    sent = items.pick(range(items.count("changed"))) if known else items  # read as sent
    kept: list[int] = []  # positions in items (changed rows come first in both)
    at = 0
    for chunk in sent.chunks(5000):
        query, params = engine.filter_query(work.columns, [i.values for i in chunk], where)
        try:
            with engine.savepoint(conn):
                rows = engine.fetchall(conn, query, params)
        except engine.errors as exc:
            if engine.broken(conn):
                raise
            raise ConfigError(
                f"--where is not valid for {work.diff.table}: {engine.one_line(exc)}"
            ) from exc
        kept += sorted({at + int(r[0]) for r in rows})
        at += len(chunk)
    # the rows themselves stay where they are (on disk for a diff file), read a batch at a
    # time; a diff's own lost rows are all kept
    work.items = items.pick(kept, every_lost=known)


def key_of(work: TableWork, values: RowValues) -> dict[str, str | None]:
    return {k: values.get(k) for k in work.key}


@dataclass(frozen=True)
class Batch:
    """The statements of one batch, in order (BEGIN/COMMIT around them are the caller's)."""

    settings: list[Any]
    lock: Any  # reads the current rows (FOR UPDATE when writing)
    # per changed row (its position in the batch): archive (if any), then guarded UPDATE
    writes: list[tuple[int, Any, Any]]
    insert: Any  # the lost rows: INSERT ... ON CONFLICT DO NOTHING (None: no lost rows)

    def all(self) -> list[Any]:
        statements = [*self.settings, self.lock]
        for _, archive, update in self.writes:
            statements += [*([archive] if archive is not None else []), update]
        return [*statements, *([self.insert] if self.insert is not None else [])]


def batch_settings(engine: Engine, work: TableWork, opts: ReapplyOptions) -> list[Any]:
    """SET LOCAL timeouts (and the trigger switch) at the top of every batch."""
    return [
        *engine.batch_settings(opts.lock_timeout, opts.statement_timeout),
        *(engine.skip_triggers() if work.triggers.skip else []),
    ]


def lock_statement(engine: Engine, work: TableWork, batch: Sequence[Item], for_update: bool) -> Any:
    """The read of production's current rows of the batch's keys (locked when writing): all
    a prediction needs (building the batch's writes too cost a dry run 2/3 of its time)."""
    keys = [i.values for i in batch]
    return engine.lock_and_read(work.table, work.key, work.compared, keys, for_update, work.columns)


def build_batch(
    engine: Engine,
    work: TableWork,
    batch: Sequence[Item],
    opts: ReapplyOptions,
    for_update: bool,
    archive_rows: bool = True,
    updates: Container[int] | None = None,
) -> Batch:
    """``archive_rows``: archive each row before its UPDATE (the archive table must exist);
    ``updates``: the positions of the changed rows to write (default: all of them)."""
    writes: list[tuple[int, Any, Any]] = []
    for n, item in enumerate(batch):
        if item.kind != "changed" or (updates is not None and n not in updates):
            continue
        assert item.guard is not None
        archive = None
        if work.archive is not None and archive_rows:
            archive = engine.archive_row(
                work.table,
                work.archive,
                work.target_columns,
                work.key,
                work.guarded,
                item.values,
                item.guard,
                work.columns,
            )
        # columns the server would stamp are assigned explicitly: they keep restored values
        stamps = [
            c
            for c in work.triggers.stamp_columns
            if c in work.insert_columns and c not in item.set_columns
        ]
        update = engine.revert_row(
            work.table,
            work.key,
            work.guarded,
            (*item.set_columns, *stamps),
            item.values,
            item.guard,
            work.columns,
        )
        writes.append((n, archive, update))
    lost = [i.values for i in batch if i.kind == "lost"]
    insert = (
        engine.insert_rows(
            work.table, work.key, work.insert_columns, lost, work.overriding, work.columns
        )
        if lost
        else None
    )
    return Batch(
        settings=batch_settings(engine, work, opts),
        lock=lock_statement(engine, work, batch, for_update),
        writes=writes,
        insert=insert,
    )


def classify(
    work: TableWork, item: Item, current: dict[tuple[str | None, ...], dict[str, str | None]]
) -> tuple[RowOutcome, str]:
    """What reapplying ``item`` does given production's current text forms."""
    now = current.get(work.key_of_values(item.values))
    compared = work.compared_of  # tuples compared at C speed (a rerun classifies every row)
    if item.kind == "lost":
        if now is None:
            return "insert", ""
        if compared(now) == compared(item.values):
            return "already", ""
        return "conflict", "a row with this key exists in production with other values"
    assert item.guard is not None
    if now is None:
        return "conflict", "the row was deleted in production since"
    current_values = compared(now)
    if current_values == compared(item.guard):
        return "update", ""
    if current_values == compared(item.values):
        return "already", ""
    return "conflict", "the row was edited in production since"


def current_rows(
    engine: Engine, conn: Any, work: TableWork, statement: Any
) -> dict[tuple[str | None, ...], dict[str, str | None]]:
    return rows_by_key(work, engine.fetchall(conn, statement, []))


def rows_by_key(
    work: TableWork, rows: Sequence[Sequence[Any]]
) -> dict[tuple[str | None, ...], dict[str, str | None]]:
    """Rows of (key..., other compared columns...) text forms, by key."""
    cols = [*work.key, *[c for c in work.compared if c not in work.key]]
    n = len(work.key)  # the key's columns come first
    result: dict[tuple[str | None, ...], dict[str, str | None]] = {}
    for row in rows:
        texts = [None if v is None else str(v) for v in row]
        result[tuple(texts[:n])] = dict(zip(cols, texts, strict=True))
    return result
