"""Application checks of a playbook (``databases[].assertions``): SQL run read-only on the
restored copy, each returning one row with one boolean — the evidence auditors ask for
besides counts (the newest order is within the RPO, no orphaned rows, migrations at N).

Anything but a single true makes the database FAIL: false, NULL, no row, several rows, a
value that is not a boolean, or an error. Unknown is not a pass."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from restoredrill import dsn as dsnlib
from restoredrill.drill.result import AssertionCheck, DatabaseOutcome
from restoredrill.engines.base import Session, engine_for_dsn
from restoredrill.errors import RestoreDrillError
from restoredrill.playbook import AssertionSpec

LOCK_SECONDS = 10.0


def _truth(rows: Sequence[Sequence[Any]]) -> tuple[bool | None, str]:
    """(True/False, detail) for one boolean row; (None, why) for anything else."""
    if len(rows) != 1 or len(rows[0]) != 1:
        shape = f"{len(rows)} row(s)" + (f" of {len(rows[0])} columns" if rows else "")
        return None, f"expected one row with one boolean column, got {shape}"
    value = rows[0][0]
    if isinstance(value, bool):
        return value, "true" if value else "false"
    if isinstance(value, int) and value in (0, 1):  # MariaDB/MySQL booleans are TINYINT
        return bool(value), "true" if value else "false"
    if value is None:
        return None, "returned NULL (neither true nor false)"
    return None, f"expected a boolean, got {type(value).__name__} {str(value)[:60]!r}"


def _rows(conn: Any, sql: str) -> list[Any]:
    # The SQL is the playbook author's, run as written: no parameters, so a literal % (LIKE)
    # is not read as a placeholder.
    if hasattr(conn, "rows"):  # MariaDB/MySQL connection wrapper
        return list(conn.rows(sql))
    return list(conn.execute(sql).fetchall())


def _one(engine: Session, conn: Any, spec: AssertionSpec) -> AssertionCheck:
    started = time.monotonic()
    try:
        engine.limit_session(conn, LOCK_SECONDS, spec.timeout)
        value, detail = _truth(_rows(conn, spec.sql))
    except engine.errors as exc:
        value, detail = None, f"error: {engine.one_line(exc)}"
    status: Literal["PASS", "FAIL", "ERROR"] = (
        "ERROR" if value is None else ("PASS" if value else "FAIL")
    )
    return AssertionCheck(
        name=spec.name,
        sql=spec.sql,
        status=status,
        detail=detail,
        seconds=time.monotonic() - started,
    )


def run_assertions(dsn: str, specs: Sequence[AssertionSpec]) -> list[AssertionCheck]:
    """Run each assertion on its own read-only connection (one failing statement cannot
    leave the next one in an aborted transaction); a connection error is each one's ERROR."""
    engine = engine_for_dsn(dsn)
    checks = []
    caught: tuple[type[BaseException], ...] = (RestoreDrillError, *engine.errors)
    for spec in specs:
        try:
            conn = engine.connect(dsn, read_only=True)
        except caught as exc:
            message = (
                str(exc)
                if isinstance(exc, RestoreDrillError)
                else f"cannot connect to {dsnlib.redact(dsn)}: {engine.one_line(exc)}"
            )
            checks.append(
                AssertionCheck(
                    name=spec.name,
                    sql=spec.sql,
                    status="ERROR",
                    detail=message,
                    seconds=0.0,
                )
            )
            continue
        try:
            checks.append(_one(engine, conn, spec))
        finally:
            engine.close(conn)
    return checks


def with_assertions(outcome: DatabaseOutcome, checks: list[AssertionCheck]) -> DatabaseOutcome:
    """The outcome with its assertions: any that is not PASS fails the database, by name."""
    failures = [
        f"{outcome.label}: assertion {c.name!r} {c.status}: {c.detail}"
        for c in checks
        if c.status != "PASS"
    ]
    verdict = outcome.verdict
    if failures and verdict == "PASS":
        verdict = "FAIL"
    return outcome.model_copy(
        update={
            "assertions": checks,
            "failures": [*outcome.failures, *failures],
            "verdict": verdict,
        }
    )
