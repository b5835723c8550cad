"""Running a reapply's batches: the dry run's prediction, and execution — one transaction per
batch, rows locked and classified first, the archive table created only when a row is really
about to be archived, a checkpoint after each commit, and an interrupt (SIGINT/SIGTERM) that
rolls the batch in flight back and says how to resume."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restoredrill.drill.reapply_checkpoint import Checkpoint, write_checkpoint
from restoredrill.drill.reapply_items import Batch, Item, Items
from restoredrill.drill.reapply_readback import check_written
from restoredrill.drill.reapply_set import NeedArchive, write_set
from restoredrill.drill.reapply_work import (
    ReapplyOptions,
    TableWork,
    batch_settings,
    build_batch,
    classify,
    current_rows,
    key_of,
    lock_statement,
)
from restoredrill.engines.base import Engine
from restoredrill.engines.staging import Stager
from restoredrill.errors import Interrupted, InterruptSignal, interrupt_name
from restoredrill.models import ReapplyConflict, RowOutcome, ServerIdentity
from restoredrill.timing import ProgressListener

CONFLICTS_LISTED = 50

# An interrupt inside a batch's COPY or pipeline leaves the connection busy: psycopg's
# ROLLBACK on the way out fails and it logs "error ignored in rollback" (to stderr, without a
# handler). The connection is then cancelled and closed, so the server rolls the batch back;
# the one line printed is reapply's own.
logging.getLogger("psycopg").addHandler(logging.NullHandler())
AfterBatch = Callable[[int], None]


@dataclass
class Every:
    """A progress line every few seconds, not one per batch (400 lines for 4,000,000 rows
    would bury what matters)."""

    seconds: float = 2.0
    last: float = field(default_factory=time.monotonic)

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


class ReapplyInterrupted(Interrupted):
    """An executing reapply stopped by a signal; the message says how to resume."""


def interrupt_in(exc: BaseException) -> BaseException | None:
    """The interrupt behind ``exc``: itself, or one a cleanup error replaced (a driver that
    fails to roll back over a connection cut mid-statement raises its own error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt | Interrupted):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def interrupt_text(exc: BaseException) -> str:
    if isinstance(exc, InterruptSignal):
        return interrupt_name(exc.signame)
    if isinstance(exc, Interrupted):
        return str(exc)
    return interrupt_name(None)


def batches(items: Items, size: int, start: int = 0) -> Iterator[tuple[int, Batch]]:
    """Made a batch at a time, when looked at: the rows may be on disk (reapply_items)."""
    for begin in range(start, len(items), size):
        yield begin, items.batch(begin, begin + size)


def _conflict(work: TableWork, item: Item, reason: str) -> ReapplyConflict:
    return ReapplyConflict(
        table=work.diff.table, key=key_of(work, item.values), kind=item.kind, reason=reason
    )


def predict(
    engine: Engine,
    conn: Any,
    works: list[TableWork],
    opts: ReapplyOptions,
    conflicts: list[ReapplyConflict],
    listener: ProgressListener,
) -> None:
    """Dry run: read (never lock) the current rows and predict every outcome."""
    every = Every()
    with engine.transaction(conn):
        for work in works:
            for begin, batch in batches(work.items, opts.batch_size):
                lock = lock_statement(engine, work, batch, for_update=False)
                current = current_rows(engine, conn, work, lock)
                for item in batch:
                    outcome, reason = classify(work, item, current)
                    work.totals[outcome] = work.totals.get(outcome, 0) + 1
                    if outcome == "conflict":
                        conflicts.append(_conflict(work, item, reason))
                if every.due():
                    done, total = begin + len(batch), len(work.items)
                    listener.note(f"{work.diff.table}: {done:,}/{total:,} row(s) predicted")


