"""The production guards of verify and diff: never production against itself, bounded waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from restoredrill.drill.diff import has_differences, not_compared, verdict
from restoredrill.drill.guards import refuse_same_server, session_limits, timeout_error
from restoredrill.errors import ConfigError, ProductionTimeout, SameServerRefused
from restoredrill.models import DiffCounts, DiffDocument, RowDiff, ServerIdentity

STARTED = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def _server(port: int = 5432, database: str = "shop", days: int = 0) -> ServerIdentity:
    return ServerIdentity(
        label=f"host=db port={port} dbname={database} password=***",
        database=database,
        system_identifier=7000,
        postmaster_start_time=STARTED + timedelta(days=days),
        port=port,
        data_directory=None,
    )


def test_same_server_and_database_is_refused() -> None:
    production = _server()
    with pytest.raises(SameServerRefused, match="is the reference itself") as info:
        refuse_same_server(production, _server(), "verify")
    assert info.value.exit_code == 2 and "\n" not in str(info.value)
    # a restored sandbox shares the system identifier, not the instance: allowed
    refuse_same_server(_server(port=40001, days=3), production, "verify")
    # another database of the same server: allowed
    refuse_same_server(_server(database="shop_restored"), production, "diff")


def test_session_limits() -> None:
    limits = session_limits("500ms", "1h30m")
    assert (limits.lock_timeout, limits.statement_timeout) == (0.5, 5400.0)
    for lock, statement in (("soon", "10m"), ("5s", "0"), ("-1s", "10m")):
        with pytest.raises(ConfigError):
            session_limits(lock, statement)


def test_timeout_errors_are_one_line_exit_3() -> None:
    limits = session_limits("1s", "10m")
    lock = timeout_error("lock", "public.orders", limits, "production (db:5432/shop)")
    assert isinstance(lock, ProductionTimeout) and lock.exit_code == 3
    assert str(lock) == (
        "production (db:5432/shop): gave up waiting for a lock on public.orders after "
        "--lock-timeout 1s: another session holds it; retry when it is released or raise "
        "--lock-timeout"
    )
    statement = str(timeout_error("statement", None, limits, "production"))
    assert "--statement-timeout 10m" in statement and "\n" not in statement


def _table(
    name: str, keyed: bool, missing: Literal["restored", "production"] | None = None, lost: int = 0
) -> RowDiff:
    return RowDiff(
        table=name,
        schema_name="public",
        table_name=name.split(".")[-1],
        keyed=keyed,
        key=["id"] if keyed else [],
        columns=[],
        where=None,
        rows_restored=3,
        rows_production=3,
        counts=DiffCounts(lost=lost),
        lost=[{"id": str(i)} for i in range(lost)],
        new=[],
        changed=[],
        note=f"missing in {missing} (3 row(s) in the restored database)" if missing else None,
        missing_in=missing,
    )


def test_diff_verdicts() -> None:
    def document(*tables: RowDiff) -> DiffDocument:
        return DiffDocument(
            created_at=STARTED,
            mode="production",
            restored=_server(port=40001, days=3),
            production=_server(),
            tables=list(tables),
        )

    clean = document(_table("public.a", True))
    assert verdict(clean) == "no differences" and not has_differences(clean)
    unkeyed = document(_table("public.a", True), _table("public.loose", False))
    assert verdict(unkeyed).startswith("not compared (no key, counts only): public.loose")
    assert not_compared(unkeyed) and not has_differences(unkeyed)
    gone = document(_table("public.gone", False, "production"))
    assert has_differences(gone) and not not_compared(gone)
    assert verdict(gone) == "public.gone missing in production (3 row(s) in the restored database)"
    lost = document(_table("public.a", True, lost=2))
    assert verdict(lost) == "2 lost, 0 new, 0 changed"
