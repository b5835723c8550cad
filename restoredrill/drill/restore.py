"""Point-in-time restore into a throwaway sandbox, every phase timed.

plan → provision → restore base (+ manifest check) → fetch WAL → replay → promote/ready."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from restoredrill.drill.plan import plan_restore
from restoredrill.drill.recording import recorded_restore
from restoredrill.engines.postgres import wal_fetch
from restoredrill.engines.postgres.recovery import (
    REPLAY_DONE_MARKERS,
    RESTORED_SEGMENT,
    recovery_settings,
    replay_settings,
    verify_base,
    write_recovery,
)
from restoredrill.engines.postgres.replay_end import check_replay_end, naming_the_damage
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools
from restoredrill.errors import ConfigError, PreflightFailed, SandboxError
from restoredrill.ledger import Ledger
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE
from restoredrill.models import BaseBackup, RecoveryTarget, RestorePlan, RestoreResult, WalSegment
from restoredrill.sandboxes.diskspace import disk_full_as_infrastructure
from restoredrill.sandboxes.replay_tuning import data_version, replay_tuning
from restoredrill.sources.base import (
    CustomFetch,
    SelfPlanning,
    Source,
    Targeted,
    base_manifest,
    open_source,
    retry_note,
)
from restoredrill.timing import (
    PhaseClock,
    PhaseRecord,
    ProgressListener,
    SilentProgress,
    report_progress,
)

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig
    from restoredrill.engines.mysql.sandbox_local import LocalMySQL
    from restoredrill.sandboxes.rds import RdsOptions


@dataclass(frozen=True)
class RestoreRequest:
    base_backups: Path | str  # a directory or an s3:// URL (ignored when ``source`` is given)
    wal_archive: Path | str
    target: RecoveryTarget
    keep: bool = False
    pg_bin: str | None = None
    os_user: str = "postgres"
    dbname: str = "postgres"
    timeout: float = 3600.0
    source: Source | SelfPlanning | None = None  # e.g. pgBackRest, RDS; used once, then closed
    wal_delivery: Literal["stage", "stream"] = "stage"  # see engines/postgres/wal_fetch.py
    prefetch: int = 8  # segments wal-fetch fetches alongside the one asked for
    rds: RdsOptions | None = None  # restore into an RDS instance instead of a local sandbox
    # "postgres", or "mariadb"/"mysql": then base_backups is the snapshot (a dump file, a
    # mariabackup directory, or a directory of them) and wal_archive the binlog archive
    engine: str = "postgres"
    sandbox: Literal["local", "docker"] = "local"  # docker: a container of ``image``
    image: str | None = None  # docker image; default: postgres:<PG_VERSION of the base>
    aws: AwsConfig | None = None  # MariaDB/MySQL s3:// sources (default: from the environment)

    def open_source(self) -> Source | SelfPlanning:
        return self.source or open_source(self.base_backups, self.wal_archive)


@dataclass
class Restored:
    """A running restored sandbox (inside ``restored()``) and what we measured."""

    result: RestoreResult
    sandbox: LocalPostgres | LocalMySQL
    clock: PhaseClock = field(repr=False, default_factory=PhaseClock)

    def dsn(self, dbname: str | None = None) -> str:
        default = "postgres" if isinstance(self.sandbox, LocalPostgres) else ""
        return self.sandbox.dsn(dbname or default)


def check_plan(plan: RestorePlan) -> None:
    failure = plan.first_failure()
    if failure is not None:
        raise PreflightFailed(f"preflight failed ({failure.name}): {failure.detail}")


@contextlib.contextmanager
def restored(
    request: RestoreRequest, progress: ProgressListener | None = None
) -> Iterator[Restored]:
    """Restore and yield the running sandbox; it is torn down on exit unless kept."""
    if request.engine != "postgres":  # MariaDB/MySQL: snapshot + binlog replay
        from restoredrill.engines.mysql.restore import restored_mysql

        with restored_mysql(request, progress) as done:
            yield done
        return
    listener = progress or SilentProgress()
    tools = find_pg_tools(request.pg_bin)
    with contextlib.ExitStack() as stack:
        source = request.open_source()
        stack.callback(_close, source)
        if not isinstance(source, Source):
            raise ConfigError(f"{source.describe()} restores into its own sandbox (--sandbox rds)")
        clock = PhaseClock(listener)
        with clock.phase("plan") as record:
            outcome = plan_restore(source, request.target, tools)
            record.detail = retry_note(source)
        plan = outcome.plan
        check_plan(plan)  # nothing is provisioned when preflight fails
        tools = outcome.tools or tools  # the backup's major, when several are installed
        assert plan.base_backup is not None
        with clock.phase("provision"):
            sandbox = stack.enter_context(_provision(request, tools))
        # A full sandbox disk is the machine's problem (exit 3), whatever it broke on the way.
        needed = plan.base_backup.size_bytes + (plan.wal_range.bytes if plan.wal_range else 0)

        def disk(phase: str) -> contextlib.AbstractContextManager[None]:
            return disk_full_as_infrastructure(sandbox.root, needed, phase, sandbox.log_text)

        with disk("restore base"), clock.phase("restore base") as record:
            if isinstance(source, Targeted):
                record.bytes = source.extract_for_target(
                    plan.base_backup,
                    sandbox.datadir,
                    sandbox.run_as,
                    request.target,
                    plan.target_timeline,
                )
            else:
                record.bytes = source.extract_base(
                    plan.base_backup, sandbox.datadir, sandbox.run_as
                )
            manifest = base_manifest(source, plan.base_backup)
            base_check, warning = _base_check(source, plan.base_backup, manifest)
            if manifest is not None:
                verify_base(tools, sandbox.datadir, manifest)
            note = {"manifest": "checked against backup_manifest", "none": warning}
            notes = [note.get(base_check), retry_note(source)]
            record.detail = "; ".join(n for n in notes if n) or None
            data_bytes = record.bytes or plan.base_backup.size_bytes
        staging = sandbox.work / "wal"
        staging.mkdir()
        sandbox.run_as.own(staging)
        with disk("fetch WAL"), clock.phase("fetch WAL") as record:
            command = _deliver_wal(request, source, outcome.segments, sandbox, staging, record)
        write_recovery(
            sandbox.datadir,
            recovery_settings(request.target, plan.target_timeline, staging, command),
            sandbox.run_as,
        )

        def damage() -> contextlib.AbstractContextManager[None]:
            return naming_the_damage(plan, sandbox.log_text, DEFAULT_SEGMENT_SIZE)

        with disk("replay WAL"), damage(), clock.phase("replay WAL") as record:
            settings = replay_settings(tools, sandbox.datadir)
            sandbox.launch(
                {**settings, **replay_tuning(data_bytes, data_version(sandbox.datadir))}, True
            )
            wal_bytes = plan.wal_range.bytes if plan.wal_range else None
            sandbox.wait_for_log(REPLAY_DONE_MARKERS, request.timeout, replay_progress(wal_bytes))
            record.bytes = plan.wal_range.bytes if plan.wal_range else None
            record.detail = wal_fetch.summarize(sandbox.root)
        with disk("replay WAL"), damage(), clock.phase("promote/ready"):
            sandbox.wait_ready(request.timeout)
            replay_time, replay_lsn = _recovery_facts(sandbox)
            # PostgreSQL promotes at the first record it cannot read: hold it to the plan.
            check_replay_end(
                plan, replay_lsn, replay_time, sandbox.log_text(), DEFAULT_SEGMENT_SIZE
            )
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
            base_check=base_check,
            warnings=[warning] if warning else [],
        )
        yield Restored(result, sandbox, clock)


def _provision(
    request: RestoreRequest, tools: PgTools
) -> contextlib.AbstractContextManager[LocalPostgres]:
    if request.sandbox == "docker":
        from restoredrill.sandboxes.docker import docker_postgres

        return docker_postgres("restore", tools, request.image, request.keep)
    return local_postgres("restore", os_user=request.os_user, keep=request.keep, tools=tools)


def _base_check(
    source: Source, backup: BaseBackup, manifest: Path | None
) -> tuple[Literal["manifest", "pgbackrest", "none"], str | None]:
    """How the unpacked base is checked, and the warning when nothing can check it."""
    if manifest is not None:
        return "manifest", None
    if getattr(source, "kind", None) == "pgbackrest":
        return "pgbackrest", None  # pgBackRest verifies every file's checksum on restore
    return "none", f"base backup {backup.path} has no backup_manifest: not checked"


def _close(source: object) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


def _deliver_wal(
    request: RestoreRequest,
    source: Source,
    segments: list[WalSegment],
    sandbox: LocalPostgres,
    staging: Path,
    record: PhaseRecord,
) -> str | None:
    """Stage the WAL replay needs, or set up the command PostgreSQL fetches it with;
    returns that restore_command (None: copy from the staging directory)."""
    if isinstance(source, CustomFetch):
        record.detail = "fetched by the source's own restore_command during replay"
        sandbox.passthrough_env = ("PGBACKREST_*",)  # its options/credentials, nothing else
        return source.restore_command(sandbox.root, sandbox.datadir, sandbox.run_as)
    if request.wal_delivery == "stream":
        config = getattr(source, "wal_fetch_config", None)
        if not callable(config):
            raise ConfigError("--wal-delivery stream needs an s3:// WAL archive")
        path = wal_fetch.write_config(
            sandbox.root, config(), sandbox.run_as, request.prefetch, DEFAULT_SEGMENT_SIZE
        )
        record.detail = f"streamed by restoredrill wal-fetch (prefetch {request.prefetch})"
        sandbox.passthrough_env = wal_fetch.PASSTHROUGH_ENV
        return wal_fetch.command(path, sandbox.run_as)
    record.bytes = source.stage_segments(segments, staging, sandbox.run_as)
    source.stage_histories(staging, sandbox.run_as)
    linked = sum(1 for path in staging.iterdir() if path.is_symlink())
    count = f"{len(segments)} segment(s)" + (f", {linked} read in place" if linked else "")
    notes = [count, retry_note(source)]
    record.detail = ", ".join(n for n in notes if n)
    return None


def replay_progress(total: int | None) -> Callable[[str], None]:
    """Replay's progress from the server log: one line per segment restored from the
    archive (the server takes no queries while it replays)."""

    def seen(log: str) -> None:
        restored = log.count(RESTORED_SEGMENT) * DEFAULT_SEGMENT_SIZE
        report_progress(min(restored, total) if total else restored, total)

    return seen


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
    if request.rds is not None:
        from restoredrill.drill.restore_rds import restore_rds

        return restore_rds(request, progress, ledger)
    source = request.source.describe() if request.source else f"file:{request.base_backups}"
    if request.source is None and str(request.base_backups).startswith("s3://"):
        source = f"{request.base_backups} (WAL {request.wal_archive})"

    def attempt() -> RestoreResult:
        with restored(request, progress) as done:
            return done.result

    return recorded_restore(
        ledger,
        source,
        request.target.describe(),
        attempt,
        lambda r: {"base_backup": r.plan.base_backup.path if r.plan.base_backup else None},
    )