@dataclass
class Run:
    """What ``execute`` needs besides the work; ``state`` says where an interrupt landed."""

    opts: ReapplyOptions
    checkpoint: Checkpoint | None
    checkpoint_file: Path
    digest: str
    target: ServerIdentity
    stamp: str
    resume: str  # the command that resumes from the checkpoint
    listener: ProgressListener
    after_batch: AfterBatch | None = None
    state: str = "idle"  # idle | open | commit | committed
    committed: int = 0  # batches committed by this run
    stager: Stager | None = None  # set-based batches (engine.staging), else row by row
    progress: Every = field(default_factory=Every)  # when progress lines are due


def _apply(
    engine: Engine,
    conn: Any,
    work: TableWork,
    batch: Batch,
    run: Run,
    conflicts: list[ReapplyConflict],
    begin: int,
) -> None:
    """One batch in one transaction: lock and classify, then write only the changed rows
    that still hold their guard (archived first), and the lost rows."""
    opts = run.opts
    stager = run.stager
    with engine.transaction(conn):
        run.state = "open"
        for statement in batch_settings(engine, work, opts):
            engine.execute(conn, statement)
        if stager is not None:
            kept = work.payloads.get(begin)
            payload = None if kept is None else (*kept[0][0], kept[1])
            found = write_set(engine, stager, conn, work, batch, payload)
            expected, updated, inserted, rewritten = found
        else:
            rows = batch.made()
            expected, updated, inserted, rewritten = _write_rows(engine, conn, work, rows, opts)
        totals = work.totals
        # classify says "insert" of lost rows only and "update" of changed rows only
        for n, (outcome, reason) in enumerate(expected):
            if outcome == "insert" and n not in inserted:
                outcome, reason = "conflict", "inserted concurrently in production"
            elif outcome == "update" and n not in updated:
                outcome, reason = "conflict", "the guard did not match when writing"
            if n in rewritten:
                outcome, reason = "conflict", rewritten[n]
            totals[outcome] = totals.get(outcome, 0) + 1
            if outcome == "conflict":
                conflicts.append(_conflict(work, batch[n], reason))
        run.state = "commit"  # leaving the block sends COMMIT
    run.state = "committed"
    run.committed += 1


def _write_rows(
    engine: Engine, conn: Any, work: TableWork, batch: list[Item], opts: ReapplyOptions
) -> tuple[list[tuple[RowOutcome, str]], set[int], set[int], dict[int, str]]:
    """``write_set`` with one guarded statement per row (engines without staging)."""
    current = current_rows(engine, conn, work, lock_statement(engine, work, batch, True))
    expected = [classify(work, i, current) for i in batch]
    updates = {n for n, (outcome, _) in enumerate(expected) if outcome == "update"}
    if updates and work.archive is not None and not work.archive_exists:
        raise NeedArchive
    statements = build_batch(
        engine, work, batch, opts, True, archive_rows=work.archive_exists, updates=updates
    )
    updated, inserted = engine.apply_batch(conn, statements.writes, statements.insert)
    added = {
        n
        for n, item in enumerate(batch)
        if item.kind == "lost" and tuple(item.values.get(k) for k in work.key) in inserted
    }
    written = {
        n: item
        for n, item in enumerate(batch)
        if n in added or (item.kind == "changed" and n in updated)
    }
    return expected, updated, added, check_written(engine, conn, work, written)


def _create_archive(engine: Engine, conn: Any, work: TableWork) -> None:
    assert work.archive is not None
    with engine.transaction(conn):
        for statement in engine.create_archive(work.table, work.archive):
            engine.execute(conn, statement)
    work.archive_exists = True


def execute(
    engine: Engine,
    conn: Any,
    works: list[TableWork],
    run: Run,
    conflicts: list[ReapplyConflict],
) -> int:
    """Apply every batch; returns the number of batches committed over all runs. An interrupt
    becomes ReapplyInterrupted (exit 130) whose one line says how to resume."""
    try:
        return _execute(engine, conn, works, run, conflicts)
    except BaseException as exc:
        interrupt = interrupt_in(exc)
        if interrupt is None:
            raise
        # The connection may be cut mid-statement: stop the statement, drop the connection
        # (the server rolls an uncommitted transaction back); reapply_document closes it again.
        with contextlib.suppress(Exception):
            engine.cancel(conn)
        with contextlib.suppress(Exception):
            engine.close(conn)
        raise ReapplyInterrupted(_interrupted_line(interrupt, run)) from None


