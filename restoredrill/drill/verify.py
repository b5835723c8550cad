"""Verify a restored database against production (read-only) or a manifest.

Per table: row count and an order-independent checksum, computed inside each server (never
by pulling rows), both sides in parallel, each side in one snapshot that up to four
connections share (PostgreSQL; MariaDB/MySQL use one). Statuses: PASS, FAIL (data differs),
ERROR (infrastructure or configuration, on one table), INCONCLUSIVE (live production moved
on past the restored point and no stable predicate was given).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from restoredrill import dsn as dsnlib
from restoredrill.drill import guards
from restoredrill.drill.fanout import FanOut
from restoredrill.drill.guards import TimeoutKind
from restoredrill.drill.manifest import load_manifest
from restoredrill.engines.base import (
    Engine,
    Session,
    engine_family,
    engine_for_dsn,
    engine_for_dsns,
)
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, DatabaseUnavailable, InvalidTarget
from restoredrill.ledger import Ledger
from restoredrill.lsn import format_lsn
from restoredrill.models import (
    Manifest,
    PhaseTiming,
    TableCheck,
    TableFingerprint,
    VerifyReport,
    VerifyStatus,
)
from restoredrill.timing import ProgressListener, SilentProgress

ReferenceKind = Literal["live", "manifest"]
# One side's result for a table: its fingerprint, an error message, or None (no such table).
SideResult = TableFingerprint | str | None

ADVICE = "add --as-of-column TABLE=COLUMN or verify against a manifest"


# --- parsing user input (shared with the CLI) ---------------------------------------------------


def parse_as_of(text: str) -> datetime:
    """An ISO time with a timezone; a naive or unparseable time → InvalidTarget (exit 2)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTarget(f"--as-of {text!r} is not an ISO 8601 time") from None
    _require_aware(value)
    return value


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTarget(
            f"--as-of {value.isoformat()} has no timezone (add one, e.g. +00:00 or Z)"
        )


def split_tables(items: Iterable[str] | None) -> list[str] | None:
    """``--tables a,b --tables c`` → ['a', 'b', 'c']; None when not given."""
    if not items:
        return None
    specs = [part.strip() for item in items for part in item.split(",")]
    return [s for s in specs if s] or None


def parse_as_of_columns(items: Iterable[str] | None) -> dict[str, str]:
    """``TABLE=COLUMN`` items → {table: column}; the last '=' separates (tables may hold one)."""
    result: dict[str, str] = {}
    for item in items or ():
        table, sep, column = item.rpartition("=")
        if not sep or not table.strip() or not column.strip():
            raise ConfigError(f"--as-of-column {item!r}: expected TABLE=COLUMN")
        result[table.strip()] = column.strip()
    return result


# --- decisions (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class MovedOn:
    """Whether live production may hold changes made after the restored point."""

    moved: bool
    reason: str


def production_moved_on(
    restored_system_id: int | None,
    reference_system_id: int | None,
    restored_end_lsn: int | None,
    reference_lsn: int | None,
    fmt: Callable[[int], str] = format_lsn,
) -> MovedOn:
    if restored_system_id is None or reference_system_id is None:
        return MovedOn(True, "cannot read the servers' system identifiers")
    if restored_system_id != reference_system_id:
        return MovedOn(True, "the reference is another cluster: system identifiers differ")
    if restored_end_lsn is None:
        return MovedOn(True, "the restored server's recovery end is unknown")
    if reference_lsn is None:
        return MovedOn(True, "production's WAL position is unknown")
    if reference_lsn > restored_end_lsn:
        return MovedOn(
            True,
            f"production is at {fmt(reference_lsn)}, past the restored point "
            f"{fmt(restored_end_lsn)}",
        )
    return MovedOn(False, "production has not moved past the restored point")


def classify(
    table: str,
    restored: SideResult,
    reference: SideResult,
    reference_kind: ReferenceKind,
    predicate: str | None,
    moved_on: MovedOn | None,
) -> TableCheck:
    """One table's status from the two sides' results."""
    restored_fp = restored if isinstance(restored, TableFingerprint) else None
    reference_fp = reference if isinstance(reference, TableFingerprint) else None

    def check(status: VerifyStatus, detail: str | None) -> TableCheck:
        return TableCheck(
            table=table,
            status=status,
            restored=restored_fp,
            reference=reference_fp,
            predicate=predicate,
            detail=detail,
        )

    where = "the manifest" if reference_kind == "manifest" else "the reference"
    # A table on one side only is a data difference, never an infrastructure error.
    if restored is None and reference is not None:
        return check(VerifyStatus.FAIL, "missing in the restored database")
    if reference is None and restored is not None:
        return check(VerifyStatus.FAIL, f"missing in {where}")
    if restored is None or reference is None:
        return check(VerifyStatus.ERROR, "could not be read on either side")
    if isinstance(restored, str):
        return check(VerifyStatus.ERROR, f"restored: {restored}")
    if isinstance(reference, str):
        return check(VerifyStatus.ERROR, f"reference: {reference}")
    if restored == reference:
        return check(VerifyStatus.PASS, None)
    if restored.rows != reference.rows:
        difference = f"row counts differ ({restored.rows} restored, {reference.rows} reference)"
    else:
        difference = "same row count, checksums differ"
    if reference_kind == "manifest" or predicate is not None:
        return check(VerifyStatus.FAIL, difference)
    if moved_on is None or moved_on.moved:
        reason = f" ({moved_on.reason})" if moved_on is not None else ""
        return check(
            VerifyStatus.INCONCLUSIVE,
            f"{difference}; production may have moved on since the restored point{reason}, "
            f"so later traffic may explain it: {ADVICE}",
        )
    return check(VerifyStatus.FAIL, difference)


