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
  ``restoredrill_archive."<table>_<UTC stamp>"`` (created only when a row is archived); a
  checkpoint file after each batch so an interrupted run resumes (SIGINT/SIGTERM roll the
  batch in flight back and say so in one line). A second run changes zero rows and creates
  nothing.
- By set where the engine can (PostgreSQL, a role with TEMP; MariaDB 10.5+, LOAD DATA LOCAL
  on): each batch's rows are streamed into a session-local temporary table, then the lock,
  the archive, one UPDATE per group of SET columns and one INSERT ... SELECT move them, each
  with the guard (reapply_set); otherwise one guarded statement per row. Same outcomes.
- Split: reapply_work (what to write), reapply_execute (batches), reapply_set (a batch by
  set), reapply_checkpoint, reapply_script (the reviewable SQL).
- Dry run (the default) opens production read-only, predicts each row's outcome from the
  current values, and writes the SQL script.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from restoredrill import dsn as dsnlib
from restoredrill.drill.diff_file import document_digest
from restoredrill.drill.diff_reader import read_diff
from restoredrill.drill.guards import identity_problem, same_instance
from restoredrill.drill.ledger_writes import reapply_details, reapply_verdict, record_write
from restoredrill.drill.private_file import check_writable
from restoredrill.drill.reapply_checkpoint import (
    Checkpoint,
    checkpoint_path,
    default_sql_path,
    read_checkpoint,
    resume_command,
)
from restoredrill.drill.reapply_execute import (
    CONFLICTS_LISTED,
    AfterBatch,
    ReapplyInterrupted,
    Run,
    execute,
    interrupt_in,
    interrupt_text,
    predict,
)
from restoredrill.drill.reapply_order import order_works
from restoredrill.drill.reapply_script import write_script
from restoredrill.drill.reapply_triggers import plan_triggers
from restoredrill.drill.reapply_work import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_MAX_ROWS,
    DEFAULT_STATEMENT_TIMEOUT,
    ReapplyOptions,
    filter_items,
    prepare,
)
from restoredrill.engines.base import Engine, engine_for_dsn
from restoredrill.engines.names import TableName
from restoredrill.errors import (
    ConfigError,
    DatabaseUnavailable,
    Interrupted,
    ReapplyDataProblem,
    ReapplyRefused,
)
from restoredrill.models import (
    DiffDocument,
    ReapplyConflict,
    ReapplyPlan,
    ReapplyReport,
)
from restoredrill.no_cyclic_gc import no_cyclic_gc
from restoredrill.timing import ProgressListener, SilentProgress

_TIMEOUT = re.compile(r"\d+\s*(us|ms|s|min|h|d)?")
SAMPLE_ROWS = 5
_RESUME_HINT = " (committed batches are in the checkpoint: run it again to resume)"


# --- running ---------------------------------------------------------------------------------


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
    with no_cyclic_gc():
        document, digest = read_diff(diff_file)
        return reapply_document(document, diff_file, to_dsn, options, progress, after_batch, digest)


def reapply_document(
    document: DiffDocument,
    diff_file: Path,
    to_dsn: str,
    options: ReapplyOptions | None = None,
    progress: ProgressListener | None = None,
    after_batch: AfterBatch | None = None,
    digest: str | None = None,
) -> ReapplyReport:
    """``digest``: the SHA-256 of ``diff_file`` when the caller has it (read_diff)."""
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
    if opts.sql_out is not None:
        check_writable(opts.sql_out, opts.force, "the SQL script", make_dir=True)
    engine = engine_for_dsn(to_dsn)
    label = dsnlib.redact(to_dsn)
    try:
        with no_cyclic_gc():
            digest = digest or _diff_digest(diff_file, document)
            report = _connected(
                engine, document, diff_file, digest, to_dsn, label, opts, listener, after_batch
            )
    except BaseException as exc:
        if opts.execute and opts.record:
            verdict = f"ERROR: {type(exc).__name__}"
            record_write("reapply", opts.ledger, label, diff_file, verdict, {"error": str(exc)})
        raise
    if opts.execute and opts.record:
        details = reapply_details(report)
        record_write("reapply", opts.ledger, label, diff_file, reapply_verdict(report), details)
    return report


