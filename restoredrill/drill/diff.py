"""Diff one table (or several) between a restored database and production, keyed, by checksum
bisection over key ranges (DESIGN.md "Diff").

1. Split points are taken from ONE side in a single pass over the key index (every k-th key
   in key order), so both sides use the SAME boundaries.
2. Per range, count + checksum are computed inside each server, both sides in parallel
   (threads, one connection per side, each in one REPEATABLE READ READ ONLY snapshot), with
   ONE statement per side per level whatever the number of ranges.
3. Ranges whose count or checksum differ are split again (boundaries from the side with
   more rows there); ranges small enough are fetched — their rows' text forms, computed in
   the server — and compared in Python by exact string equality.

The first level hashes every row once on each side; after that the work is proportional to
the number of differences times the leaf size, and the number of round trips grows with the
logarithm of the table size. Peak memory holds the ranges in flight and the differing rows,
never the table.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from restoredrill import dsn as dsnlib
from restoredrill.drill import guards
from restoredrill.drill.private_file import check_writable, write_private
from restoredrill.engines.base import Engine, engine_for_dsns
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres_diff import KeyRange, KeyText
from restoredrill.errors import ConfigError, DatabaseUnavailable
from restoredrill.models import (
    ChangedRow,
    DiffColumn,
    DiffCounts,
    DiffDocument,
    DiffMode,
    DiffStats,
    PhaseTiming,
    RowDiff,
    RowValues,
    ServerIdentity,
)
from restoredrill.timing import ProgressListener, SilentProgress

T = TypeVar("T")


@dataclass(frozen=True)
class DiffOptions:
    """Bisection tuning. Leaves of at most ``fetch_threshold`` rows (on the bigger side) are
    fetched; bigger differing ranges are split into about size/fetch_threshold parts (at most
    ``max_fanout``, and at most ``first_level_buckets`` for the first split)."""

    fetch_threshold: int = 64
    first_level_buckets: int = 4096
    max_fanout: int = 4096
    fetch_chunk_rows: int = 20_000  # rows per fetch statement per side (bounds memory)
    check_chunk_ranges: int = 20_000  # ranges per checksum statement


def split_list(items: Sequence[str] | None) -> list[str] | None:
    """``--key a,b`` / repeated options → ['a', 'b']; None when not given."""
    if not items:
        return None
    parts = [p.strip() for item in items for p in item.split(",")]
    return [p for p in parts if p] or None


# --- connections ------------------------------------------------------------------------------


def _connect(engine: Engine, dsn: str) -> Any:
    conn = engine.connect(dsn, read_only=True)
    try:
        engine.pin_session(conn)
    except engine.errors as exc:
        engine.close(conn)
        raise DatabaseUnavailable(f"{dsnlib.redact(dsn)}: {engine.one_line(exc)}") from exc
    return conn


class _Sides:
    """The restored and the production connection, and a two-thread pool to run one
    statement on each in parallel."""

    def __init__(self, engine: Engine, restored: Any, production: Any) -> None:
        self.engine = engine
        self.restored = restored
        self.production = production
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="diff")
        self.round_trips = 0
        self.failed_side: str | None = None  # the side whose statement raised last
        self.table: str | None = None  # the table being diffed, for error messages

    def conn(self, side: str) -> Any:
        return self.restored if side == "restored" else self.production

    def run(self, jobs: dict[str, tuple[Any, list[Any]]]) -> dict[str, list[Any]]:
        """Run one statement per side (in parallel when both are given); returns the rows."""
        self.round_trips += 1
        futures: dict[str, Future[list[Any]]] = {
            side: self.pool.submit(self.engine.fetchall, self.conn(side), query, params)
            for side, (query, params) in jobs.items()
        }
        try:
            results: dict[str, list[Any]] = {}
            for side, future in futures.items():
                self.failed_side = side
                results[side] = future.result()
            self.failed_side = None
            return results
        except BaseException:
            for side in futures:  # stop the other side's query too (Ctrl-C, errors)
                with contextlib.suppress(Exception):
                    self.engine.cancel(self.conn(side))
            for future in futures.values():
                with contextlib.suppress(BaseException):
                    future.result()
            raise

    def both(self, make: Callable[[str], tuple[Any, list[Any]]]) -> dict[str, list[Any]]:
        return self.run({side: make(side) for side in ("restored", "production")})

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@contextlib.contextmanager
def _snapshots(sides: _Sides) -> Iterator[None]:
    """One REPEATABLE READ, READ ONLY transaction per side for the whole diff."""
    engine = sides.engine
    with engine.snapshot(sides.restored), engine.snapshot(sides.production):
        yield


# --- the table's shape ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    table: TableName
    key: list[Any]  # the engine's ColumnInfo objects (name, type, not_null, generated)
    columns: list[Any]  # fetched: every non-generated column both sides share
    compared: list[Any]  # hashed and compared (key included)


def _resolve_table(sides: _Sides, spec: str) -> TableName:
    engine = sides.engine
    known = {t.display: t for t in engine.list_tables(sides.restored)}
    known.update({t.display: t for t in engine.list_tables(sides.production)})
    return known[engine.resolve_table(spec, set(known))]


def _shape(
    sides: _Sides,
    table: TableName,
    key_spec: Sequence[str] | None,
    columns_spec: Sequence[str] | None,
) -> tuple[_Shape | None, str | None]:
    """The key and columns to diff by; (None, reason) when the table has no usable key."""
    engine = sides.engine
    restored_cols = engine.column_info(sides.restored, table)
    production_cols = engine.column_info(sides.production, table)
    if not restored_cols:
        raise ConfigError(f"table {table.display} does not exist in the restored database")
    if not production_cols:
        raise ConfigError(f"table {table.display} does not exist in production")
    by_name = {c.name: c for c in restored_cols}
    other = {c.name: c for c in production_cols}

    if key_spec:
        key_names = list(dict.fromkeys(key_spec))
    else:
        found = engine.key_columns(sides.restored, table)
        if found is None:
            return None, (
                f"cannot diff {table.display} by key: it has no primary key or unique key on "
                "NOT NULL columns (pass --key COLS)"
            )
        key_names = list(found)
    for name in key_names:
        for side, cols in (("restored database", by_name), ("production", other)):
            column = cols.get(name)
            if column is None:
                raise ConfigError(f"--key: {table.display} has no column {name!r} in the {side}")
            if column.generated:
                raise ConfigError(f"--key: column {name!r} is a generated column")
            if not column.not_null:
                raise ConfigError(
                    f"--key: column {name!r} of {table.display} allows NULL in the {side}; "
                    "a diff key must be NOT NULL"
                )
    for side, conn in (("restored database", sides.restored), ("production", sides.production)):
        if not engine.has_key_index(conn, table, key_names):
            raise ConfigError(
                f"no btree index on ({', '.join(key_names)}) of {table.display} in the {side}: "
                "diffing by key range needs one (choose another --key)"
            )

    shared: list[Any] = []
    mismatched: list[str] = []
    for column in restored_cols:
        if column.generated:
            continue
        twin = other.get(column.name)
        if twin is None or twin.type != column.type or twin.generated:
            mismatched.append(column.name)
            continue
        shared.append(column)
    for column in production_cols:
        if column.name not in by_name and not column.generated:
            mismatched.append(column.name)

    if columns_spec:
        wanted = list(dict.fromkeys([*key_names, *columns_spec]))
        names = {c.name for c in shared}
        for name in wanted:
            if name in names:
                continue
            if name in by_name and by_name[name].generated:
                raise ConfigError(f"--columns: {name!r} is a generated column (it follows others)")
            if name in by_name or name in other:
                raise ConfigError(
                    f"--columns: column {name!r} of {table.display} differs in type or is missing "
                    "on one side"
                )
            raise ConfigError(f"--columns: {table.display} has no column {name!r}")
        compared = [c for c in shared if c.name in set(wanted)]
    else:
        if mismatched:
            raise ConfigError(
                f"columns of {table.display} differ between the sides ({', '.join(mismatched)}: "
                "missing or another type); restrict the comparison with --columns"
            )
        compared = list(shared)
    key = [next(c for c in shared if c.name == name) for name in key_names]
    return _Shape(table, key, shared, compared), None


# --- bisection ----------------------------------------------------------------------------------


@dataclass
class _Bucket:
    range: KeyRange
    path: tuple[int, ...]
    restored: int = 0
    production: int = 0

    @property
    def size(self) -> int:
        return max(self.restored, self.production)


@dataclass
class _Split:
    bucket: _Bucket
    side: str
    step: int


@dataclass
class _Found:
    lost: list[tuple[tuple[int, ...], int, RowValues]] = field(default_factory=list)
    new: list[tuple[tuple[int, ...], int, RowValues]] = field(default_factory=list)
    changed: list[tuple[tuple[int, ...], int, ChangedRow]] = field(default_factory=list)


@dataclass
class _Progress:
    levels: int = 0
    buckets_checked: int = 0
    hashed_restored: int = 0
    hashed_production: int = 0
    fetched: int = 0
    rows_restored: int = 0
    rows_production: int = 0
    scan_seconds: float = 0.0


class _Bisection:
    def __init__(
        self,
        sides: _Sides,
        shape: _Shape,
        where: Any,
        options: DiffOptions,
        listener: ProgressListener,
    ) -> None:
        self.sides = sides
        self.engine = sides.engine
        self.shape = shape
        self.where = where
        self.options = options
        self.listener = listener
        self.stats = _Progress()
        self.found = _Found()

    # -- steps --

    def _split(self, splits: list[_Split]) -> tuple[list[_Bucket], list[_Bucket]]:
        """Children of every split range, from ONE boundaries statement per side used; and
        the ranges that could not be split (all their rows share one key: fetched as is)."""
        rows: dict[str, list[Any]] = {"restored": [], "production": []}
        per_statement = max(1, self.engine.max_ranges_per_statement)
        by_side = {side: [s for s in splits if s.side == side] for side in rows}
        for start in range(0, max(len(v) for v in by_side.values()), per_statement):
            jobs: dict[str, tuple[Any, list[Any]]] = {}
            for side, mine in by_side.items():
                part = mine[start : start + per_statement]
                if part:
                    query, params = self.engine.boundaries_query(
                        self.shape.table,
                        self.shape.key,
                        self.where,
                        [s.bucket.range for s in part],
                        [s.step for s in part],
                    )
                    jobs[side] = (query, params)
            done = self.sides.run(jobs)
            for side, side_rows in done.items():  # range indexes are per statement
                rows[side].extend((int(r[0]) + start, *r[1:]) for r in side_rows)
        children: list[_Bucket] = []
        stuck: list[_Bucket] = []
        for side in ("restored", "production"):
            mine = [s for s in splits if s.side == side]
            points: dict[int, list[KeyText]] = {i: [] for i in range(len(mine))}
            for row in rows.get(side, []):
                bound = tuple(str(v) for v in row[2:])
                seen = points[int(row[0])]
                if not seen or seen[-1] != bound:  # equal keys cannot be separated
                    seen.append(bound)
            for i, split in enumerate(mine):
                parent = split.bucket
                edges: list[KeyText | None] = [parent.range.lo, *points[i], parent.range.hi]
                if parent.range.lo is not None and points[i] and points[i][0] == parent.range.lo:
                    edges.pop(1)
                if len(edges) == 2:
                    stuck.append(parent)
                    continue
                for j in range(len(edges) - 1):
                    children.append(_Bucket(KeyRange(edges[j], edges[j + 1]), (*parent.path, j)))
        return children, stuck

    def _check(self, buckets: list[_Bucket]) -> list[_Bucket]:
        """Count + checksum every bucket on both sides; returns the ones that differ."""
        differing: list[_Bucket] = []
        step = max(1, min(self.options.check_chunk_ranges, self.engine.max_ranges_per_statement))
        for start in range(0, len(buckets), step):
            chunk = buckets[start : start + step]
            ranges = [b.range for b in chunk]
            query = self.engine.checksum_query(
                self.shape.table, self.shape.key, self.shape.compared, self.where, ranges
            )
            rows = self.sides.run({"restored": query, "production": query})
            sums: dict[str, dict[int, tuple[int, int]]] = {}
            for side, side_rows in rows.items():
                sums[side] = {int(r[0]): (int(r[1]), int(r[2])) for r in side_rows}
            for i, bucket in enumerate(chunk):
                r_count, r_hash = sums["restored"].get(i, (0, 0))
                p_count, p_hash = sums["production"].get(i, (0, 0))
                bucket.restored, bucket.production = r_count, p_count
                self.stats.hashed_restored += r_count
                self.stats.hashed_production += p_count
                if (r_count, r_hash) != (p_count, p_hash):
                    differing.append(bucket)
        self.stats.buckets_checked += len(buckets)
        return differing

    def _fetch(self, leaves: list[_Bucket]) -> None:
        chunk: list[_Bucket] = []
        rows_in_chunk = 0
        for leaf in leaves:
            chunk.append(leaf)
            rows_in_chunk += leaf.size
            if (
                rows_in_chunk >= self.options.fetch_chunk_rows
                or len(chunk) >= self.engine.max_ranges_per_statement
            ):
                self._fetch_chunk(chunk)
                chunk, rows_in_chunk = [], 0
        if chunk:
            self._fetch_chunk(chunk)

    def _fetch_chunk(self, leaves: list[_Bucket]) -> None:
        query = self.engine.fetch_query(
            self.shape.table,
            self.shape.key,
            self.shape.columns,
            self.where,
            [leaf.range for leaf in leaves],
        )
        rows = self.sides.run({"restored": query, "production": query})
        names = [c.name for c in self.shape.columns]
        key_at = [names.index(c.name) for c in self.shape.key]
        compared_at = [names.index(c.name) for c in self.shape.compared]
        grouped: dict[str, dict[int, list[tuple[str | None, ...]]]] = {}
        for side, side_rows in rows.items():
            grouped[side] = {}
            for row in side_rows:
                grouped[side].setdefault(int(row[0]), []).append(tuple(row[2:]))
            self.stats.fetched += len(side_rows)
        for i, leaf in enumerate(leaves):
            self._compare(
                leaf,
                grouped["restored"].get(i, []),
                grouped["production"].get(i, []),
                names,
                key_at,
                compared_at,
            )

    def _compare(
        self,
        leaf: _Bucket,
        restored: list[tuple[str | None, ...]],
        production: list[tuple[str | None, ...]],
        names: list[str],
        key_at: list[int],
        compared_at: list[int],
    ) -> None:
        def index(rows: list[tuple[str | None, ...]]) -> dict[tuple[str | None, ...], int]:
            seen: dict[tuple[str | None, ...], int] = {}
            for n, row in enumerate(rows):
                key = tuple(row[k] for k in key_at)
                if key in seen:
                    raise ConfigError(
                        f"the key ({', '.join(c.name for c in self.shape.key)}) of "
                        f"{self.shape.table.display} is not unique: {key!r} appears twice"
                    )
                seen[key] = n
            return seen

        by_key = index(production)
        index(restored)

        def values(row: tuple[str | None, ...]) -> RowValues:
            return dict(zip(names, row, strict=True))

        matched: set[int] = set()
        for n, row in enumerate(restored):
            key = tuple(row[k] for k in key_at)
            m = by_key.get(key)
            if m is None:
                self.found.lost.append((leaf.path, n, values(row)))
                continue
            matched.add(m)
            other = production[m]
            differ = [names[c] for c in compared_at if row[c] != other[c]]
            if differ:
                changed = ChangedRow(restored=values(row), production=values(other), columns=differ)
                self.found.changed.append((leaf.path, n, changed))
        for m, row in enumerate(production):
            if m not in matched:
                self.found.new.append((leaf.path, m, values(row)))

    # -- driver --

    def run(self, estimate: int | None, estimate_side: str) -> None:
        options = self.options
        threshold = max(1, options.fetch_threshold)
        whole = _Bucket(KeyRange(None, None), ())
        splits: list[_Split] = []
        pending: list[_Bucket] = []
        if estimate is not None and estimate > threshold:
            parts = min(options.first_level_buckets, math.ceil(estimate / threshold))
            splits.append(_Split(whole, estimate_side, max(1, math.ceil(estimate / parts))))
        else:
            pending.append(whole)
        leaves: list[_Bucket] = []
        first = True
        while splits or pending:
            if splits:
                children, stuck = self._split(splits)
                pending.extend(children)
                leaves.extend(stuck)
                splits = []
            started = time.monotonic()
            differing = self._check(pending)
            self.stats.levels += 1
            if first:
                self.stats.scan_seconds = time.monotonic() - started
                self.stats.rows_restored = sum(b.restored for b in pending)
                self.stats.rows_production = sum(b.production for b in pending)
                first = False
            self.listener.note(
                f"{self.shape.table.display}: level {self.stats.levels}: "
                f"{len(differing)} of {len(pending)} range(s) differ"
            )
            pending = []
            for bucket in differing:
                if bucket.size <= threshold:
                    leaves.append(bucket)
                    continue
                parts = min(options.max_fanout, math.ceil(bucket.size / threshold))
                side = "restored" if bucket.restored >= bucket.production else "production"
                step = math.ceil(bucket.size / max(2, parts))
                splits.append(_Split(bucket, side, step))
        self._fetch(leaves)


def _sorted(items: list[tuple[tuple[int, ...], int, T]]) -> list[T]:
    return [item for _, _, item in sorted(items, key=lambda t: (t[0], t[1]))]


# --- public API ----------------------------------------------------------------------------------


def _check_where(
    sides: _Sides,
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


def _missing_side(sides: _Sides, table: TableName, where: str | None) -> RowDiff | None:
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
    sides: _Sides,
    spec: str,
    key: Sequence[str] | None,
    columns: Sequence[str] | None,
    where: str | None,
    options: DiffOptions,
    listener: ProgressListener,
) -> RowDiff:
    started = time.monotonic()
    engine = sides.engine
    table = _resolve_table(sides, spec)
    sides.table = table.display
    missing = _missing_side(sides, table, where)
    if missing is not None:
        return missing
    shape, reason = _shape(sides, table, key, columns)
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
    bisection = _Bisection(sides, shape, where_sql, options, listener)
    bisection.run(estimate, estimate_side)
    stats = bisection.stats
    found = bisection.found
    seconds = time.monotonic() - started
    hashed = stats.rows_restored + stats.rows_production
    key_names = {c.name for c in shape.key}
    compared_names = {c.name for c in shape.compared}
    return RowDiff(
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
        counts=DiffCounts(lost=len(found.lost), new=len(found.new), changed=len(found.changed)),
        lost=_sorted(found.lost),
        new=_sorted(found.new),
        changed=_sorted(found.changed),
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
        ),
    )


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
    restored = _connect(engine, restored_dsn)
    try:
        production = _connect(engine, production_dsn)
    except BaseException:
        engine.close(restored)
        raise
    sides = _Sides(engine, restored, production)
    spec: str | None = None
    try:
        engine.limit_session(production, limits.lock_timeout, limits.statement_timeout)
        restored_id = engine.server_identity(restored, dsnlib.redact(restored_dsn))
        production_id = engine.server_identity(production, dsnlib.redact(production_dsn))
        guards.refuse_same_server(restored_id, production_id, "diff")
        results: list[RowDiff] = []
        with _snapshots(sides):
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


def make_document(
    mode: DiffMode,
    restored: ServerIdentity,
    production: ServerIdentity,
    tables: list[RowDiff],
    where: str | None,
    incident: ServerIdentity | None = None,
) -> DiffDocument:
    return DiffDocument(
        created_at=datetime.now(UTC),
        mode=mode,
        restored=restored,
        production=production,
        incident=incident,
        where=where,
        tables=tables,
    )


def write_diff(document: DiffDocument, path: Path, force: bool = False) -> None:
    """Write atomically and 0600 (it holds production rows); an existing file is kept
    unless ``force``."""
    write_private(
        path, document.model_dump_json(indent=2) + "\n", force, "the diff file", make_dir=True
    )


def load_diff(path: Path) -> DiffDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the diff file {path}: {exc.strerror or exc}") from exc
    try:
        return DiffDocument.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(
            f"{path} is not a restoredrill diff file ({where}: {first['msg']})"
        ) from exc


def has_differences(document: DiffDocument) -> bool:
    """Rows lost, new or changed, or a table on one side only."""
    return document.counts.total > 0 or any(t.missing_in for t in document.tables)


def not_compared(document: DiffDocument) -> list[RowDiff]:
    """Tables present on both sides that could not be diffed (no key): counts only. A diff
    holding one is never "no differences"."""
    return [t for t in document.tables if not t.keyed and t.missing_in is None]


def verdict(document: DiffDocument) -> str:
    """One line: what the diff found, or that it could not tell."""
    counts = document.counts
    parts = []
    if counts.total:
        parts.append(f"{counts.lost:,} lost, {counts.new:,} new, {counts.changed:,} changed")
    parts.extend(f"{t.table} {t.note}" for t in document.tables if t.missing_in)
    skipped = not_compared(document)
    if skipped:
        names = ", ".join(t.table for t in skipped)
        parts.append(f"not compared (no key, counts only): {names}; pass --key COLS")
    return "; ".join(parts) if parts else "no differences"


__all__ = [
    "DiffOptions",
    "diff",
    "diff_tables",
    "has_differences",
    "load_diff",
    "make_document",
    "not_compared",
    "split_list",
    "verdict",
    "write_diff",
]
