"""Reapply a diff to production: reviewable, idempotent SQL; written only with ``execute``
(DESIGN.md "Reapply").

- Lost rows come back through ``INSERT ... ON CONFLICT (key) DO NOTHING``.
- A changed row is reverted only while production still holds the guard version (the
  post-incident values for a ``recover`` diff, the production version for a plain diff):
  every compared column's text form IS NOT DISTINCT FROM the guard's, repeated in the
  UPDATE's WHERE. A row someone edited since is skipped and reported as a conflict.
- Rows only in production ("new") are never touched; nothing is ever deleted.
- With ``execute``: a ``max_rows`` ceiling checked before anything is written; keyset
  batches in key order, one transaction each with SET LOCAL lock_timeout/statement_timeout;
  the rows a batch may overwrite locked first and archived (same transaction) into
  ``restoredrill_archive."<table>_<UTC stamp>"``; a checkpoint file after each batch so an
  interrupted run resumes. A second run changes zero rows.
- Dry run (the default) opens production read-only, predicts each row's outcome from the
  current values, and writes the SQL script.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from restoredrill import dsn as dsnlib
from restoredrill.drill.diff import load_diff
from restoredrill.drill.guards import same_instance
from restoredrill.engines.base import Engine, engine_for_dsn
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, DatabaseUnavailable, ReapplyRefused
from restoredrill.models import (
    DiffDocument,
    Frozen,
    ReapplyConflict,
    ReapplyOnly,
    ReapplyPlan,
    ReapplyReport,
    RowDiff,
    RowOutcome,
    RowValues,
    ServerIdentity,
)
from restoredrill.timing import ProgressListener, SilentProgress

_TIMEOUT = re.compile(r"\d+\s*(us|ms|s|min|h|d)?")
DEFAULT_MAX_ROWS = 50_000
DEFAULT_BATCH_SIZE = 1000
DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_STATEMENT_TIMEOUT = "5min"
SAMPLE_ROWS = 5
CONFLICTS_LISTED = 50


# --- identity: is the target really the production the diff names? ------------------------------


def identity_problem(document: DiffDocument, target: ServerIdentity) -> str | None:
    """Why ``target`` must not receive this diff (one line), or None when it is production."""
    sandboxes = [("restored", document.restored)]
    if document.incident is not None:
        sandboxes.append(("after-incident", document.incident))
    for what, sandbox in sandboxes:
        if same_instance(target, sandbox) and target.database == sandbox.database:
            return (
                f"the target is the {what} database of this diff ({target.label}), not production "
                f"({document.production.label})"
            )
    production = document.production
    if (
        target.system_identifier is not None
        and production.system_identifier is not None
        and target.system_identifier != production.system_identifier
    ):
        return (
            f"the target {target.label} is another cluster (system identifier "
            f"{target.system_identifier}, the diff's production has {production.system_identifier})"
        )
    if not same_instance(target, production):
        return (
            f"the target {target.label} is not the server the diff names as production "
            f"({production.label}, started {_when(production)}; the target started "
            f"{_when(target)}): a restored copy, or production restarted since — diff again"
        )
    if target.database != production.database:
        return (
            f"the target database {target.database!r} is not the diff's production database "
            f"{production.database!r}"
        )
    return None


def _when(identity: ServerIdentity) -> str:
    t = identity.postmaster_start_time
    return "at an unknown time" if t is None else t.isoformat()


# --- checkpoint ----------------------------------------------------------------------------------


class Checkpoint(Frozen):
    """Progress of an executing reapply, rewritten after every committed batch."""

    format: Literal["restoredrill-reapply-checkpoint/1"] = "restoredrill-reapply-checkpoint/1"
    diff_sha256: str
    target: ServerIdentity
    only: ReapplyOnly
    where: str | None
    stamp: str
    archive_tables: dict[str, str]  # table display -> archive table name
    positions: dict[str, int]  # table display -> rows of its work list already applied
    last_keys: dict[str, dict[str, str | None]]  # table display -> last applied key
    totals: dict[str, dict[str, int]]  # table display -> outcome -> count
    batches: int
    conflicts: list[ReapplyConflict] = Field(default_factory=list)  # the first ones


def checkpoint_path(diff_file: Path) -> Path:
    return diff_file.with_name(diff_file.name + ".checkpoint.json")


def default_sql_path(diff_file: Path) -> Path:
    stem = diff_file.name[: -len(".json")] if diff_file.name.endswith(".json") else diff_file.name
    return diff_file.with_name(stem + ".reapply.sql")


def _read_checkpoint(path: Path) -> Checkpoint | None:
    if not path.is_file():
        return None
    try:
        return Checkpoint.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ReapplyRefused(f"the checkpoint {path} is unreadable; remove it ({exc})") from exc


def _write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(checkpoint.model_dump_json(indent=2) + "\n", encoding="utf-8")
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)


# --- the work ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    kind: Literal["lost", "changed"]
    values: RowValues  # restored values (what is written)
    guard: RowValues | None  # changed rows: the version production must still hold
    set_columns: tuple[str, ...]  # changed rows: columns to write back


@dataclass
class _TableWork:
    diff: RowDiff
    table: TableName
    columns: list[Any]  # production's columns (the engine's ColumnInfo: types for casts)
    insert_columns: list[str]
    compared: list[str]
    overriding: bool
    items: list[_Item]
    guarded: list[str]  # compared columns outside the key: the guard predicate's columns
    target_columns: list[str]  # every column of the target table (the archive copies them)
    archive: TableName | None = None
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> list[str]:
        return self.diff.key


def _items(diff: RowDiff, only: ReapplyOnly) -> list[_Item]:
    """Changed rows first, then lost rows; each list in key order (as the diff found them)."""
    items: list[_Item] = []
    if only in ("changed", "all"):
        for row in diff.changed:
            items.append(_Item("changed", row.restored, row.production, tuple(row.columns)))
    if only in ("lost", "all"):
        for values in diff.lost:
            items.append(_Item("lost", values, None, ()))
    return items


def _order_tables(engine: Engine, conn: Any, diffs: list[RowDiff]) -> list[RowDiff]:
    """Referenced tables first, so restored parents exist before their children."""
    names = {TableName(d.schema_name, d.table_name): d for d in diffs}
    ordered: list[RowDiff] = []
    done: set[TableName] = set()
    visiting: set[TableName] = set()

    def visit(name: TableName) -> None:
        if name in done or name in visiting:
            return
        visiting.add(name)
        for parent in sorted(engine.referenced_tables(conn, name)):
            if parent in names:
                visit(parent)
        visiting.discard(name)
        done.add(name)
        ordered.append(names[name])

    for diff in diffs:
        visit(TableName(diff.schema_name, diff.table_name))
    return ordered


def _prepare(engine: Engine, conn: Any, diff: RowDiff, only: ReapplyOnly) -> _TableWork:
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
    return _TableWork(
        diff=diff,
        table=table,
        columns=[by_name[c.name] for c in diff.columns],
        insert_columns=insert_columns,
        compared=[c.name for c in diff.columns if c.compared],
        overriding=overriding,
        items=_items(diff, only),
        guarded=[c.name for c in diff.columns if c.compared and c.name not in diff.key],
        target_columns=[c.name for c in columns],
    )


def _filter(engine: Engine, conn: Any, work: _TableWork, where: str) -> None:
    """Keep the items whose restored values satisfy ``where`` (evaluated in the target)."""
    kept: list[_Item] = []
    for start in range(0, len(work.items), 5000):
        chunk = work.items[start : start + 5000]
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
        chosen = {int(r[0]) for r in rows}
        kept.extend(item for n, item in enumerate(chunk) if n in chosen)
    work.items = kept


# --- statements -----------------------------------------------------------------------------------


def _key_of(work: _TableWork, values: RowValues) -> dict[str, str | None]:
    return {k: values.get(k) for k in work.key}


@dataclass(frozen=True)
class _Batch:
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


def _batch(
    engine: Engine,
    work: _TableWork,
    batch: Sequence[_Item],
    opts: ReapplyOptions,
    for_update: bool,
) -> _Batch:
    writes: list[tuple[int, Any, Any]] = []
    for n, item in enumerate(batch):
        if item.kind != "changed":
            continue
        assert item.guard is not None
        archive = None
        if work.archive is not None:
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
        update = engine.revert_row(
            work.table,
            work.key,
            work.guarded,
            item.set_columns,
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
    return _Batch(
        settings=engine.batch_settings(opts.lock_timeout, opts.statement_timeout),
        lock=engine.lock_and_read(
            work.table,
            work.key,
            work.compared,
            [i.values for i in batch],
            for_update,
            work.columns,
        ),
        writes=writes,
        insert=insert,
    )


def _classify(
    work: _TableWork, item: _Item, current: dict[tuple[str | None, ...], dict[str, str | None]]
) -> tuple[RowOutcome, str]:
    """What reapplying ``item`` does given production's current text forms."""
    key = tuple(item.values.get(k) for k in work.key)
    now = current.get(key)
    if item.kind == "lost":
        if now is None:
            return "insert", ""
        if all(now.get(c) == item.values.get(c) for c in work.compared):
            return "already", ""
        return "conflict", "a row with this key exists in production with other values"
    assert item.guard is not None
    if now is None:
        return "conflict", "the row was deleted in production since"
    if all(now.get(c) == item.guard.get(c) for c in work.compared):
        return "update", ""
    if all(now.get(c) == item.values.get(c) for c in work.compared):
        return "already", ""
    return "conflict", "the row was edited in production since"


