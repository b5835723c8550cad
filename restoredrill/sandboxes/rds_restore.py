"""Point-in-time restore into an RDS instance: plan (restore window) → provision (the
restore call) → restore (AWS works; we poll) → ready (connect for verify) → delete."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from restoredrill.drill.restore_request import RestoreBackend, Restored, RestoreRequest, check_plan
from restoredrill.dsn import connect
from restoredrill.errors import ConfigError
from restoredrill.models import RestoreResult
from restoredrill.sandboxes.rds import RdsOptions, rds_sandbox
from restoredrill.sources.base import retry_note
from restoredrill.sources.rds import RdsSource
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress


def _parts(request: RestoreRequest) -> tuple[RdsSource, RdsOptions]:
    source, options = request.source, request.backend
    if not isinstance(source, RdsSource) or not isinstance(options, RdsOptions):
        raise ConfigError("--sandbox rds restores only from --rds-instance or --rds-snapshot")
    return source, options


def check(request: RestoreRequest) -> None:
    _parts(request)[1].validate()


@contextlib.contextmanager
def restored_rds(
    request: RestoreRequest, progress: ProgressListener | None = None
) -> Iterator[Restored]:
    """Restore and yield the available instance; it is deleted on exit unless kept."""
    source, options = _parts(request)
    clock = PhaseClock(progress or SilentProgress())
    with clock.phase("plan") as record:
        plan = source.plan(request.target)
        record.detail = retry_note(source)
    check_plan(plan)  # nothing is created when the target is outside the window
    with rds_sandbox(options, source, keep=request.keep) as sandbox:
        with clock.phase("provision") as record:
            sandbox.create(request.target)
            record.detail = f"instance {sandbox.id}"
        with clock.phase("restore (RDS)") as record:
            sandbox.wait_available()
            notes = [f"{sandbox.polls} status poll(s)", retry_note(source)]
            record.detail = ", ".join(n for n in notes if n)
        with clock.phase("promote/ready") as record:
            dsn = sandbox.dsn(request.dbname) if request.dbname else sandbox.dsn()
            if options.check_connect:
                with connect(dsn, read_only=True) as conn:
                    conn.execute("SELECT 1")
                record.detail = "connected"
            else:
                record.detail = "connect for verify skipped (no server behind this API)"
        result = RestoreResult(
            plan=plan,
            phases=list(clock.phases),
            rto_seconds=clock.total("provision", "promote/ready"),
            recovered_to_lsn=None,
            last_replayed_xact_time=None,
            rpo_seconds=None,
            dsn=dsn,
            sandbox_id=sandbox.id,
            kept=request.keep,
        )
        yield Restored(result, sandbox, clock)


def details(request: RestoreRequest, result: RestoreResult) -> dict[str, Any]:
    return {"rds_instance": result.sandbox_id, "retries": retry_note(_parts(request)[0])}


BACKEND = RestoreBackend(restored_rds, check, details)