def overall_status(checks: Sequence[TableCheck]) -> VerifyStatus:
    statuses = {c.status for c in checks}
    for status in (VerifyStatus.ERROR, VerifyStatus.FAIL, VerifyStatus.INCONCLUSIVE):
        if status in statuses:
            return status
    return VerifyStatus.PASS


# --- running ---------------------------------------------------------------------------------


@dataclass
class _Job:
    table: str
    restored: TableName | None
    reference: TableName | None
    where: Any = None
    predicate: str | None = None


@dataclass
class _Side:
    results: dict[str, SideResult] = field(default_factory=dict)
    wal_lsn: int | None = None


def _one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _fingerprint_side(
    engine: Engine,
    conn: Any,
    items: Sequence[tuple[str, TableName, Any]],
    label: str,
    progress: ProgressListener,
    read_position: bool,
    fan: FanOut[tuple[str, TableName, Any]],
    on_timeout: Callable[[TimeoutKind, str | None], Exception] | None = None,
) -> _Side:
    """Fingerprint ``items`` in one REPEATABLE READ, READ ONLY snapshot, several tables at
    once on connections sharing it (``fan``); errors stay per table (each table runs in its
    own savepoint), except a session limit of production (``on_timeout``), which ends the
    whole verify."""
    side = _Side()
    lock = threading.Lock()

    def one(connection: Any, item: tuple[str, TableName, Any]) -> None:
        table, name, where = item
        result: SideResult
        try:
            with engine.savepoint(connection):
                result = engine.fingerprint(connection, name, where)
        except engine.errors as exc:
            kind = engine.timeout_kind(exc)
            if kind is not None and on_timeout is not None:
                raise on_timeout(kind, table) from exc
            if engine.broken(connection):
                raise
            result = _one_line(exc)
        with lock:
            side.results[table] = result
        progress.note(f"{label}: {table} done")

    try:
        with engine.snapshot(conn):
            fan.run(conn, items, one)
        if read_position:
            # Read after fingerprinting: if production is still at or before the restored
            # point now, it was during the snapshot too.
            side.wal_lsn = engine.wal_position(conn)
    except engine.errors as exc:
        message = _one_line(exc)
        for table, _, _ in items:
            side.results.setdefault(table, message)
    return side


def _connect(engine: Session, dsn: str, restored: bool = False) -> Any:
    conn = engine.connect(dsn, read_only=True)
    try:
        engine.pin_session(conn)
        if restored:  # a throwaway copy: use its cores even if production's config did not
            engine.allow_parallel(conn)
    except engine.errors as exc:
        engine.close(conn)
        raise DatabaseUnavailable(f"{dsnlib.redact(dsn)}: {_one_line(exc)}") from exc
    return conn


def _is_manifest_reference(reference: str | Path) -> bool:
    if isinstance(reference, Path):
        if not reference.is_file():
            raise ConfigError(f"no such manifest file: {reference}")
        return True
    if Path(reference).is_file():
        return True
    looks_like_path = "=" not in reference and "://" not in reference
    if looks_like_path and (reference.endswith(".json") or "/" in reference):
        raise ConfigError(f"no such manifest file: {reference}")
    return False


def _select(
    engine: Engine,
    known: set[str],
    tables: Sequence[str] | None,
    as_of_columns: Mapping[str, str],
) -> tuple[list[str], dict[str, str]]:
    if tables is None:
        selected = sorted(known)
    else:
        selected = list(dict.fromkeys(engine.resolve_table(spec, known) for spec in tables))
    columns: dict[str, str] = {}
    for spec, column in as_of_columns.items():
        table = engine.resolve_table(spec, known)
        if table not in selected:
            raise ConfigError(f"--as-of-column {spec}: the table is not among --tables")
        columns[table] = column
    if not selected:
        raise ConfigError("nothing to verify: no user tables on either side")
    return selected, columns


