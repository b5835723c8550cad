"""One side of a verify: connect read-only, and fingerprint its tables inside one snapshot."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from restoredrill import dsn as dsnlib
from restoredrill.drill.fanout import FanOut
from restoredrill.drill.guards import TimeoutKind
from restoredrill.drill.table_pieces import Assembly, Piece, split
from restoredrill.drill.verify_verdict import SideResult
from restoredrill.engines.base import Engine
from restoredrill.engines.names import TableName
from restoredrill.errors import DatabaseUnavailable
from restoredrill.timing import ProgressListener


@dataclass
class Side:
    results: dict[str, SideResult] = field(default_factory=dict)
    wal_lsn: int | None = None


def one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def fingerprint_side(
    engine: Engine,
    conn: Any,
    items: Sequence[tuple[str, TableName, Any]],
    label: str,
    progress: ProgressListener,
    read_position: bool,
    fan: FanOut[Piece[str]],
    on_timeout: Callable[[TimeoutKind, str | None], Exception] | None = None,
) -> Side:
    """Fingerprint ``items`` in one REPEATABLE READ, READ ONLY snapshot, several tables (and
    pieces of big ones, table_pieces.py) at once on connections sharing it (``fan``); errors
    stay per table (each piece runs in its own savepoint), except a session limit of
    production (``on_timeout``), which ends the whole verify."""
    side = Side()
    lock = threading.Lock()

    def done(table: str, result: SideResult) -> None:
        with lock:
            side.results[table] = result
        progress.note(f"{label}: {table} done")

    assembly = Assembly[str](engine, done)

    def one(connection: Any, piece: Piece[str]) -> None:
        result: SideResult
        try:
            with engine.savepoint(connection):
                result = engine.fingerprint(connection, piece.table, piece.where)
        except engine.errors as exc:
            kind = engine.timeout_kind(exc)
            if kind is not None and on_timeout is not None:
                raise on_timeout(kind, piece.key) from exc
            if engine.broken(connection):
                raise
            result = one_line(exc)
        assembly.add(piece, result)

    try:
        with engine.snapshot(conn):
            fan.run(conn, split(engine, conn, items, fan.width), one)
        if read_position:
            # Read after fingerprinting: if production is still at or before the restored
            # point now, it was during the snapshot too.
            side.wal_lsn = engine.wal_position(conn)
    except engine.errors as exc:
        message = one_line(exc)
        for table, _, _ in items:
            side.results.setdefault(table, message)
    return side


def connect_side(engine: Engine, dsn: str, restored: bool = False) -> Any:
    conn = engine.connect(dsn, read_only=True)
    try:
        engine.pin_session(conn)
        if restored:  # a throwaway copy: use its cores even if production's config did not
            engine.allow_parallel(conn)
    except engine.errors as exc:
        engine.close(conn)
        raise DatabaseUnavailable(f"{dsnlib.redact(dsn)}: {one_line(exc)}") from exc
    return conn
