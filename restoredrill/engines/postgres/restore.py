"""PostgreSQL point-in-time restore into a throwaway sandbox, every phase timed.

plan → provision → restore base (+ manifest check) → fetch WAL → replay → promote/ready.
The sandbox is local (this machine's binaries) or a docker container: two restore backends
(sandboxes/registry.py) that differ only in how the sandbox is provisioned."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Literal

from restoredrill.drill.restore_request import RestoreBackend, Restored, RestoreRequest, check_plan
from restoredrill.engines.postgres import wal_fetch
from restoredrill.engines.postgres.plan import plan_restore
from restoredrill.engines.postgres.recovery import (
    REPLAY_DONE_MARKERS,
    RESTORED_SEGMENT,
    recovery_settings,
    replay_settings,
    verify_base,
    write_recovery,
)
from restoredrill.engines.postgres.replay_end import check_replay_end, naming_the_damage
from restoredrill.engines.postgres.restore_options import DockerOptions, PostgresOptions
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools
from restoredrill.errors import ConfigError, SandboxError
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE
from restoredrill.models import BaseBackup, RestorePlan, RestoreResult, WalSegment
from restoredrill.sandboxes.diskspace import disk_full_as_infrastructure
from restoredrill.sandboxes.replay_tuning import data_version, replay_tuning
from restoredrill.sources.base import (
    CustomFetch,
    Source,
    Targeted,
    base_manifest,
    close_source,
    retry_note,
)
from restoredrill.timing import (
    PhaseClock,
    PhaseRecord,
    ProgressListener,
    SilentProgress,
    report_progress,
)

DEFAULT_OS_USER = "postgres"
DEFAULT_DBNAME = "postgres"
Provision = Callable[[RestoreRequest, PgTools], AbstractContextManager[LocalPostgres]]


def postgres_options(request: RestoreRequest) -> PostgresOptions:
    options = request.backend
    if not isinstance(options, PostgresOptions):
        raise ConfigError(f"a PostgreSQL restore cannot take {options.backend} options")
    return options


@contextlib.contextmanager
def _restored(
    provision: Provision, request: RestoreRequest, progress: ProgressListener | None = None
) -> Iterator[Restored]:
    """Restore and yield the running sandbox; it is torn down on exit unless kept."""
    listener = progress or SilentProgress()
    options = postgres_options(request)
    tools = find_pg_tools(options.pg_bin)
    with contextlib.ExitStack() as stack:
        source = request.open_source()
        stack.callback(close_source, source)
        if not isinstance(source, Source):
            raise ConfigError(f"{source.describe()} restores into its own sandbox (--sandbox rds)")
        clock = PhaseClock(listener)
        with clock.phase("plan") as record:
            outcome = plan_restore(source, request.target, tools, request.shared)
            record.detail = retry_note(source)
        plan = outcome.plan
        check_plan(plan)  # nothing is provisioned when preflight fails
        tools = outcome.tools or tools  # the backup's major, when several are installed
        assert plan.base_backup is not None
        with clock.phase("provision"):
            sandbox = stack.enter_context(provision(request, tools))
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
            command = _deliver_wal(options, source, outcome.segments, sandbox, staging, record)
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
            dsn=sandbox.dsn(request.dbname or DEFAULT_DBNAME),
            sandbox_id=sandbox.id,
            kept=request.keep,
            base_check=base_check,
            warnings=[warning] if warning else [],
        )
        yield Restored(result, sandbox, clock)


def _local(request: RestoreRequest, tools: PgTools) -> AbstractContextManager[LocalPostgres]:
    os_user = request.os_user or DEFAULT_OS_USER
    return local_postgres("restore", os_user=os_user, keep=request.keep, tools=tools)


def _docker(request: RestoreRequest, tools: PgTools) -> AbstractContextManager[LocalPostgres]:
    from restoredrill.engines.postgres.sandbox_docker import docker_postgres

    image = request.backend.image if isinstance(request.backend, DockerOptions) else None
    return docker_postgres("restore", tools, image, request.keep)


def _base_check(
    source: Source, backup: BaseBackup, manifest: Path | None
) -> tuple[Literal["manifest", "pgbackrest", "none"], str | None]:
    """How the unpacked base is checked, and the warning when nothing can check it."""
    if manifest is not None:
        return "manifest", None
    if getattr(source, "kind", None) == "pgbackrest":
        return "pgbackrest", None  # pgBackRest verifies every file's checksum on restore
    return "none", f"base backup {backup.path} has no backup_manifest: not checked"


def _deliver_wal(
    options: PostgresOptions,
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
    if options.wal_delivery == "stream":
        config = getattr(source, "wal_fetch_config", None)
        if not callable(config):
            raise ConfigError("--wal-delivery stream needs an s3:// WAL archive")
        path = wal_fetch.write_config(
            sandbox.root, config(), sandbox.run_as, options.prefetch, DEFAULT_SEGMENT_SIZE
        )
        record.detail = f"streamed by restoredrill wal-fetch (prefetch {options.prefetch})"
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


def restored_local(
    request: RestoreRequest, progress: ProgressListener | None = None
) -> AbstractContextManager[Restored]:
    return _restored(_local, request, progress)


def restored_docker(
    request: RestoreRequest, progress: ProgressListener | None = None
) -> AbstractContextManager[Restored]:
    return _restored(_docker, request, progress)


def plan_request(request: RestoreRequest) -> RestorePlan:
    """The dry run of ``request``: its source opened, planned with the binaries it names."""
    source = request.open_source()
    try:
        pg_bin = getattr(request.backend, "pg_bin", None)
        return plan_restore(source, request.target, find_pg_tools(pg_bin)).plan
    finally:
        close_source(source)


LOCAL_BACKEND = RestoreBackend(restored_local, plan=plan_request)
DOCKER_BACKEND = RestoreBackend(restored_docker, plan=plan_request)
