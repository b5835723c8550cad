"""Diff one table (or several) between a restored database and production, keyed, by checksum
bisection over key ranges (DESIGN.md "Diff").

1. Split points are taken from ONE side in a single pass over the key index (every k-th key
   in key order), so both sides use the SAME boundaries.
2. Per range, count + checksum are computed inside each server, both sides in parallel
   (threads, one connection per side, each in one REPEATABLE READ READ ONLY snapshot), with
   ONE statement per side per level whatever the number of ranges.
3. Ranges whose count or checksum differ are split again (boundaries from the side with
   more rows there); ranges small enough are fetched — their rows' text forms, computed in
   the server — and compared in Python by exact string equality. Where most sub-ranges of a
   range differ (a DELETE of 40 % of a table), splitting further would fetch nearly every
   row leaf by leaf: those ranges are listed as (row hash, key) and only the differing keys
   fetched (drill/diff_rows.py; drill/diff_bisect.py decides).

The first level hashes every row once on each side; after that the work is proportional to
the number of differences times the leaf size, and the number of round trips grows with the
logarithm of the table size. Peak memory holds the ranges in flight and the differing rows,
never the table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from restoredrill import dsn as dsnlib
from restoredrill.drill import guards
from restoredrill.drill.diff_bisect import Bisection
from restoredrill.drill.diff_document import (
    has_differences,
    load_diff,
    make_document,
    not_compared,
    print_diff,
    verdict,
    write_diff,
)
from restoredrill.drill.diff_sides import (
    DiffOptions,
    Sides,
    connect_side,
    resolve_table,
    snapshots,
    table_shape,
)
from restoredrill.drill.diff_spool import KINDS
from restoredrill.drill.private_file import check_writable
from restoredrill.engines.base import engine_for_dsns
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, DatabaseUnavailable
from restoredrill.models import (
    DiffColumn,
    DiffCounts,
    DiffDocument,
    DiffStats,
    PhaseTiming,
    RowDiff,
    ServerIdentity,
)
from restoredrill.no_cyclic_gc import no_cyclic_gc
from restoredrill.timing import ProgressListener, SilentProgress


def split_list(items: Sequence[str] | None) -> list[str] | None:
    """``--key a,b`` / repeated options → ['a', 'b']; None when not given."""
    if not items:
        return None
    parts = [p.strip() for item in items for p in item.split(",")]
    return [p for p in parts if p] or None


# --- public API ----------------------------------------------------------------------------------


def _check_where(
    sides: Sides,
    table: TableName,
    where: str | None,
    which: Sequence[str] = ("restored", "production"),
) -> None:
    if where is None or not where.strip():
        return
    engine = sides.engine
    probe = engine.where_probe(table, where)
    for side in which:
        conn = sides.conn(side)
        try:
            with engine.savepoint(conn):
                engine.fetchall(conn, probe, [])
        except engine.errors as exc:
            if engine.broken(conn) or engine.timeout_kind(exc) is not None:
                raise
            raise ConfigError(
                f"--where is not valid for {table.display} ({side}): {engine.one_line(exc)}"
            ) from exc


def _missing_side(sides: Sides, table: TableName, where: str | None) -> RowDiff | None:
    """A table on one side only: a difference of the whole table (its rows counted on the
    side that has it); None when both sides have it."""
    engine = sides.engine
    present = {
        side: bool(engine.column_info(sides.conn(side), table))
        for side in ("restored", "production")
    }
    if all(present.values()):
        return None
    side = "restored" if present["restored"] else "production"
    absent = "production" if side == "restored" else "restored"
    _check_where(sides, table, where, (side,))
    count = sides.run({side: (engine.count_query(table, engine.where_sql(where)), [])})
    rows = int(count[side][0][0])
    there = "the restored database" if side == "restored" else "production"
    return RowDiff(
        table=table.display,
        schema_name=table.schema,
        table_name=table.name,
        keyed=False,
        key=[],
        columns=[
            DiffColumn(name=c.name, type=c.type)
            for c in engine.column_info(sides.conn(side), table)
        ],
        where=where,
        rows_restored=rows if side == "restored" else 0,
        rows_production=rows if side == "production" else 0,
        counts=DiffCounts(),
        lost=[],
        new=[],
        changed=[],
        note=f"missing in {'the restored database' if absent == 'restored' else 'production'} "
        f"({rows} row(s) in {there})",
        missing_in="restored" if absent == "restored" else "production",
    )


def _diff_table(
    sides: Sides,
    spec: str,
    key: Sequence[str] | None,
    columns: Sequence[str] | None,
    where: str | None,
    options: DiffOptions,
    listener: ProgressListener,
) -> RowDiff:
    started = time.monotonic()
    engine = sides.engine
    table = resolve_table(sides, spec)
    sides.table = table.display
    missing = _missing_side(sides, table, where)
    if missing is not None:
        return missing
    shape, reason = table_shape(sides, table, key, columns)
    _check_where(sides, table, where)
    where_sql = engine.where_sql(where)
    if shape is None:
        counts = sides.both(lambda side: (engine.count_query(table, where_sql), []))
        n_r = int(counts["restored"][0][0])
        n_p = int(counts["production"][0][0])
        return RowDiff(
            table=table.display,
            schema_name=table.schema,
            table_name=table.name,
            keyed=False,
            key=[],
            columns=[
                DiffColumn(name=c.name, type=c.type)
                for c in engine.column_info(sides.restored, table)
            ],
            where=where,
            rows_restored=n_r,
            rows_production=n_p,
            counts=DiffCounts(),
            lost=[],
            new=[],
            changed=[],
            note=f"{reason}; counts only: {n_r} restored, {n_p} in production",
        )
    estimates = {
        side: engine.estimate_rows(sides.conn(side), table) for side in ("restored", "production")
    }
    known = {side: n for side, n in estimates.items() if n is not None}
    estimate_side = max(known, key=lambda s: known[s]) if known else "restored"
    estimate = known.get(estimate_side)
    if estimate is not None and estimate == 0:
        estimate = None  # never analyzed or really empty: one range first, split if big
    bisection = Bisection(sides, shape, where_sql, options, listener)
    bisection.run(estimate, estimate_side)
    stats = bisection.stats
    found = bisection.rows.found  # on disk: the RowDiff reads them from there
    seconds = time.monotonic() - started
    hashed = stats.rows_restored + stats.rows_production
    key_names = {c.name for c in shape.key}
    compared_names = {c.name for c in shape.compared}
    result = RowDiff(
        table=table.display,
        schema_name=table.schema,
        table_name=table.name,
        keyed=True,
        key=[c.name for c in shape.key],
        columns=[
            DiffColumn(
                name=c.name,
                type=c.type,
                key=c.name in key_names,
                compared=c.name in compared_names,
            )
            for c in shape.columns
        ],
        where=where,
        rows_restored=stats.rows_restored,
        rows_production=stats.rows_production,
        counts=DiffCounts(
            lost=found.count("lost"), new=found.count("new"), changed=found.count("changed")
        ),
        lost=[],
        new=[],
        changed=[],
        stats=DiffStats(
            seconds=seconds,
            levels=stats.levels,
            round_trips=sides.round_trips,
            buckets_checked=stats.buckets_checked,
            rows_hashed_restored=stats.hashed_restored,
            rows_hashed_production=stats.hashed_production,
            rows_fetched=stats.fetched,
            scan_seconds=stats.scan_seconds,
            scan_rows_per_second=hashed / stats.scan_seconds if stats.scan_seconds > 0 else None,
            rows_listed=stats.listed,
            dense_ranges=stats.dense_ranges,
        ),
    )
    # the rows stay on disk (drill/diff_spool.py), put in without validation: they were
    # validated when spooled, and validating would read every row back into memory
    return result.model_copy(update={kind: found.rows(kind) for kind in KINDS})


def diff_tables(
    restored_dsn: str,
    production_dsn: str,
    tables: Sequence[str],
    key: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    progress: ProgressListener | None = None,
    options: DiffOptions | None = None,
    lock_timeout: str = guards.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: str = guards.DEFAULT_STATEMENT_TIMEOUT,
) -> tuple[ServerIdentity, ServerIdentity, list[RowDiff]]:
    """Diff ``tables`` (both sides opened read-only; production with ``lock_timeout`` and
    ``statement_timeout``, and never the restored side's very database); returns both
    identities and the diffs."""
    listener = progress or SilentProgress()
    limits = guards.session_limits(lock_timeout, statement_timeout)
    if (key or columns) and len(tables) != 1:
        raise ConfigError("--key and --columns apply to a single --table")
    if not tables:
        raise ConfigError("choose a table to diff (--table)")
    engine = engine_for_dsns(restored_dsn, production_dsn)
    restored = connect_side(engine, restored_dsn)
    try:
        production = connect_side(engine, production_dsn)
    except BaseException:
        engine.close(restored)
        raise
    sides = Sides(engine, restored, production)
    spec: str | None = None
    try:
        engine.limit_session(production, limits.lock_timeout, limits.statement_timeout)
        restored_id = engine.server_identity(restored, dsnlib.redact(restored_dsn))
        production_id = engine.server_identity(production, dsnlib.redact(production_dsn))
        guards.refuse_same_server(restored_id, production_id, "diff")
        results: list[RowDiff] = []
        with snapshots(sides), no_cyclic_gc():
            for spec in tables:
                sides.round_trips = 0
                listener.phase_started(f"diff {spec}")
                result = _diff_table(
                    sides, spec, key, columns, where, options or DiffOptions(), listener
                )
                listener.phase_finished(
                    PhaseTiming(
                        name=f"diff {result.table}",
                        seconds=result.stats.seconds if result.stats else 0.0,
                        detail=(
                            f"{result.counts.lost} lost, {result.counts.new} new, "
                            f"{result.counts.changed} changed"
                        ),
                    )
                )
                results.append(result)
    except engine.errors as exc:
        kind = engine.timeout_kind(exc)
        if kind is not None and sides.failed_side != "restored":  # only production is limited
            where_ = f"production ({dsnlib.describe(production_dsn)})"
            raise guards.timeout_error(kind, sides.table or spec, limits, where_) from exc
        raise DatabaseUnavailable(f"diff failed: {engine.one_line(exc)}") from exc
    finally:
        sides.close()
        engine.close(restored)
        engine.close(production)
    return restored_id, production_id, results


def diff(
    restored_dsn: str,
    production_dsn: str,
    table: str,
    key: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    out: Path | None = None,
    progress: ProgressListener | None = None,
    options: DiffOptions | None = None,
    lock_timeout: str = guards.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: str = guards.DEFAULT_STATEMENT_TIMEOUT,
    force: bool = False,
) -> DiffDocument:
    """``restoredrill diff``: one table, restored vs production now; written to ``out``
    (an existing file only with ``force``: checked before any work)."""
    if out is not None:
        check_writable(out, force, "the diff file", make_dir=True)
    restored_id, production_id, results = diff_tables(
        restored_dsn,
        production_dsn,
        [table],
        key,
        columns,
        where,
        progress,
        options,
        lock_timeout,
        statement_timeout,
    )
    document = DiffDocument(
        created_at=datetime.now(UTC),
        mode="production",
        restored=restored_id,
        production=production_id,
        where=where,
        tables=results,
    )
    if out is not None:
        write_diff(document, out, force)
    return document


__all__ = [
    "DiffOptions",
    "diff",
    "diff_tables",
    "has_differences",
    "load_diff",
    "make_document",
    "not_compared",
    "print_diff",
    "split_list",
    "verdict",
    "write_diff",
]
