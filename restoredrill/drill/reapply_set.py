"""One reapply batch by set (engines whose ``staging(conn)`` is not None): the batch's rows are
streamed into a session-local staging table, production's rows with those keys are locked
and read, every row is classified as before (reapply_work.classify), then a few guarded
statements write the batch: the archive of what the UPDATEs overwrite, one UPDATE per group
of SET columns, one INSERT of the lost rows. The guard is repeated in every write, so a row
edited since the read is skipped, as with the per-row statements; the written rows are read
back (a trigger may have rewritten them) before the caller commits. The INSERT is tried
without ON CONFLICT first, under a savepoint (PostgresStager.apply): same outcome, faster."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

from restoredrill.drill.reapply_items import Batch, Item
from restoredrill.drill.reapply_readback import Written, check_written
from restoredrill.drill.reapply_work import (
    TableWork,
    classify,
    rows_by_key,
    values_of,
)
from restoredrill.engines.base import Engine
from restoredrill.engines.staging import Stager, StageRow, StageSpec
from restoredrill.models import RowOutcome, RowValues


class NeedArchive(Exception):
    """A batch is about to archive its first row: roll back, create the archive, redo it."""


def stage_spec(work: TableWork) -> StageSpec:
    return StageSpec(
        table=work.table,
        key=tuple(work.key),
        columns=tuple(work.insert_columns),
        compared=tuple(work.compared),
        guarded=tuple(work.guarded),
        all_columns=tuple(work.target_columns),
        overriding=work.overriding,
        infos=tuple(work.columns),
    )


def set_groups(
    work: TableWork, batch: Sequence[Item]
) -> tuple[list[tuple[str, ...]], list[int | None]]:
    """The distinct SET column lists of the batch's changed rows (columns the server would
    stamp are assigned too, so they keep their restored values), and each row's group."""
    groups: dict[tuple[str, ...], int] = {}
    sigs: list[int | None] = []
    for item in batch:
        if item.kind != "changed":
            sigs.append(None)
            continue
        stamps = [
            c
            for c in work.triggers.stamp_columns
            if c in work.insert_columns and c not in item.set_columns
        ]
        sigs.append(groups.setdefault((*item.set_columns, *stamps), len(groups)))
    return list(groups), sigs


def stage_rows(
    work: TableWork, batch: Sequence[Item], sigs: Sequence[int | None]
) -> Iterator[StageRow]:
    values_at, guard_at = values_of(work.insert_columns), values_of(work.guarded)
    no_guard = (None,) * len(work.guarded)
    for n, item in enumerate(batch):
        guard = no_guard if item.guard is None else guard_at(item.guard)
        yield (n, sigs[n], *values_at(item.values), *guard)


def stage_lost(work: TableWork, values: Sequence[RowValues]) -> Iterator[StageRow]:
    """``stage_rows`` of a batch of lost rows, from their values (no Item made; the column
    getter inlined: this runs once per row, 400,000 times for a DELETE of 40 % of 1 M)."""
    columns, no_guard = work.insert_columns, (None,) * len(work.guarded)
    if len(columns) < 2:  # itemgetter of one column gives the value, not a tuple
        values_at = values_of(columns)
        for n, row in enumerate(values):
            yield (n, None, *values_at(row), *no_guard)
        return
    get = itemgetter(*columns)
    for n, row in enumerate(values):
        try:
            yield (n, None, *get(row), *no_guard)
        except KeyError:  # a value the diff left out is NULL, as values_of reads it
            yield (n, None, *(row.get(c) for c in columns), *no_guard)


def last_values(batch: Sequence[Item]) -> RowValues:
    """The batch's last row's values (for the checkpoint), without making its Items if it
    holds lost rows only."""
    values = batch.lost_values() if isinstance(batch, Batch) else None
    return values[-1] if values else batch[-1].values


def encode(
    stager: Stager, conn: Any, work: TableWork, batch: Sequence[Item]
) -> tuple[StageSpec, list[tuple[str, ...]], list[int | None], bytes]:
    """(spec, groups of SET columns, each row's group, the COPY data of the batch); a batch
    of lost rows only is encoded from their values."""
    spec = stage_spec(work)
    values = batch.lost_values() if isinstance(batch, Batch) else None
    if values is not None:
        data = stager.encode(conn, spec, stage_lost(work, values))
        return spec, [], [None] * len(values), data
    groups, sigs = set_groups(work, batch)
    return spec, groups, sigs, stager.encode(conn, spec, stage_rows(work, batch, sigs))


