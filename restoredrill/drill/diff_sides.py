"""What both sides of a diff share: the two connections (each in one REPEATABLE READ, READ ONLY
snapshot) with a two-thread pool to run one statement per side in parallel, the tuning
options, and the table's shape (key and columns) the diff goes by."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from restoredrill import dsn as dsnlib
from restoredrill.engines.base import Engine
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, DatabaseUnavailable


@dataclass(frozen=True)
class DiffOptions:
    """Bisection tuning. Leaves of at most ``fetch_threshold`` rows (on the bigger side) are
    fetched; bigger differing ranges are split into about size/fetch_threshold parts (at most
    ``max_fanout``, and at most ``first_level_buckets`` for the first split).

    Dense ranges: when at least ``dense_fraction`` of a range's sub-ranges differ, bisecting
    further would fetch nearly every row leaf by leaf; instead each differing sub-range of at
    most ``dense_max_rows`` rows is listed as (key, row hash) on both sides, ``dense_chunk_rows``
    rows per statement per side, and only the differing keys are fetched whole
    (drill/diff_rows.py). A ``dense_fraction`` above 1 turns this off."""

    fetch_threshold: int = 64
    first_level_buckets: int = 4096
    max_fanout: int = 4096
    fetch_chunk_rows: int = 20_000  # rows per fetch statement per side (bounds memory)
    check_chunk_ranges: int = 20_000  # ranges per checksum statement
    dense_fraction: float = 0.5
    dense_max_rows: int = 10_000  # one range listing stays well under max_allowed_packet
    dense_chunk_rows: int = 50_000


# --- connections ------------------------------------------------------------------------------


def connect_side(engine: Engine, dsn: str) -> Any:
    conn = engine.connect(dsn, read_only=True)
    try:
        engine.pin_session(conn)
        engine.diff_session(conn)
    except engine.errors as exc:
        engine.close(conn)
        raise DatabaseUnavailable(f"{dsnlib.redact(dsn)}: {engine.one_line(exc)}") from exc
    return conn


class Sides:
    """The restored and the production connection, and one thread per side: the two sides
    run in parallel, and each side runs the statements submitted to it one at a time, in
    the order submitted (so work can be queued on a side ahead of its results)."""

    def __init__(self, engine: Engine, restored: Any, production: Any) -> None:
        self.engine = engine
        self.restored = restored
        self.production = production
        self.threads = {
            side: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"diff-{side}")
            for side in ("restored", "production")
        }
        self.round_trips = 0
        self.failed_side: str | None = None  # the side whose statement raised last
        self.table: str | None = None  # the table being diffed, for error messages

    def conn(self, side: str) -> Any:
        return self.restored if side == "restored" else self.production

    def run(self, jobs: dict[str, tuple[Any, list[Any]]]) -> dict[str, list[Any]]:
        """Run one statement per side (in parallel when both are given); returns the rows."""
        return self.collect(self.submit(jobs))

    def submit(self, jobs: dict[str, tuple[Any, list[Any]]]) -> dict[str, Future[list[Any]]]:
        """Queue one statement per side, after what is queued there already; every submit
        is followed by ``collect`` or ``abandon``."""
        self.round_trips += 1
        return {
            side: self.threads[side].submit(self.engine.fetchall, self.conn(side), query, params)
            for side, (query, params) in jobs.items()
        }

    def collect(self, futures: dict[str, Future[list[Any]]]) -> dict[str, list[Any]]:
        """The rows of the statements ``submit`` started."""
        try:
            results: dict[str, list[Any]] = {}
            for side, future in futures.items():
                self.failed_side = side
                results[side] = future.result()
            self.failed_side = None
            return results
        except BaseException:
            self.abandon(futures)  # stop the other side's query too (Ctrl-C, errors)
            raise

    def abandon(self, *submitted: dict[str, Future[list[Any]]]) -> None:
        """Stop the statements ``submit`` queued whose rows are not wanted (an error came
        first), and wait for them: the connections are free again after this. Those not
        started are dropped first, so that cancelling the running one starts no other."""
        futures = [(side, f) for each in submitted for side, f in each.items()]
        for _, future in futures:
            future.cancel()  # only a statement not started yet: False for the running one
        for side, future in futures:
            if not future.done():
                with contextlib.suppress(Exception):
                    self.engine.cancel(self.conn(side))
        for _, future in futures:
            with contextlib.suppress(BaseException):
                future.result()

    def both(self, make: Callable[[str], tuple[Any, list[Any]]]) -> dict[str, list[Any]]:
        return self.run({side: make(side) for side in ("restored", "production")})

    def close(self) -> None:
        for thread in self.threads.values():
            thread.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def snapshots(sides: Sides) -> Iterator[None]:
    """One REPEATABLE READ, READ ONLY transaction per side for the whole diff."""
    engine = sides.engine
    with engine.snapshot(sides.restored), engine.snapshot(sides.production):
        yield


# --- the table's shape ------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    table: TableName
    key: list[Any]  # the engine's ColumnInfo objects (name, type, not_null, generated)
    columns: list[Any]  # fetched: every non-generated column both sides share
    compared: list[Any]  # hashed and compared (key included)


def resolve_table(sides: Sides, spec: str) -> TableName:
    engine = sides.engine
    known = {t.display: t for t in engine.list_tables(sides.restored)}
    known.update({t.display: t for t in engine.list_tables(sides.production)})
    return known[engine.resolve_table(spec, set(known))]


def table_shape(
    sides: Sides,
    table: TableName,
    key_spec: Sequence[str] | None,
    columns_spec: Sequence[str] | None,
) -> tuple[Shape | None, str | None]:
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
    return Shape(table, key, shared, compared), None