def _current(
    engine: Engine, conn: Any, work: _TableWork, statement: Any
) -> dict[tuple[str | None, ...], dict[str, str | None]]:
    rows = engine.fetchall(conn, statement, [])
    cols = [*work.key, *[c for c in work.compared if c not in work.key]]
    result: dict[tuple[str | None, ...], dict[str, str | None]] = {}
    for row in rows:
        values = {c: (None if v is None else str(v)) for c, v in zip(cols, row, strict=True)}
        result[tuple(values[k] for k in work.key)] = values
    return result


# --- running ---------------------------------------------------------------------------------


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


AfterBatch = Callable[[int], None]


def reapply(
    diff_file: Path,
    to_dsn: str,
    options: ReapplyOptions | None = None,
    progress: ProgressListener | None = None,
    after_batch: AfterBatch | None = None,
) -> ReapplyReport:
    """Reapply ``diff_file`` to ``to_dsn``: a dry run unless ``options.execute``.

    ``after_batch(n)`` is called after batch n is committed and checkpointed (tests use it
    to interrupt a run between batches)."""
    document = load_diff(diff_file)
    return reapply_document(document, diff_file, to_dsn, options, progress, after_batch)


def reapply_document(
    document: DiffDocument,
    diff_file: Path,
    to_dsn: str,
    options: ReapplyOptions | None = None,
    progress: ProgressListener | None = None,
    after_batch: AfterBatch | None = None,
) -> ReapplyReport:
    opts = options or ReapplyOptions()
    listener = progress or SilentProgress()
    if opts.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    if opts.max_rows < 0:
        raise ConfigError("--max-rows must not be negative")
    for name, value in (
        ("--lock-timeout", opts.lock_timeout),
        ("--statement-timeout", opts.statement_timeout),
    ):
        if not _TIMEOUT.fullmatch(value.strip()):
            raise ConfigError(f"{name} {value!r}: expected a duration such as 500ms, 5s or 2min")
    started = time.monotonic()
    engine = engine_for_dsn(to_dsn)
    conn = engine.connect(to_dsn, read_only=not opts.execute)
    try:
        engine.pin_for_writes(conn)
        return _reapply(
            engine,
            document,
            diff_file,
            conn,
            dsnlib.redact(to_dsn),
            opts,
            listener,
            after_batch,
            started,
        )
    except engine.errors as exc:
        hint = ""
        if opts.execute and checkpoint_path(diff_file).is_file():
            hint = " (committed batches are in the checkpoint: run it again to resume)"
        raise DatabaseUnavailable(f"reapply failed: {engine.one_line(exc)}{hint}") from exc
    finally:
        engine.close(conn)


