"""The restore the options of `restoredrill restore` ask for: a logical dump into Docker, a
MariaDB/MySQL snapshot and binlogs, or a PostgreSQL base backup and WAL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from restoredrill.cli.sandbox_options import SandboxOptions
from restoredrill.cli.sources import BackupOptions
from restoredrill.cli.target_options import TargetOptions
from restoredrill.errors import ConfigError

if TYPE_CHECKING:
    from restoredrill.drill.restore import RestoreRequest
    from restoredrill.ledger import Ledger
    from restoredrill.models import RestoreResult
    from restoredrill.timing import ProgressListener


def restore(
    backup: BackupOptions,
    targets: TargetOptions,
    sandbox: SandboxOptions,
    logical_dump: Path | None,
    ledger: Path | None,
    json_output: bool,
) -> RestoreResult:
    from restoredrill.cli.console import err, interactive
    from restoredrill.ledger import Ledger
    from restoredrill.report.terminal import RichProgress

    if logical_dump is not None:
        _check_logical(backup.engine, sandbox.kind, targets)
    else:
        from restoredrill.drill.restore import restore as run

        request = _request(backup, targets, sandbox)
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    with Ledger(ledger) as history:
        if logical_dump is not None:
            return _logical(logical_dump, backup.engine, sandbox, progress, history)
        return run(request, progress, history)


def _request(
    backup: BackupOptions, targets: TargetOptions, sandbox: SandboxOptions
) -> RestoreRequest:
    from restoredrill.drill.restore import RestoreRequest
    from restoredrill.engines.mysql.restore_options import MySqlOptions
    from restoredrill.engines.postgres.restore_options import sandbox_options

    if sandbox.image is not None and sandbox.kind != "docker":
        raise ConfigError("--image goes with --sandbox docker")
    recovery_target = targets.parse(backup.engine)
    if backup.is_mysql():
        if targets.timeline is not None:
            raise ConfigError("--timeline is a PostgreSQL option")
        if sandbox.kind != "local":
            raise ConfigError(f"--sandbox {sandbox.kind}: MariaDB/MySQL restore into 'local' only")
        snapshot, binlogs = backup.mysql_sources()
        return RestoreRequest(
            base_backups=snapshot,
            wal_archive=binlogs,
            target=recovery_target,
            keep=sandbox.keep,
            os_user="mysql" if sandbox.os_user == "postgres" else sandbox.os_user,
            dbname="" if sandbox.dbname == "postgres" else sandbox.dbname,
            backend=MySqlOptions(aws=backup.aws.config()),
        )
    return RestoreRequest(
        base_backups=backup.base_backups or "",
        wal_archive=backup.wal_archive or "",
        target=recovery_target.model_copy(update={"timeline": targets.timeline}),
        keep=sandbox.keep,
        os_user=sandbox.os_user,
        dbname=sandbox.dbname,
        source=backup.open(sandbox.kind, sandbox.os_user),
        backend=(sandbox.rds.options(backup.aws) if sandbox.kind == "rds" else None)
        or sandbox_options(
            sandbox.kind,
            sandbox.pg_bin,
            "stream" if sandbox.wal_delivery == "stream" else "stage",
            sandbox.prefetch,
            sandbox.image,
        ),
    )


def _check_logical(engine: str, sandbox: str, targets: TargetOptions) -> None:
    if sandbox != "docker":
        raise ConfigError("--logical-dump restores into --sandbox docker")
    if engine not in ("postgres", "mariadb"):
        raise ConfigError(
            f"--logical-dump: --engine {engine} dumps do not restore into docker yet "
            "(postgres or mariadb)"
        )
    if targets.given():
        raise ConfigError("--logical-dump restores to dump time only: no --target-* options")


def _logical(
    dump: Path,
    engine: str,
    sandbox: SandboxOptions,
    progress: ProgressListener | None,
    history: Ledger,
) -> RestoreResult:
    if engine == "mariadb":
        from restoredrill.engines.mysql.restore_logical import restore_logical_mariadb

        dbname = "" if sandbox.dbname == "postgres" else sandbox.dbname
        return restore_logical_mariadb(dump, sandbox.image, dbname, sandbox.keep, progress, history)
    from restoredrill.engines.postgres.restore_logical import restore_logical

    return restore_logical(dump, sandbox.image, sandbox.dbname, sandbox.keep, progress, history)