def _interrupted_line(interrupt: BaseException, run: Run) -> str:
    in_flight = {
        "idle": "no batch was in flight",
        "open": "the batch in flight was rolled back",
        "commit": "the batch in flight was interrupted while committing (a rerun re-checks it)",
        "committed": "the last batch committed (a rerun re-checks it)",
    }[run.state]
    done = run.committed + (run.checkpoint.batches if run.checkpoint else 0)
    if done == 0 and run.state in ("idle", "open"):
        return (
            f"{interrupt_text(interrupt)}: nothing was written ({in_flight}); "
            f"run it again: {run.resume}"
        )
    return (
        f"{interrupt_text(interrupt)}: {done} batch(es) committed, {in_flight}; the checkpoint "
        f"{run.checkpoint_file} lets a rerun resume: {run.resume}"
    )


def _execute(
    engine: Engine,
    conn: Any,
    works: list[TableWork],
    run: Run,
    conflicts: list[ReapplyConflict],
) -> int:
    checkpoint = run.checkpoint
    run.stager = engine.staging(conn)
    positions = dict(checkpoint.positions) if checkpoint else {}
    last_keys = dict(checkpoint.last_keys) if checkpoint else {}
    if checkpoint is not None:
        conflicts.extend(checkpoint.conflicts)
        for work in works:
            work.totals = dict(checkpoint.totals.get(work.diff.table, {}))
    archives = {w.diff.table: w.archive.name for w in works if w.archive is not None}
    total = checkpoint.batches if checkpoint else 0
    for work in works:
        start = positions.get(work.diff.table, 0)
        if start:
            run.listener.note(f"{work.diff.table}: resuming after {start} row(s) (checkpoint)")
        for begin, batch in batches(work.items, run.opts.batch_size, start):
            try:
                _apply(engine, conn, work, batch, run, conflicts, begin)
            except NeedArchive:
                run.state = "idle"  # rolled back: nothing of this batch was written
                _create_archive(engine, conn, work)
                _apply(engine, conn, work, batch, run, conflicts, begin)
            total += 1
            positions[work.diff.table] = begin + len(batch)
            head = work.payloads.head(begin)  # the script writer kept the batch's last key
            last = head[1] if head is not None else key_of(work, batch[-1].values)
            work.payloads.discard(begin)
            last_keys[work.diff.table] = last
            write_checkpoint(
                run.checkpoint_file,
                Checkpoint(
                    diff_sha256=run.digest,
                    target=run.target,
                    only=run.opts.only,
                    where=run.opts.where,
                    stamp=run.stamp,
                    archive_tables=archives,
                    positions=positions,
                    last_keys=last_keys,
                    totals={w.diff.table: dict(w.totals) for w in works},
                    conflicts=conflicts[:CONFLICTS_LISTED],
                    batches=total,
                ),
            )
            run.state = "idle"
            written = positions[work.diff.table]
            if run.progress.due() or written == len(work.items):  # and at each table's end
                run.listener.note(f"{work.diff.table}: {written:,}/{len(work.items):,} row(s) done")
            if run.after_batch is not None:
                run.after_batch(total)
    with contextlib.suppress(FileNotFoundError):
        run.checkpoint_file.unlink()  # complete: a later run starts over (and changes nothing)
    return total


__all__ = [
    "CONFLICTS_LISTED",
    "AfterBatch",
    "ReapplyInterrupted",
    "Run",
    "batches",
    "execute",
    "interrupt_in",
    "interrupt_text",
    "predict",
]