def verify(
    restored_dsn: str,
    reference: str | Path,
    tables: Sequence[str] | None = None,
    as_of_columns: Mapping[str, str] | None = None,
    as_of: datetime | None = None,
    progress: ProgressListener | None = None,
    lock_timeout: str = guards.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: str = guards.DEFAULT_STATEMENT_TIMEOUT,
) -> VerifyReport:
    """Compare the restored database with ``reference``: an existing manifest file, or a
    production DSN (always opened read-only, with ``lock_timeout`` and ``statement_timeout``;
    refused when it is the restored server's very database).

    ``as_of_columns`` ({table: column}) limits both sides to ``column <= as_of`` for those
    tables; ``as_of`` defaults to the restored server's last replayed commit time."""
    listener: ProgressListener = progress or SilentProgress()
    limits = guards.session_limits(lock_timeout, statement_timeout)
    as_of_columns = dict(as_of_columns or {})
    if as_of is not None:
        _require_aware(as_of)
        if not as_of_columns:
            raise ConfigError("--as-of only applies together with --as-of-column")
    started = time.monotonic()
    manifest: Manifest | None = None
    if _is_manifest_reference(reference):
        manifest = load_manifest(reference)
        if as_of_columns:
            raise ConfigError(
                "--as-of-column cannot be used with a manifest (its checksums cover whole tables)"
            )
        reference_label = str(reference)
        engine = engine_for_dsn(restored_dsn)
        if engine_family(manifest.engine) != engine_family(engine.name):
            raise ConfigError(
                f"the manifest is of a {manifest.engine} database, the restored one is "
                f"{engine.name}: their checksums cannot be compared"
            )
        if manifest.checksum_algorithm != engine.checksum_algorithm:
            raise ConfigError(
                f"manifest {reference} was made with checksum algorithm "
                f"{manifest.checksum_algorithm!r}, this restoredrill computes "
                f"{engine.checksum_algorithm!r}: their checksums cannot be compared "
                "(make a new manifest of production with this version)"
            )
    else:
        reference_label = dsnlib.redact(str(reference))
        engine = engine_for_dsns(restored_dsn, str(reference))

    listener.phase_started("verify")
    restored = _connect(engine, restored_dsn, restored=True)
    reference_conn: Any = None
    where = f"production ({dsnlib.describe(str(reference))})"

    def on_timeout(kind: TimeoutKind, table: str | None) -> Exception:
        return guards.timeout_error(kind, table, limits, where)

    def open_restored() -> Any:
        return _connect(engine, restored_dsn, restored=True)

    def open_reference() -> Any:
        """Another production connection, as read-only and as limited as the first."""
        conn = _connect(engine, str(reference))
        try:
            engine.limit_session(conn, limits.lock_timeout, limits.statement_timeout)
        except BaseException:
            engine.close(conn)
            raise
        return conn

    try:
        if manifest is None:
            reference_conn = _connect(engine, str(reference))
            engine.limit_session(reference_conn, limits.lock_timeout, limits.statement_timeout)
            guards.refuse_same_server(
                engine.server_identity(restored, dsnlib.redact(restored_dsn)),
                engine.server_identity(reference_conn, reference_label),
                "verify",
            )
        report = _verify(
            engine,
            restored,
            reference_conn,
            manifest,
            reference_label,
            tables,
            as_of_columns,
            as_of,
            listener,
            started,
            on_timeout,
            (open_restored, open_reference),
        )
    except engine.errors as exc:
        kind = engine.timeout_kind(exc)
        if kind is not None and reference_conn is not None:  # only production is limited
            raise on_timeout(kind, None) from exc
        raise DatabaseUnavailable(f"verify failed: {_one_line(exc)}") from exc
    finally:
        engine.close(restored)
        if reference_conn is not None:
            engine.close(reference_conn)
    listener.phase_finished(
        PhaseTiming(
            name="verify",
            seconds=report.seconds,
            detail=f"{len(report.tables)} tables, {report.status}",
        )
    )
    return report


