"""`restoredrill recover`: put back exactly what an incident destroyed.

A diff of "restored to just before the incident" against production-now mixes the incident
with every legitimate write since. The incident's exact effect is the diff between two
restores of the same backup: one just before it and one just after it. That diff, with the
after-incident values as the guard, goes to reapply: rows the incident deleted come back,
rows it changed are reverted only where production still holds what the incident left, and
everything written since is untouched.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime

from restoredrill import dsn as dsnlib
from restoredrill.drill.diff import diff_tables, make_document, write_diff
from restoredrill.drill.ledger_writes import reapply_details, reapply_verdict, record_write
from restoredrill.drill.private_file import check_writable
from restoredrill.drill.reapply import ReapplyOptions, reapply_document
from restoredrill.drill.restore import Restored, RestoreRequest, restored
from restoredrill.durations import format_duration
from restoredrill.engines.base import engine_for_dsn
from restoredrill.errors import (
    ConfigError,
    DatabaseUnavailable,
    InvalidTarget,
    ReapplyRefused,
    RestoreDrillError,
    UsageError,
)
from restoredrill.models import (
    DiffDocument,
    Frozen,
    PhaseTiming,
    ReapplyReport,
    RecoveryTarget,
    RestoreResult,
    RowDiffSummary,
    ServerIdentity,
)
from restoredrill.sandboxes.registry import local_restore
from restoredrill.shared_work import SharedWork
from restoredrill.targets import parse_gtid
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress


class RecoverResult(Frozen):
    before: RestoreResult
    after: RestoreResult
    before_time: AwareDatetime | None  # None when the incident was given by its xid/GTID
    after_time: AwareDatetime | None
    diff_file: str
    tables: list[RowDiffSummary]
    reapply: ReapplyReport
    phases: list[PhaseTiming]
    seconds: float
    incident_xid: int | None = None
    incident_gtid: str | None = None


@dataclass(frozen=True)
class RecoverRequest:
    base_backups: Path | str  # as RestoreRequest's
    wal_archive: Path | str
    before: datetime | None  # the incident by time (both), or by ``incident_xid``/``_gtid``
    after: datetime | None
    tables: Sequence[str]
    to_dsn: str
    out: Path | None = None  # an existing file only with ``reapply.force``
    reapply: ReapplyOptions = field(default_factory=ReapplyOptions)
    dbname: str | None = None  # database inside the restores (default: the --to DSN's)
    pg_bin: str | None = None
    os_user: str | None = None  # the server's OS user in the restores (None: the engine's)
    incident_xid: int | None = None  # PostgreSQL: restore to just before/after this xid
    incident_gtid: str | None = None  # MariaDB/MySQL: the same, by GTID


class _Labelled:
    """Progress from one of two parallel restores: prefixed, serialised notes (a spinner
    per thread would garble the terminal)."""

    def __init__(self, inner: ProgressListener, label: str, lock: threading.Lock) -> None:
        self.inner = inner
        self.label = label
        self.lock = lock

    def phase_started(self, name: str) -> None:
        pass

    def phase_finished(self, timing: PhaseTiming) -> None:
        with self.lock:
            self.inner.note(
                f"{self.label}: {timing.name} done in {format_duration(timing.seconds)}"
            )

    def note(self, message: str) -> None:
        with self.lock:
            self.inner.note(f"{self.label}: {message}")


def enter_parallel(
    stack: ExitStack, managers: Sequence[AbstractContextManager[Restored]]
) -> list[Restored]:
    """Enter context managers in parallel threads (one after the other on a single core);
    every one that was entered is pushed on ``stack``, so it is exited even when another
    failed or Ctrl-C came while waiting."""
    workers = max(1, min(len(managers), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="restore") as pool:
        futures = [pool.submit(m.__enter__) for m in managers]
        values: list[Restored] = []
        first_error: BaseException | None = None
        pushed: set[int] = set()
        try:
            for n, (manager, future) in enumerate(zip(managers, futures, strict=True)):
                try:
                    values.append(future.result())
                except Exception as exc:
                    first_error = first_error or exc
                    continue
                stack.push(manager.__exit__)
                pushed.add(n)
        except BaseException:
            for n, (manager, future) in enumerate(zip(managers, futures, strict=True)):
                if n in pushed:
                    continue
                with contextlib.suppress(BaseException):
                    future.result()
                    stack.push(manager.__exit__)
            raise
    if first_error is not None:
        raise first_error
    return values


@contextlib.contextmanager
def restored_pair(
    before: RestoreRequest, after: RestoreRequest, progress: ProgressListener | None = None
) -> Iterator[tuple[Restored, Restored]]:
    """Both restores, provisioned in parallel threads, both torn down on exit."""
    listener = progress or SilentProgress()
    lock = threading.Lock()
    with ExitStack() as stack:
        pair = enter_parallel(
            stack,
            [
                restored(before, _Labelled(listener, "before", lock)),
                restored(after, _Labelled(listener, "after", lock)),
            ],
        )
        yield pair[0], pair[1]


def production_identity(dsn: str) -> ServerIdentity:
    """The identity of ``dsn`` (opened read-only, only to read it)."""
    engine = engine_for_dsn(dsn)
    conn = engine.connect(dsn, read_only=True)
    try:
        return engine.server_identity(conn, dsnlib.redact(dsn))
    except engine.errors as exc:
        raise DatabaseUnavailable(f"{dsnlib.redact(dsn)}: {engine.one_line(exc)}") from exc
    finally:
        engine.close(conn)


def incident_diff(
    before_dsn: str,
    after_dsn: str,
    production: ServerIdentity,
    tables: Sequence[str],
    progress: ProgressListener | None = None,
    where: str | None = None,
) -> DiffDocument:
    """The incident's exact effect: restore-before vs restore-after, for ``production``.

    ``where`` is reapply's --where, pushed into the diff so that only the rows it can put
    back are compared and fetched: a key is in the diff when its row matches on either
    side (drill/diff_rows.py), a superset of what reapply keeps (rows whose restored values
    match), and reapply filters again, so the rows written are the same as without it."""
    before_id, after_id, diffs = diff_tables(
        before_dsn, after_dsn, tables, where=where, progress=progress
    )
    if (
        before_id.system_identifier is not None
        and production.system_identifier is not None
        and before_id.system_identifier != production.system_identifier
    ):
        raise ReapplyRefused(
            f"the backups are not of {production.label}: the restores have system identifier "
            f"{before_id.system_identifier}, the target {production.system_identifier}"
        )
    return make_document("incident", before_id, production, diffs, where, incident=after_id)


def incident_targets(
    request: RecoverRequest, incident_id: Literal["xid", "gtid"] = "xid"
) -> tuple[RecoveryTarget, RecoveryTarget]:
    """Where the two restores stop: just before and just after the incident, given either
    as one transaction (PostgreSQL xid, MariaDB/MySQL GTID: exactly its effect, nothing of
    the traffic around it) or as two times. Exactly one way; ``incident_id`` is the kind of
    transaction id the engine names one by."""
    xid, gtid = request.incident_xid, request.incident_gtid
    before, after = request.before, request.after
    given = [
        name
        for name, value in (
            ("--incident-xid", xid),
            ("--incident-gtid", gtid),
            ("--before/--after", before or after),
        )
        if value is not None
    ]
    own = "--incident-gtid G" if incident_id == "gtid" else "--incident-xid N"
    if len(given) > 1:
        both = "not both" if len(given) == 2 else "only one"
        raise InvalidTarget(f"give either {' or '.join(given)}, {both}")
    if xid is not None:
        if incident_id != "xid":
            raise InvalidTarget(
                "--incident-xid is a PostgreSQL transaction id; for MariaDB/MySQL give "
                "--incident-gtid G (see `incident find --binlog-archive`)"
            )
        if not 3 <= xid < 1 << 32:
            raise InvalidTarget(f"--incident-xid {xid} is not a transaction id (a number >= 3)")
        return (
            RecoveryTarget(kind="xid", xid=xid, inclusive=False),
            RecoveryTarget(kind="xid", xid=xid, inclusive=True),
        )
    if gtid is not None:
        if incident_id != "gtid":
            raise InvalidTarget(
                "--incident-gtid is a MariaDB/MySQL GTID; for PostgreSQL give --incident-xid N "
                "(see `incident find --wal-archive`)"
            )
        text = parse_gtid(gtid, "--incident-gtid")
        return (
            RecoveryTarget(kind="gtid", gtid=text, inclusive=False),
            RecoveryTarget(kind="gtid", gtid=text, inclusive=True),
        )
    if before is None or after is None:
        raise InvalidTarget(f"give the incident: {own}, or both --before and --after")
    for name, value in (("--before", before), ("--after", after)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidTarget(f"{name} has no time zone")
    if after <= before:
        raise InvalidTarget("--after must be later than --before")
    return RecoveryTarget(kind="time", time=before), RecoveryTarget(kind="time", time=after)


def default_out(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"restoredrill-recover-{stamp}.json")


def recover(request: RecoverRequest, progress: ProgressListener | None = None) -> RecoverResult:
    """Restore before and after the incident, diff, reapply (dry run unless
    ``request.reapply.execute``). Every run that got past its own checks is recorded in the
    ledger as one ``recover`` entry (its phases, the counts, how it ended)."""
    label = dsnlib.redact(request.to_dsn)
    ledger = request.reapply.ledger
    try:
        result = _recover(request, progress)
    except RestoreDrillError as exc:
        if not isinstance(exc, UsageError):  # a refusal before any work is not a recovery
            what = {"error": str(exc), "tables": list(request.tables)}
            out = request.out or "(no diff)"
            record_write("recover", ledger, label, out, f"ERROR: {type(exc).__name__}", what)
        raise
    report = result.reapply
    verdict = reapply_verdict(report) if report.executed else "DRY RUN"
    details = {**reapply_details(report), "incident_xid": request.incident_xid}
    details["incident_gtid"] = request.incident_gtid
    record_write("recover", ledger, label, result.diff_file, verdict, details, result.phases)
    return result


def _recover(request: RecoverRequest, progress: ProgressListener | None) -> RecoverResult:
    listener = progress or SilentProgress()
    started = time.monotonic()
    engine = engine_for_dsn(request.to_dsn)
    local = local_restore(engine.name)
    before_target, after_target = incident_targets(request, local.incident_id)
    if not request.tables:
        raise ConfigError("choose the tables to recover (--table)")
    out = request.out or default_out()
    # Refuse now, not after two restores: the diff file and the script hold production rows.
    check_writable(out, request.reapply.force, "the diff file", make_dir=True)
    if request.reapply.sql_out is not None:
        check_writable(request.reapply.sql_out, request.reapply.force, "the SQL script", True)
    production = production_identity(request.to_dsn)
    dbname = request.dbname or engine.database_of(request.to_dsn) or local.default_dbname
    clock = PhaseClock(listener)
    shared = SharedWork()  # e.g. one scan of the WAL for the incident's xid, not two

    def restore_request(target: RecoveryTarget) -> RestoreRequest:
        return RestoreRequest(
            base_backups=request.base_backups,
            wal_archive=request.wal_archive,
            target=target,
            os_user=request.os_user,  # MariaDB/MySQL read "postgres" (the CLI's default) as theirs
            dbname=dbname,
            backend=local.options(request.pg_bin),
            shared=shared,
        )

    lock = threading.Lock()
    with ExitStack() as stack:
        listener.phase_started("restore before + after")
        restore_started = time.monotonic()
        before, after = enter_parallel(
            stack,
            [
                restored(restore_request(before_target), _Labelled(listener, "before", lock)),
                restored(restore_request(after_target), _Labelled(listener, "after", lock)),
            ],
        )
        timing = PhaseTiming(
            name="restore before + after",
            seconds=time.monotonic() - restore_started,
            detail="two restores in parallel",
        )
        clock.phases.append(timing)
        listener.phase_finished(timing)
        with clock.phase("diff"):
            document = incident_diff(
                before.dsn(dbname),
                after.dsn(dbname),
                production,
                request.tables,
                listener,
                where=request.reapply.where,
            )
        before_result, after_result = before.result, after.result
    write_diff(document, out, request.reapply.force)
    with clock.phase("reapply" if request.reapply.execute else "reapply (dry run)"):
        once = replace(request.reapply, record=False)  # recorded once, as this recover
        report = reapply_document(document, out, request.to_dsn, once, listener)
    return RecoverResult(
        before=before_result,
        after=after_result,
        before_time=request.before,
        after_time=request.after,
        diff_file=str(out),
        tables=[RowDiffSummary.of(t) for t in document.tables],
        reapply=report,
        phases=list(clock.phases),
        seconds=time.monotonic() - started,
        incident_xid=request.incident_xid,
        incident_gtid=request.incident_gtid,
    )


__all__ = [
    "RecoverRequest",
    "RecoverResult",
    "default_out",
    "enter_parallel",
    "incident_diff",
    "incident_targets",
    "production_identity",
    "recover",
    "restored_pair",
]
