"""Point-in-time restore into a throwaway sandbox, every phase timed.

plan → provision → restore base (+ manifest check) → fetch WAL → replay → promote/ready."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from restoredrill.drill.plan import plan_restore
from restoredrill.dsn import describe
from restoredrill.engines.pg_tools import find_pg_tools
from restoredrill.engines.postgres_recovery import (
    REPLAY_DONE_MARKERS,
    recovery_settings,
    replay_settings,
    verify_base,
    write_recovery,
)
from restoredrill.errors import PreflightFailed, RestoreDrillError, SandboxError
from restoredrill.ledger import Ledger
from restoredrill.models import RecoveryTarget, RestorePlan, RestoreResult
from restoredrill.sandboxes.local import LocalPostgres, local_postgres
from restoredrill.sources.file import FileSource
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress


@dataclass(frozen=True)
class RestoreRequest:
    base_backups: Path
    wal_archive: Path
    target: RecoveryTarget
    keep: bool = False
    pg_bin: str | None = None
    os_user: str = "postgres"
    dbname: str = "postgres"
    timeout: float = 3600.0


@dataclass
class Restored:
    """A running restored sandbox (inside ``restored()``) and what we measured."""

    result: RestoreResult
    sandbox: LocalPostgres
    clock: PhaseClock = field(repr=False, default_factory=PhaseClock)

    def dsn(self, dbname: str | None = None) -> str:
        return self.sandbox.dsn(dbname or "postgres")


def check_plan(plan: RestorePlan) -> None:
    failure = plan.first_failure()
    if failure is not None:
        raise PreflightFailed(f"preflight failed ({failure.name}): {failure.detail}")


@contextlib.contextmanager
def restored(
    request: RestoreRequest, progress: ProgressListener | None = None
) -> Iterator[Restored]:
    """Restore and yield the running sandbox; it is torn down on exit unless kept."""
    listener = progress or SilentProgress()
    tools = find_pg_tools(request.pg_bin)
    source = FileSource(request.base_backups, request.wal_archive)
    clock = PhaseClock(listener)
    with clock.phase("plan"):
        outcome = plan_restore(source, request.target, tools)
    plan = outcome.plan
    check_plan(plan)  # nothing is provisioned when preflight fails
    assert plan.base_backup is not None

    with contextlib.ExitStack() as stack:
        with clock.phase("provision"):
            sandbox = stack.enter_context(
                local_postgres("restore", os_user=request.os_user, keep=request.keep, tools=tools)
            )
        with clock.phase("restore base") as record:
            record.bytes = source.extract_base(plan.base_backup, sandbox.datadir, sandbox.run_as)
            manifest = Path(plan.base_backup.path) / "backup_manifest"
            if manifest.is_file():
                verify_base(tools, sandbox.datadir, manifest)
                record.detail = "checked against backup_manifest"
        staging = sandbox.work / "wal"
        staging.mkdir()
        sandbox.run_as.own(staging)
        with clock.phase("fetch WAL") as record:
            record.bytes = source.stage_segments(outcome.segments, staging, sandbox.run_as)
            source.stage_histories(staging, sandbox.run_as)
            record.detail = f"{len(outcome.segments)} segment(s)"
        write_recovery(
            sandbox.datadir,
            recovery_settings(request.target, plan.target_timeline, staging),
            sandbox.run_as,
        )
        with clock.phase("replay WAL") as record:
            sandbox.launch(replay_settings(tools, sandbox.datadir), recovery=True)
            sandbox.wait_for_log(REPLAY_DONE_MARKERS, request.timeout)
            record.bytes = plan.wal_range.bytes if plan.wal_range else None
        with clock.phase("promote/ready"):
            sandbox.wait_ready(request.timeout)
            replay_time, replay_lsn = _recovery_facts(sandbox)
        rpo = None
        if request.target.kind == "time" and request.target.time and replay_time:
            rpo = max(0.0, (request.target.time - replay_time).total_seconds())
        result = RestoreResult(
            plan=plan,
            phases=list(clock.phases),
            rto_seconds=clock.total("provision", "promote/ready"),
            recovered_to_lsn=replay_lsn,
            last_replayed_xact_time=replay_time,
            rpo_seconds=rpo,
            dsn=sandbox.dsn(request.dbname),
            sandbox_id=sandbox.id,
            kept=request.keep,
        )
        yield Restored(result, sandbox, clock)


def _recovery_facts(sandbox: LocalPostgres) -> tuple[datetime | None, int | None]:
    with sandbox.connect() as conn:
        row = conn.execute(
            "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(),"
            " pg_last_wal_replay_lsn() - '0/0'::pg_lsn"
        ).fetchone()
    assert row is not None
    in_recovery, replay_time, replay_lsn = row
    if in_recovery:
        raise SandboxError("the restored server is still in recovery after start-up")
    lsn = int(str(replay_lsn)) if replay_lsn is not None else None
    return replay_time if isinstance(replay_time, datetime) else None, lsn


def restore(
    request: RestoreRequest,
    progress: ProgressListener | None = None,
    ledger: Ledger | None = None,
) -> RestoreResult:
    """Restore, record the outcome in the ledger, and tear down (unless kept)."""
    source = f"file:{request.base_backups}"
    try:
        with restored(request, progress) as done:
            result = done.result
    except RestoreDrillError as exc:
        if ledger is not None:
            ledger.record(
                "restore",
                database="(restore)",
                source=source,
                target=request.target.describe(),
                verdict=f"ERROR: {type(exc).__name__}",
                details={"error": str(exc)},
            )
        raise
    if ledger is not None:
        ledger.record(
            "restore",
            database=describe(result.dsn or ""),
            source=source,
            target=request.target.describe(),
            verdict="RESTORED",
            phases=result.phases,
            rto_seconds=result.rto_seconds,
            rpo_seconds=result.rpo_seconds,
            details={
                "base_backup": result.plan.base_backup.path if result.plan.base_backup else None
            },
        )
    return result