def batch_statements(
    stager: Stager,
    spec: StageSpec,
    work: TableWork,
    batch: Sequence[Item],
    groups: Sequence[tuple[str, ...]],
    sigs: Sequence[int | None],
    archive: bool,
    updates: set[int] | None = None,
) -> tuple[Any, list[Any], Any]:
    """(archive or None, UPDATEs, INSERT or None); ``updates``: the positions expected to be
    reverted (default: every changed row) — groups without one are left out."""
    wanted = {n for n, s in enumerate(sigs) if s is not None} if updates is None else updates
    used = sorted({s for n in wanted if (s := sigs[n]) is not None})
    archive_statement = (
        stager.archive(spec, work.archive) if archive and used and work.archive else None
    )
    update_statements = [stager.update(spec, g, groups[g]) for g in used]
    lost = any(s is None for s in sigs)  # a lost row has no SET group (not a look at batch)
    return archive_statement, update_statements, stager.insert(spec) if lost else None


Encoded = tuple[StageSpec, list[tuple[str, ...]], list[int | None], bytes]


def write_set(
    engine: Engine,
    stager: Stager,
    conn: Any,
    work: TableWork,
    batch: Sequence[Item],
    payload: Encoded | None = None,
) -> tuple[list[tuple[RowOutcome, str]], set[int], set[int], dict[int, str]]:
    """Stage, lock, classify and write one batch inside the caller's transaction: returns
    (expected outcome per row, positions updated, positions inserted, rows rewritten: why).
    ``payload``: the batch as ``encode`` made it for the script (encoded once)."""
    spec, groups, sigs, data = encode(stager, conn, work, batch) if payload is None else payload
    stager.load(conn, spec, data)
    lost = [n for n, s in enumerate(sigs) if s is None]
    changed = [n for n, s in enumerate(sigs) if s is not None]
    decided: dict[int, tuple[RowOutcome, str]] = {}  # by the server: reverted, or already
    others: list[Any] = []  # production's text forms of the other changed rows it has
    if changed:
        stager.before_join(conn)
        for row in engine.fetchall(conn, stager.lock(spec), []):
            if row[1]:  # the guard admits it: the UPDATE reverts it
                decided[int(row[0])] = ("update", "")
            elif row[2]:  # it reads as staged: reverted already
                decided[int(row[0])] = ("already", "")
            else:
                others.append(row[3:])
    current = rows_by_key(work, others)
    # a lost row's outcome is known once the INSERT has run (inserted, or skipped: then it
    # is read below); a changed row's from the locked read: decided in the server for a
    # revert and a rerun (no row parsed), the others classified here (conflicts)
    expected: list[tuple[RowOutcome, str]] = [("insert", "")] * len(batch)
    for n in changed:
        expected[n] = decided.get(n) or classify(work, batch[n], current)
    updates = {n for n in changed if expected[n][0] == "update"}
    if updates and work.archive is not None and not work.archive_exists:
        raise NeedArchive
    archive, update_statements, insert = batch_statements(
        stager, spec, work, batch, groups, sigs, work.archive_exists, updates
    )
    updated, inserted = stager.apply(conn, spec, archive, update_statements, insert)
    if inserted is None or len(inserted) == len(lost):
        # the INSERT inserts staged lost rows only, each key once: all of them went in
        added = set(lost)
    else:
        key_at = values_of(work.key)
        added = {n for n in lost if key_at(batch[n].values) in inserted}
    skipped = [n for n in lost if n not in added]
    if skipped:  # already there, or a conflict: production's row tells which
        stager.before_join(conn)
        unlike = {int(r[0]): r[1:] for r in engine.fetchall(conn, stager.skipped(spec), [])}
        present = rows_by_key(work, [r for r in unlike.values() if r[0] is not None])
        for n in skipped:  # a row not read is held as staged: already there
            expected[n] = classify(work, batch[n], present) if n in unlike else ("already", "")
    positions = sorted(added.union(n for n in updated if sigs[n] is not None))
    bad = stager.readback(conn, spec, positions)
    rewritten = check_written(engine, conn, work, Written(batch, positions), bad)
    return expected, updated, added, rewritten


__all__ = [
    "Encoded",
    "NeedArchive",
    "batch_statements",
    "encode",
    "last_values",
    "set_groups",
    "stage_rows",
    "stage_spec",
    "values_of",
    "write_set",
]