def _diff_digest(diff_file: Path, document: DiffDocument) -> str:
    try:
        return hashlib.sha256(diff_file.read_bytes()).hexdigest()
    except OSError:
        return hashlib.sha256(document.model_dump_json().encode()).hexdigest()


def _reapply(
    engine: Engine,
    document: DiffDocument,
    diff_file: Path,
    conn: Any,
    label: str,
    opts: ReapplyOptions,
    listener: ProgressListener,
    after_batch: AfterBatch | None,
    started: float,
) -> ReapplyReport:
    target = engine.server_identity(conn, label)
    problem = identity_problem(document, target)
    if problem is not None:
        raise ReapplyRefused(problem)
    works = [
        _prepare(engine, conn, d, opts.only) for d in _order_tables(engine, conn, document.tables)
    ]
    if opts.where is not None and opts.where.strip():
        for work in works:
            _filter(engine, conn, work, opts.where)
    selected = sum(len(w.items) for w in works)
    over = selected > opts.max_rows
    sql_path = opts.sql_out or default_sql_path(diff_file)
    checkpoint_file = checkpoint_path(diff_file)
    digest = _diff_digest(diff_file, document)
    checkpoint = _read_checkpoint(checkpoint_file) if opts.execute else None
    if checkpoint is not None:
        if checkpoint.diff_sha256 != digest:
            raise ReapplyRefused(
                f"the checkpoint {checkpoint_file} belongs to another diff file; remove it"
            )
        if checkpoint.only != opts.only or checkpoint.where != opts.where:
            raise ReapplyRefused(
                f"the checkpoint {checkpoint_file} was made with other --only/--where options "
                f"(--only {checkpoint.only}, --where {checkpoint.where!r}); use them or remove it"
            )
    if opts.execute and over:
        raise ReapplyRefused(
            f"{selected} rows to write is over the --max-rows ceiling of {opts.max_rows}; "
            "nothing written (raise --max-rows, or narrow with --only/--where)"
        )
    stamp = (
        checkpoint.stamp if checkpoint is not None else datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    )
    for work in works:
        if any(i.kind == "changed" for i in work.items):
            name = checkpoint.archive_tables.get(work.diff.table) if checkpoint else None
            work.archive = (
                TableName(engine.archive_schema, name)
                if name
                else engine.archive_table_name(work.table, stamp)
            )
    _write_script(engine, conn, document, diff_file, sql_path, works, opts, target, selected)
    listener.note(f"SQL script: {sql_path}")

    conflicts: list[ReapplyConflict] = []
    batches = 0
    if opts.execute:
        batches = _execute(
            engine,
            conn,
            works,
            opts,
            listener,
            after_batch,
            checkpoint,
            checkpoint_file,
            digest,
            target,
            stamp,
            conflicts,
        )
    else:
        _predict(engine, conn, works, opts, conflicts)
    plans = [
        ReapplyPlan(
            table=w.diff.table,
            key=w.key,
            selected_lost=sum(1 for i in w.items if i.kind == "lost"),
            selected_changed=sum(1 for i in w.items if i.kind == "changed"),
            inserted=w.totals.get("insert", 0),
            updated=w.totals.get("update", 0),
            already=w.totals.get("already", 0),
            conflicts=w.totals.get("conflict", 0),
            archive_table=(
                w.archive.display
                if w.archive is not None and opts.execute and w.totals.get("update")
                else None
            ),
            sample=[i.values for i in w.items[:SAMPLE_ROWS]],
        )
        for w in works
    ]
    return ReapplyReport(
        executed=opts.execute,
        diff_file=str(diff_file),
        target=target,
        sql_file=str(sql_path),
        checkpoint_file=str(checkpoint_file) if opts.execute else None,
        resumed=checkpoint is not None,
        only=opts.only,
        where=opts.where,
        max_rows=opts.max_rows,
        rows_selected=selected,
        over_ceiling=over,
        batches=batches,
        tables=plans,
        conflicts=conflicts[:CONFLICTS_LISTED],
        seconds=time.monotonic() - started,
    )


