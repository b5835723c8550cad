"""Point-in-time restore into an RDS instance: plan (restore window) → provision (the
restore call) → restore (AWS works; we poll) → ready (connect for verify) → delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from restoredrill.drill.recording import recorded_restore
from restoredrill.dsn import connect
from restoredrill.errors import ConfigError
from restoredrill.ledger import Ledger
from restoredrill.models import RestoreResult
from restoredrill.sandboxes.rds import rds_sandbox
from restoredrill.sources.base import retry_note
from restoredrill.sources.rds import RdsSource
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress

if TYPE_CHECKING:
    from restoredrill.drill.restore import RestoreRequest


def restore_rds(
    request: RestoreRequest,
    progress: ProgressListener | None = None,
    ledger: Ledger | None = None,
) -> RestoreResult:
    from restoredrill.drill.restore import check_plan

    source = request.source
    options = request.rds
    if not isinstance(source, RdsSource) or options is None:
        raise ConfigError("--sandbox rds restores only from --rds-instance or --rds-snapshot")
    options.validate()
    clock = PhaseClock(progress or SilentProgress())

    def attempt() -> RestoreResult:
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
                dsn = sandbox.dsn(request.dbname)
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
        return result

    return recorded_restore(
        ledger,
        source.describe(),
        request.target.describe(),
        attempt,
        lambda r: {"rds_instance": r.sandbox_id, "retries": retry_note(source)},
    )
