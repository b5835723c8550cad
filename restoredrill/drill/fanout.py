"""Several tables at once in ONE snapshot: the main connection's open REPEATABLE READ
transaction exports its snapshot, a few more connections import it (PostgreSQL's
``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``, what ``pg_dump -j`` does), and all of
them take tables from one queue. Every connection sees exactly the main one's data, so a
manifest or a verify side stays one consistent cut of the database.

MariaDB has no snapshot import: a helper joins only when provably nothing committed between
the main snapshot and its own (engines/mysql/shared_snapshot.py). A helper that cannot join,
or a server that refuses another connection, leaves the work to the others: extra
connections only ever make it faster.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from restoredrill.engines.base import Engine

T = TypeVar("T")

# Connections per side: the main one plus up to three that share its snapshot.
DEFAULT_WIDTH = 4


class FanOut(Generic[T]):
    """Run ``work(conn, task)`` for every task on the main connection and helpers that share
    its snapshot. ``open_helper`` returns a new connection, pinned and limited like the main
    one, or raises. ``cancel()`` (any thread) stops every running statement."""

    def __init__(
        self,
        engine: Engine,
        open_helper: Callable[[], Any] | None,
        width: int = DEFAULT_WIDTH,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.open_helper = open_helper
        self.width = max(1, width)
        self.stop = stop if stop is not None else threading.Event()
        self._lock = threading.Lock()
        self._running: list[Any] = []

    def cancel(self) -> None:
        self.stop.set()
        with self._lock:
            conns = list(self._running)
        for conn in conns:
            with contextlib.suppress(Exception):
                self.engine.cancel(conn)

    def run(self, main: Any, tasks: Sequence[T], work: Callable[[Any, T], None]) -> None:
        """Call inside ``engine.snapshot(main)``, before anything else ran in it is fine too:
        the snapshot is the transaction's. The first exception of any connection stops the
        others and is raised here, after every helper has finished and been closed."""
        pending: queue.SimpleQueue[T] = queue.SimpleQueue()
        for task in tasks:
            pending.put(task)
        token = None
        if self.open_helper is not None and self.width > 1 and len(tasks) > 1:
            token = self._export(main)
        helpers = min(self.width, len(tasks)) - 1 if token is not None else 0
        failures: list[BaseException] = []

        def drain(conn: Any) -> None:
            while not self.stop.is_set():
                try:
                    task = pending.get_nowait()
                except queue.Empty:
                    return
                if self.stop.is_set():  # a failure elsewhere while this one was between tasks
                    return
                try:
                    work(conn, task)
                except BaseException as exc:
                    with self._lock:
                        failures.append(exc)
                    self.cancel()
                    return

        def helper() -> None:
            assert self.open_helper is not None and token is not None
            try:
                conn = self.open_helper()
            except Exception:  # fewer connections, same answers
                return
            try:
                with self.engine.snapshot(conn):
                    try:
                        self.engine.join_snapshot(conn, token)
                    except self.engine.errors:
                        return  # the snapshot is gone or not importable: main carries on
                    self._track(conn, True)
                    try:
                        drain(conn)
                    finally:
                        self._track(conn, False)
            except self.engine.errors:
                pass  # ending a read-only transaction; the work's own errors are in failures
            finally:
                with contextlib.suppress(Exception):
                    self.engine.close(conn)

        threads = [
            threading.Thread(target=helper, name=f"snapshot-helper-{n}", daemon=True)
            for n in range(helpers)
        ]
        for thread in threads:
            thread.start()
        self._track(main, True)
        try:
            drain(main)
        finally:
            self._track(main, False)
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]

    def _export(self, main: Any) -> str | None:
        # Not in a savepoint: PostgreSQL exports only from the top-level transaction.
        return self.engine.export_snapshot(main)

    def _track(self, conn: Any, running: bool) -> None:
        with self._lock:
            if running:
                self._running.append(conn)
            else:
                self._running.remove(conn)