def _batches(
    items: Sequence[_Item], size: int, start: int = 0
) -> Iterator[tuple[int, list[_Item]]]:
    for begin in range(start, len(items), size):
        yield begin, list(items[begin : begin + size])


def _predict(
    engine: Engine,
    conn: Any,
    works: list[_TableWork],
    opts: ReapplyOptions,
    conflicts: list[ReapplyConflict],
) -> None:
    """Dry run: read (never lock) the current rows and predict every outcome."""
    with engine.transaction(conn):
        for work in works:
            for _, batch in _batches(work.items, opts.batch_size):
                current = _current(
                    engine,
                    conn,
                    work,
                    engine.lock_and_read(
                        work.table,
                        work.key,
                        work.compared,
                        [i.values for i in batch],
                        False,
                        work.columns,
                    ),
                )
                for item in batch:
                    outcome, reason = _classify(work, item, current)
                    work.totals[outcome] = work.totals.get(outcome, 0) + 1
                    if outcome == "conflict":
                        conflicts.append(
                            ReapplyConflict(
                                table=work.diff.table,
                                key=_key_of(work, item.values),
                                kind=item.kind,
                                reason=reason,
                            )
                        )


def _execute(
    engine: Engine,
    conn: Any,
    works: list[_TableWork],
    opts: ReapplyOptions,
    listener: ProgressListener,
    after_batch: AfterBatch | None,
    checkpoint: Checkpoint | None,
    checkpoint_file: Path,
    digest: str,
    target: ServerIdentity,
    stamp: str,
    conflicts: list[ReapplyConflict],
) -> int:
    positions = dict(checkpoint.positions) if checkpoint else {}
    last_keys = dict(checkpoint.last_keys) if checkpoint else {}
    if checkpoint is not None:
        conflicts.extend(checkpoint.conflicts)
        for work in works:
            work.totals = dict(checkpoint.totals.get(work.diff.table, {}))
    archives = {w.diff.table: w.archive.name for w in works if w.archive is not None}
    for work in works:
        if work.archive is not None and len(work.items) > positions.get(work.diff.table, 0):
            with engine.transaction(conn):
                for statement in engine.create_archive(work.table, work.archive):
                    engine.execute(conn, statement)
    batches = checkpoint.batches if checkpoint else 0
    for work in works:
        start = positions.get(work.diff.table, 0)
        if start:
            listener.note(f"{work.diff.table}: resuming after {start} row(s) (checkpoint)")
        for begin, batch in _batches(work.items, opts.batch_size, start):
            with engine.transaction(conn):
                statements = _batch(engine, work, batch, opts, for_update=True)
                for statement in statements.settings:
                    engine.execute(conn, statement)
                current = _current(engine, conn, work, statements.lock)
                expected = [_classify(work, i, current) for i in batch]
                updated, inserted = engine.apply_batch(conn, statements.writes, statements.insert)
                for n, item in enumerate(batch):
                    outcome, reason = expected[n]
                    if item.kind == "lost" and outcome == "insert":
                        key = tuple(item.values.get(k) for k in work.key)
                        if key not in inserted:
                            outcome, reason = "conflict", "inserted concurrently in production"
                    if item.kind == "changed" and (outcome == "update") != (n in updated):
                        outcome, reason = (
                            ("update", "")
                            if n in updated
                            else ("conflict", "the guard did not match when writing")
                        )
                    work.totals[outcome] = work.totals.get(outcome, 0) + 1
                    if outcome == "conflict":
                        conflicts.append(
                            ReapplyConflict(
                                table=work.diff.table,
                                key=_key_of(work, item.values),
                                kind=item.kind,
                                reason=reason,
                            )
                        )
            batches += 1
            positions[work.diff.table] = begin + len(batch)
            last_keys[work.diff.table] = _key_of(work, batch[-1].values)
            _write_checkpoint(
                checkpoint_file,
                Checkpoint(
                    diff_sha256=digest,
                    target=target,
                    only=opts.only,
                    where=opts.where,
                    stamp=stamp,
                    archive_tables=archives,
                    positions=positions,
                    last_keys=last_keys,
                    totals={w.diff.table: dict(w.totals) for w in works},
                    conflicts=conflicts[:CONFLICTS_LISTED],
                    batches=batches,
                ),
            )
            listener.note(
                f"{work.diff.table}: {positions[work.diff.table]}/{len(work.items)} row(s) done"
            )
            if after_batch is not None:
                after_batch(batches)
    with contextlib.suppress(FileNotFoundError):
        checkpoint_file.unlink()  # complete: a later run starts over (and changes nothing)
    return batches


