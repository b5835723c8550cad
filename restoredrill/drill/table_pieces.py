"""A big table fingerprinted as several pieces on the connections of a ``FanOut``.

MariaDB runs each statement on one core: the engine may split a big table into disjoint key
ranges (``fingerprint_pieces``), each piece becomes a task of its own, and the table's
fingerprint is their sum (``add_fingerprints``), the value one statement would give. A piece
that fails fails its table (its first error); the table is done when its last piece is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from restoredrill.engines.base import Engine
from restoredrill.engines.names import TableName
from restoredrill.models import TableFingerprint

K = TypeVar("K")
Outcome = TableFingerprint | str  # a fingerprint, or the one-line error of its table


@dataclass(frozen=True)
class Piece(Generic[K]):
    key: K  # the caller's name for the table
    table: TableName
    where: Any
    count: int  # pieces of this table


def split(
    engine: Engine, conn: Any, tables: Sequence[tuple[K, TableName, Any]], pieces: int
) -> list[Piece[K]]:
    """Inside the main connection's snapshot: each table as one piece or several, biggest
    tables' pieces first so they spread over the connections. A table whose split cannot be
    planned (an error, a table the side lacks) stays whole: its own fingerprint reports it."""
    found: list[Piece[K]] = []
    for key, table, where in tables:
        wheres = None
        if pieces > 1:
            try:
                with engine.savepoint(conn):
                    wheres = engine.fingerprint_pieces(conn, table, where, pieces)
            except engine.errors:
                if engine.broken(conn):
                    raise
        if wheres:
            found[:0] = [Piece(key, table, w, len(wheres)) for w in wheres]
        else:
            found.append(Piece(key, table, where, 1))
    return found


class Assembly(Generic[K]):
    """Collects the pieces' outcomes; ``done(key, outcome)`` is called once per table."""

    def __init__(self, engine: Engine, done: Callable[[K, Outcome], None]) -> None:
        self.engine = engine
        self.done = done
        self._lock = threading.Lock()
        self._parts: dict[K, list[Outcome]] = {}

    def add(self, piece: Piece[K], outcome: Outcome) -> None:
        with self._lock:
            parts = self._parts.setdefault(piece.key, [])
            parts.append(outcome)
            if len(parts) < piece.count:
                return
            del self._parts[piece.key]
        errors = [p for p in parts if isinstance(p, str)]
        if errors:
            self.done(piece.key, errors[0])
        else:
            fingerprints = [p for p in parts if isinstance(p, TableFingerprint)]
            whole = fingerprints[0] if len(fingerprints) == 1 else None
            self.done(piece.key, whole or self.engine.add_fingerprints(fingerprints))