def _connected(
    engine: Engine,
    document: DiffDocument,
    diff_file: Path,
    digest: str,
    to_dsn: str,
    label: str,
    opts: ReapplyOptions,
    listener: ProgressListener,
    after_batch: AfterBatch | None,
) -> ReapplyReport:
    started = time.monotonic()
    conn = engine.connect(to_dsn, read_only=not opts.execute)
    try:
        engine.pin_for_writes(conn)
        return _reapply(
            engine, document, diff_file, digest, conn, label, opts, listener, after_batch, started
        )
    except ReapplyInterrupted:
        raise
    except ReapplyDataProblem as exc:  # a parent row reapply itself found missing
        if opts.execute and checkpoint_path(diff_file).is_file():
            raise ReapplyDataProblem(f"{exc}{_RESUME_HINT}") from None
        raise
    except BaseException as exc:
        interrupt = interrupt_in(exc)
        if interrupt is not None:  # before or outside the batches: nothing written by this run
            raise Interrupted(_not_written(interrupt, diff_file, label, opts)) from None
        if not isinstance(exc, engine.errors):
            raise
        hint = ""
        if opts.execute and checkpoint_path(diff_file).is_file():
            hint = _RESUME_HINT
        problem = _foreign_key_violation(engine, conn, exc)
        if problem is not None:  # a data problem for a person (exit 1), not infrastructure
            raise ReapplyDataProblem(
                f"reapply stopped: {problem}; the batch was rolled back{hint}"
            ) from exc
        raise DatabaseUnavailable(f"reapply failed: {engine.one_line(exc)}{hint}") from exc
    finally:
        engine.close(conn)


def _foreign_key_violation(engine: Engine, conn: Any, exc: BaseException) -> str | None:
    try:
        return engine.foreign_key_violation(conn, exc)
    except engine.errors:  # the connection is gone: the error is told as it is
        return None


def _not_written(
    interrupt: BaseException, diff_file: Path, label: str, opts: ReapplyOptions
) -> str:
    what = interrupt_text(interrupt)
    if not opts.execute:
        return f"{what}: nothing was written (dry run)"
    line = f"{what}: nothing was written by this run"
    checkpoint_file = checkpoint_path(diff_file)
    if checkpoint_file.is_file():
        line += f"; the checkpoint {checkpoint_file} lets a rerun resume"
    return f"{line}: {resume_command(diff_file, label, opts)}"


def _diff_digest(diff_file: Path, document: DiffDocument) -> str:
    try:
        with diff_file.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:  # of the document as it would be written (its rows may be on disk)
        return document_digest(document)


def _reapply(
    engine: Engine,
    document: DiffDocument,
    diff_file: Path,
    digest: str,
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
    works = [prepare(engine, conn, d, opts.only) for d in document.tables]
    if opts.where is not None and opts.where.strip():
        for work in works:
            filter_items(engine, conn, work, opts.where)
    works = order_works(engine, conn, works)
    for work in works:
        work.triggers = plan_triggers(
            engine,
            conn,
            work.table,
            work.items.count("lost") > 0,
            work.items.count("changed") > 0,
        )
    selected = sum(len(w.items) for w in works)
    over = selected > opts.max_rows
    sql_path = opts.sql_out or default_sql_path(diff_file)
    checkpoint_file = checkpoint_path(diff_file)
    checkpoint = read_checkpoint(checkpoint_file) if opts.execute else None
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
        if work.items.count("changed"):
            name = checkpoint.archive_tables.get(work.diff.table) if checkpoint else None
            work.archive = (
                TableName(engine.archive_schema, name)
                if name
                else engine.archive_table_name(work.table, stamp)
            )
    write_script(engine, conn, document, diff_file, sql_path, works, opts, target, selected)
    if opts.execute:  # said before the batches (minutes); a dry run's report follows at once
        listener.note(f"SQL script: {sql_path}")

    conflicts: list[ReapplyConflict] = []
    done = 0
    if opts.execute:
        run = Run(
            opts=opts,
            checkpoint=checkpoint,
            checkpoint_file=checkpoint_file,
            digest=digest,
            target=target,
            stamp=stamp,
            resume=resume_command(diff_file, label, opts),
            listener=listener,
            after_batch=after_batch,
        )
        done = execute(engine, conn, works, run, conflicts)
    else:
        predict(engine, conn, works, opts, conflicts, listener)
    plans = [
        ReapplyPlan(
            table=w.diff.table,
            key=w.key,
            selected_lost=w.items.count("lost"),
            selected_changed=w.items.count("changed"),
            inserted=w.totals.get("insert", 0),
            updated=w.totals.get("update", 0),
            already=w.totals.get("already", 0),
            conflicts=w.totals.get("conflict", 0),
            archive_table=(
                w.archive.display
                if w.archive is not None and opts.execute and w.totals.get("update")
                else None
            ),
            sample=[i.values for i in w.items.range(0, SAMPLE_ROWS)],
            triggers=[t.describe(set(w.triggers.events)) for t in w.triggers.firing()],
            notes=list(w.triggers.notes),
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
        batches=done,
        tables=plans,
        conflicts=conflicts[:CONFLICTS_LISTED],
        seconds=time.monotonic() - started,
    )


def exit_code(report: ReapplyReport) -> int:
    """0 done (or nothing to do), 1 rows skipped as conflicts (need a person)."""
    return 1 if report.conflict_count else 0


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_STATEMENT_TIMEOUT",
    "Checkpoint",
    "ReapplyInterrupted",
    "ReapplyOptions",
    "checkpoint_path",
    "default_sql_path",
    "exit_code",
    "identity_problem",
    "reapply",
    "reapply_document",
    "same_instance",
]