# --- the reviewable script ------------------------------------------------------------------------


def _write_script(
    engine: Engine,
    conn: Any,
    document: DiffDocument,
    diff_file: Path,
    path: Path,
    works: list[_TableWork],
    opts: ReapplyOptions,
    target: ServerIdentity,
    selected: int,
) -> None:
    def text(statement: Any) -> str:
        return engine.render(conn, statement)

    guard_of = "post-incident" if document.mode == "incident" else "production"
    lines = [
        f"-- restoredrill reapply of {diff_file}",
        f"-- made {datetime.now(UTC).isoformat()} for {target.label} (database {target.database})",
        f"-- diff mode: {document.mode}; rows selected: {selected} (--only {opts.only}"
        + (f", --where {opts.where}" if opts.where else "")
        + ")",
        "-- Lost rows: INSERT ... ON CONFLICT (key) DO NOTHING.",
        f"-- Changed rows: UPDATE only while every compared column still holds its {guard_of}",
        "-- value (text form under the settings below); the current version is archived first.",
        "-- Idempotent: running it again changes nothing. Rows only in production are untouched.",
        "",
    ]
    lines += [text(s) + ";" for s in engine.session_settings()]
    lines.append("")
    for work in works:
        if work.archive is not None:
            lines.append(f"-- {work.diff.table}: archive of the rows reverted")
            lines += [text(s) + ";" for s in engine.create_archive(work.table, work.archive)]
            lines.append("")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
            for work in works:
                count = len(work.items)
                for n, (begin, batch) in enumerate(_batches(work.items, opts.batch_size), start=1):
                    out.write(
                        f"-- {work.diff.table}: batch {n} (rows {begin + 1}-{begin + len(batch)} "
                        f"of {count})\nBEGIN;\n"
                    )
                    for statement in _batch(engine, work, batch, opts, for_update=True).all():
                        out.write(text(statement) + ";\n")
                    out.write("COMMIT;\n\n")
    except OSError as exc:
        raise ConfigError(f"cannot write the SQL script {path}: {exc}") from exc


def exit_code(report: ReapplyReport) -> int:
    """0 done (or nothing to do), 1 rows skipped as conflicts (need a person)."""
    return 1 if report.conflict_count else 0


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_ROWS",
    "Checkpoint",
    "ReapplyOptions",
    "checkpoint_path",
    "default_sql_path",
    "exit_code",
    "identity_problem",
    "reapply",
    "reapply_document",
    "same_instance",
]