def _verify(
    engine: Engine,
    restored: Any,
    reference: Any,
    manifest: Manifest | None,
    reference_label: str,
    tables: Sequence[str] | None,
    as_of_columns: Mapping[str, str],
    as_of: datetime | None,
    listener: ProgressListener,
    started: float,
    on_timeout: Callable[[TimeoutKind, str | None], Exception],
    open_helpers: tuple[Callable[[], Any], Callable[[], Any]],
) -> VerifyReport:
    restored_tables = {t.display: t for t in engine.list_tables(restored)}
    reference_tables: dict[str, TableName] = {}
    if reference is not None:
        reference_tables = {t.display: t for t in engine.list_tables(reference)}
    reference_names = set(manifest.tables) if manifest is not None else set(reference_tables)
    selected, columns = _select(
        engine, set(restored_tables) | reference_names, tables, as_of_columns
    )

    restored_end = engine.replay_end(restored)
    if columns and as_of is None:
        if restored_end.xact_time is None:
            what = (
                "pg_last_xact_replay_timestamp() is NULL: no transaction replayed, or the "
                "server was restarted"
                if engine.name == "postgres"
                else "not a restoredrill restore, or no transaction replayed"
            )
            raise ConfigError(f"cannot tell the restored point in time ({what}); pass --as-of")
        as_of = restored_end.xact_time
    jobs = [_Job(t, restored_tables.get(t), reference_tables.get(t)) for t in selected]
    for job in jobs:
        column = columns.get(job.table)
        if column is None or as_of is None:
            continue
        if job.restored is not None and column not in engine.table_columns(restored, job.restored):
            raise ConfigError(f"--as-of-column: table {job.table} has no column {column!r}")
        job.where, job.predicate = engine.as_of_predicate(restored, column, as_of)

    restored_items = [(j.table, j.restored, j.where) for j in jobs if j.restored is not None]
    reference_items = [(j.table, j.reference, j.where) for j in jobs if j.reference is not None]
    restored_id = engine.system_identifier(restored)
    reference_id = engine.system_identifier(reference) if reference is not None else None
    listener.note(f"fingerprinting {len(jobs)} tables")

    stop = threading.Event()
    # More connections per side, sharing that side's snapshot: several tables at once.
    restored_fan: FanOut[tuple[str, TableName, Any]] = FanOut(engine, open_helpers[0], stop=stop)
    reference_fan: FanOut[tuple[str, TableName, Any]] = FanOut(engine, open_helpers[1], stop=stop)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
        restored_future = pool.submit(
            _fingerprint_side,
            engine,
            restored,
            restored_items,
            "restored",
            listener,
            False,
            restored_fan,
        )
        reference_future = None
        if reference is not None:
            reference_future = pool.submit(
                _fingerprint_side,
                engine,
                reference,
                reference_items,
                "reference",
                listener,
                True,
                reference_fan,
                on_timeout,
            )
        try:
            # The first failure (a production timeout) ends both sides at once.
            futures = [f for f in (restored_future, reference_future) if f is not None]
            for future in wait(futures, return_when=FIRST_EXCEPTION).done:
                if future.exception() is not None:
                    future.result()
            restored_side = restored_future.result()
            reference_side = reference_future.result() if reference_future is not None else None
        except BaseException:  # Ctrl-C: stop the running queries so the threads end now
            restored_fan.cancel()
            reference_fan.cancel()
            raise

    moved_on = None
    if reference_side is not None:
        moved_on = production_moved_on(
            restored_id,
            reference_id,
            restored_end.lsn,
            reference_side.wal_lsn,
            engine.format_position,
        )
    checks: list[TableCheck] = []
    for job in jobs:
        reference_result: SideResult
        if manifest is not None:
            reference_result = manifest.tables.get(job.table)
        else:
            assert reference_side is not None
            reference_result = reference_side.results.get(job.table)
        checks.append(
            classify(
                job.table,
                restored_side.results.get(job.table),
                reference_result,
                "manifest" if manifest is not None else "live",
                job.predicate,
                moved_on,
            )
        )
    return VerifyReport(
        status=overall_status(checks),
        reference=reference_label,
        as_of=as_of if columns else None,
        tables=checks,
        seconds=time.monotonic() - started,
    )


# --- ledger --------------------------------------------------------------------------------------


def ledger_details(report: VerifyReport) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for check in report.tables:
        tables[check.table] = {
            "status": str(check.status),
            "rows_restored": check.restored.rows if check.restored else None,
            "rows_reference": check.reference.rows if check.reference else None,
            "predicate": check.predicate,
            "detail": check.detail,
        }
    return {"seconds": report.seconds, "tables": tables}


def record_verify(
    restored_dsn: str,
    reference: str | Path,
    report: VerifyReport | None,
    ledger_path: Path | None = None,
    error: str | None = None,
) -> int:
    """Record a verify in the ledger (kind "verify"); with no report, an ERROR with ``error``."""
    is_file = isinstance(reference, Path) or Path(reference).is_file()
    source = str(reference) if is_file else dsnlib.redact(str(reference))
    with Ledger(ledger_path) as ledger:
        if report is None:
            return ledger.record(
                kind="verify",
                database=dsnlib.describe(restored_dsn),
                source=source,
                target="-",
                verdict=str(VerifyStatus.ERROR),
                details={"error": error},
            )
        return ledger.record(
            kind="verify",
            database=dsnlib.describe(restored_dsn),
            source=source,
            target=f"as of {report.as_of.isoformat()}" if report.as_of else "-",
            verdict=str(report.status),
            phases=[PhaseTiming(name="verify", seconds=report.seconds)],
            details=ledger_details(report),
        )
