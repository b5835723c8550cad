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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from restoredrill import dsn as dsnlib
from restoredrill.drill import guards
from restoredrill.drill.fanout import FanOut
from restoredrill.drill.guards import TimeoutKind
from restoredrill.drill.manifest import load_manifest
from restoredrill.drill.table_pieces import Piece
from restoredrill.drill.verify_input import (
    parse_as_of,
    parse_as_of_columns,
    require_aware,
    split_tables,
)
from restoredrill.drill.verify_ledger import record_verify
from restoredrill.drill.verify_sides import connect_side, fingerprint_side, one_line
from restoredrill.drill.verify_verdict import (
    SideResult,
    classify,
    overall_status,
    production_moved_on,
)
from restoredrill.engines.base import Engine, engine_family, engine_for_dsn, engine_for_dsns
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError, DatabaseUnavailable
from restoredrill.models import Manifest, PhaseTiming, TableCheck, VerifyReport
from restoredrill.timing import ProgressListener, SilentProgress

# the CLI's verify command uses these through this module
__all__ = [
    "parse_as_of",
    "parse_as_of_columns",
    "record_verify",
    "split_tables",
    "verify",
]


@dataclass
class _Job:
    table: str
    restored: TableName | None
    reference: TableName | None
    where: Any = None
    predicate: str | None = None


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
        require_aware(as_of)
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
    restored = connect_side(engine, restored_dsn, restored=True)
    reference_conn: Any = None
    where = f"production ({dsnlib.describe(str(reference))})"

    def on_timeout(kind: TimeoutKind, table: str | None) -> Exception:
        return guards.timeout_error(kind, table, limits, where)

    def open_restored() -> Any:
        return connect_side(engine, restored_dsn, restored=True)

    def open_reference() -> Any:
        """Another production connection, as read-only and as limited as the first."""
        conn = connect_side(engine, str(reference))
        try:
            engine.limit_session(conn, limits.lock_timeout, limits.statement_timeout)
        except BaseException:
            engine.close(conn)
            raise
        return conn

    try:
        if manifest is None:
            reference_conn = connect_side(engine, str(reference))
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
        raise DatabaseUnavailable(f"verify failed: {one_line(exc)}") from exc
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
            raise ConfigError(
                "cannot tell the restored point in time (no transaction replayed, the server "
                "was restarted, or it is not a restoredrill restore); pass --as-of"
            )
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
    restored_fan: FanOut[Piece[str]] = FanOut(engine, open_helpers[0], stop=stop)
    reference_fan: FanOut[Piece[str]] = FanOut(engine, open_helpers[1], stop=stop)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
        restored_future = pool.submit(
            fingerprint_side,
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
                fingerprint_side,
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
