"""Restore a logical PostgreSQL dump (pg_dump custom or plain) into a fresh container of the
server version it was dumped from: to dump time only (a logical dump has no log to replay).
The dump's own tools run inside the container, so the host needs no server binaries."""

from __future__ import annotations

from pathlib import Path

from restoredrill.drill.recording import recorded_restore
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import ConfigError
from restoredrill.ledger import Ledger
from restoredrill.models import (
    CheckStatus,
    PreflightCheck,
    RecoveryTarget,
    RestorePlan,
    RestoreResult,
)
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress

DUMP_MOUNT = Path("/restoredrill-dump")


def dump_format(path: Path) -> str:
    """'custom' (pg_dump -Fc) or 'plain' (SQL)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
    except OSError as exc:
        raise ConfigError(f"--logical-dump {path}: {exc.strerror or exc}") from exc
    return "custom" if head == b"PGDMP" else "plain"


def restore_logical(
    dump: Path,
    image: str | None = None,
    dbname: str = "postgres",
    keep: bool = False,
    progress: ProgressListener | None = None,
    ledger: Ledger | None = None,
) -> RestoreResult:
    """Restore ``dump`` into a docker sandbox, time it, record it, tear down unless kept."""
    return recorded_restore(
        ledger,
        f"logical:{dump}",
        "dump time",
        lambda: _restore(dump, image, dbname, keep, progress),
        lambda _: {"dump": str(dump)},
    )


def _restore(
    dump: Path, image: str | None, dbname: str, keep: bool, progress: ProgressListener | None
) -> RestoreResult:
    from restoredrill.engines.postgres.sandbox_docker import docker_postgres, dump_image

    dump = dump.resolve()
    kind = dump_format(dump)
    clock = PhaseClock(progress or SilentProgress())
    with clock.phase("plan") as record:
        chosen = image or dump_image(dump)
        record.detail = f"{kind} dump, image {chosen}"
    plan = RestorePlan(
        engine="postgres",
        source=f"logical:{dump}",
        target=RecoveryTarget(kind="immediate"),
        base_backup=None,
        wal_range=None,
        target_timeline=None,
        archive_head_lsn=None,
        archive_head_time=None,
        checks=[
            PreflightCheck(
                name="logical dump",
                status=CheckStatus.OK,
                detail=f"{kind} format; restores to dump time only (no log replay)",
            )
        ],
    )
    # The tools run in the container: the host's PgTools are never used for this sandbox.
    tools = PgTools(Path("/usr/lib/postgresql/bin"), "0")
    target = DUMP_MOUNT / dump.name
    with docker_postgres("restore-logical", tools, chosen, keep, {dump: target}) as sandbox:
        with clock.phase("provision"):
            sandbox.initdb()
            sandbox.start()
        with clock.phase("restore base") as record:
            if dbname != "postgres":
                sandbox.exec(["createdb", "-h", str(sandbox.sockdir), dbname], "createdb")
            connect = ["-h", str(sandbox.sockdir), "-U", sandbox.superuser, "-d", dbname]
            if kind == "custom":
                argv = ["pg_restore", *connect, "--no-owner", "--exit-on-error", str(target)]
                sandbox.exec(argv, "pg_restore")
            else:
                argv = ["psql", *connect, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(target)]
                sandbox.exec(argv, "psql")
            record.bytes = dump.stat().st_size
        with clock.phase("promote/ready"):
            sandbox.wait_ready(60)
        return RestoreResult(
            plan=plan,
            phases=list(clock.phases),
            rto_seconds=clock.total("provision", "promote/ready"),
            recovered_to_lsn=None,
            last_replayed_xact_time=None,
            rpo_seconds=None,
            dsn=sandbox.dsn(dbname),
            sandbox_id=sandbox.id,
            kept=keep,
        )
