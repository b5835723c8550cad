"""`restoredrill plan` and `restoredrill restore`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from restoredrill.cli import mysql_restore as my_cli
from restoredrill.cli.common import (
    JsonOpt,
    LedgerOpt,
    OsUserOpt,
    PgBinOpt,
    emit_json,
    err,
    interactive,
    out,
)
from restoredrill.cli.sources import (
    BarmanOpt,
    EndpointOpt,
    PgbrConfigOpt,
    PrefetchOpt,
    RdsClassOpt,
    RdsInstanceOpt,
    RdsParamsOpt,
    RdsSecurityOpt,
    RdsSnapshotOpt,
    RdsSubnetOpt,
    RegionOpt,
    SandboxOpt,
    SourceBaseOpt,
    SourceOptions,
    SourceWalOpt,
    StanzaOpt,
    WalDeliveryOpt,
    close,
    wal_delivery,
)
from restoredrill.errors import ConfigError
from restoredrill.targets import parse_target

if TYPE_CHECKING:
    from restoredrill.timing import ProgressListener

# The restore machinery (psycopg, the planner, rich's renderers) is imported by the commands
# themselves, not here: `restoredrill restore --help` and usage errors stay quick.

BaseBackupsOpt = Annotated[
    Path,
    typer.Option("--base-backups", help="Directory of pg_basebackup output (one per subdir)."),
]
WalArchiveOpt = Annotated[
    Path, typer.Option("--wal-archive", help="Directory a cp-style archive_command writes.")
]
TargetTimeOpt = Annotated[
    str | None, typer.Option("--target-time", help="ISO 8601 time with a time zone.")
]
TargetLsnOpt = Annotated[str | None, typer.Option("--target-lsn", help="LSN, e.g. 0/16B3748.")]
TargetXidOpt = Annotated[str | None, typer.Option("--target-xid", help="Transaction id.")]
TargetNameOpt = Annotated[
    str | None, typer.Option("--target-name", help="Restore point (pg_create_restore_point).")
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="'latest' or 'immediate'.")]
ImageOpt = Annotated[
    str | None,
    typer.Option(
        "--image",
        help="--sandbox docker: server image (default: the backup's version, e.g. postgres:16).",
    ),
]
LogicalDumpOpt = Annotated[
    Path | None,
    typer.Option(
        "--logical-dump",
        help="pg_dump file (custom or plain), or with --engine mariadb a mariadb-dump SQL file "
        "(.sql or .sql.gz), to restore into --sandbox docker (dump time only).",
    ),
]
TimelineOpt = Annotated[
    int | None,
    typer.Option(
        "--timeline",
        min=1,
        help="Follow this timeline (default: the newest one the archive's .history files "
        "lead to). Needed to restore on purpose past a later timeline whose .history is missing.",
    ),
]
ExclusiveOpt = Annotated[
    bool, typer.Option("--exclusive", help="Stop just before the target instead of after it.")
]


def plan_command(
    base_backups: SourceBaseOpt = None,
    wal_archive: SourceWalOpt = None,
    pgbackrest_stanza: StanzaOpt = None,
    pgbackrest_config: PgbrConfigOpt = None,
    barman: BarmanOpt = None,
    rds_instance: RdsInstanceOpt = None,
    rds_snapshot: RdsSnapshotOpt = None,
    sandbox: SandboxOpt = "local",
    aws_region: RegionOpt = None,
    aws_endpoint_url: EndpointOpt = None,
    target_time: TargetTimeOpt = None,
    target_lsn: TargetLsnOpt = None,
    target_xid: TargetXidOpt = None,
    target_name: TargetNameOpt = None,
    target: TargetOpt = None,
    exclusive: ExclusiveOpt = False,
    timeline: TimelineOpt = None,
    pg_bin: PgBinOpt = None,
    os_user: OsUserOpt = "postgres",
    json_output: JsonOpt = False,
    engine: my_cli.EngineOpt = "postgres",
    snapshot: my_cli.SnapshotOpt = None,
    binlog_archive: my_cli.BinlogArchiveOpt = None,
    target_position: my_cli.TargetPositionOpt = None,
    target_gtid: my_cli.TargetGtidOpt = None,
) -> None:
    """Dry run: choose the backup and log range, run the preflight checks.

    PostgreSQL: base backup + WAL. MariaDB: snapshot + binlogs. Provisions nothing."""
    recovery_target = parse_target(
        target_time, target_lsn, target_xid, target_name, target, exclusive,
        target_position, target_gtid, engine,
    )  # fmt: skip
    if my_cli.wants_mysql(engine, snapshot, binlog_archive, target_position, target_gtid):
        if timeline is not None:
            raise ConfigError("--timeline is a PostgreSQL option")
        pg_sources = {"--base-backups": base_backups, "--wal-archive": wal_archive}
        found = my_cli.sources(engine, snapshot, binlog_archive, pg_sources)
        aws = my_cli.aws_config(aws_region, aws_endpoint_url)
        my_cli.plan(*found, recovery_target, json_output, aws)
        return
    from restoredrill.drill.plan import plan_restore
    from restoredrill.engines.postgres.tools import find_pg_tools
    from restoredrill.report.terminal import render_plan

    recovery_target = recovery_target.model_copy(update={"timeline": timeline})
    options = SourceOptions(
        base_backups, wal_archive, pgbackrest_stanza, pgbackrest_config, rds_instance,
        rds_snapshot, sandbox, aws_region=aws_region, aws_endpoint_url=aws_endpoint_url,
        os_user=os_user, barman=barman,
    )  # fmt: skip
    source = options.open()
    try:
        outcome = plan_restore(source, recovery_target, find_pg_tools(pg_bin))
    finally:
        close(source)
    if json_output:
        emit_json(outcome.plan)
    else:
        render_plan(out, outcome.plan)
    if not outcome.plan.ok:
        raise typer.Exit(1)


def restore_command(
    base_backups: SourceBaseOpt = None,
    wal_archive: SourceWalOpt = None,
    pgbackrest_stanza: StanzaOpt = None,
    pgbackrest_config: PgbrConfigOpt = None,
    barman: BarmanOpt = None,
    rds_instance: RdsInstanceOpt = None,
    rds_snapshot: RdsSnapshotOpt = None,
    sandbox: SandboxOpt = "local",
    rds_subnet_group: RdsSubnetOpt = None,
    rds_security_group: RdsSecurityOpt = None,
    rds_parameter_group: RdsParamsOpt = None,
    rds_instance_class: RdsClassOpt = None,
    aws_region: RegionOpt = None,
    aws_endpoint_url: EndpointOpt = None,
    wal_delivery_mode: WalDeliveryOpt = "stage",
    prefetch: PrefetchOpt = 8,
    target_time: TargetTimeOpt = None,
    target_lsn: TargetLsnOpt = None,
    target_xid: TargetXidOpt = None,
    target_name: TargetNameOpt = None,
    target: TargetOpt = None,
    exclusive: ExclusiveOpt = False,
    timeline: TimelineOpt = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the sandbox running and print its DSN.")
    ] = False,
    pg_bin: PgBinOpt = None,
    os_user: OsUserOpt = "postgres",
    dbname: Annotated[
        str, typer.Option("--dbname", help="Database named in the printed DSN.")
    ] = "postgres",
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
    engine: my_cli.EngineOpt = "postgres",
    snapshot: my_cli.SnapshotOpt = None,
    binlog_archive: my_cli.BinlogArchiveOpt = None,
    target_position: my_cli.TargetPositionOpt = None,
    target_gtid: my_cli.TargetGtidOpt = None,
    image: ImageOpt = None,
    logical_dump: LogicalDumpOpt = None,
) -> None:
    """Restore to a point in time in a throwaway sandbox, timing every phase."""
    if logical_dump is not None:
        _restore_logical(
            logical_dump, sandbox, engine, image, dbname, keep, ledger, json_output,
            [target_time, target_lsn, target_xid, target_name, target, target_position,
             target_gtid, None if timeline is None else str(timeline)],
        )  # fmt: skip
        return
    if image is not None and sandbox != "docker":
        raise ConfigError("--image goes with --sandbox docker")
    recovery_target = parse_target(
        target_time, target_lsn, target_xid, target_name, target, exclusive,
        target_position, target_gtid, engine,
    )  # fmt: skip
    if my_cli.wants_mysql(engine, snapshot, binlog_archive, target_position, target_gtid):
        if timeline is not None:
            raise ConfigError("--timeline is a PostgreSQL option")
        pg_sources = {"--base-backups": base_backups, "--wal-archive": wal_archive}
        if sandbox != "local":
            raise ConfigError(f"--sandbox {sandbox}: MariaDB/MySQL restore into 'local' only")
        found = my_cli.sources(engine, snapshot, binlog_archive, pg_sources)
        my_cli.run_restore(
            engine, *found, recovery_target, keep, os_user, dbname, ledger, json_output,
            my_cli.aws_config(aws_region, aws_endpoint_url),
        )  # fmt: skip
        return
    from restoredrill.drill.restore import RestoreRequest, restore
    from restoredrill.ledger import Ledger
    from restoredrill.report.terminal import RichProgress, render_restore

    recovery_target = recovery_target.model_copy(update={"timeline": timeline})
    options = SourceOptions(
        base_backups, wal_archive, pgbackrest_stanza, pgbackrest_config, rds_instance,
        rds_snapshot, sandbox, rds_subnet_group, list(rds_security_group or []),
        rds_parameter_group, rds_instance_class, aws_region, aws_endpoint_url, os_user,
        barman,
    )  # fmt: skip
    delivery = wal_delivery(wal_delivery_mode)
    request = RestoreRequest(
        base_backups=base_backups or "",
        wal_archive=wal_archive or "",
        target=recovery_target,
        keep=keep,
        pg_bin=pg_bin,
        os_user=os_user,
        dbname=dbname,
        source=options.open(),
        wal_delivery=delivery,
        prefetch=prefetch,
        rds=options.rds_options(),
        sandbox="docker" if sandbox == "docker" else "local",
        image=image,
    )
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    with Ledger(ledger) as history:
        result = restore(request, progress, history)
    if json_output:
        emit_json(result)
    else:
        render_restore(out, result)


def _restore_logical(
    dump: Path,
    sandbox: str,
    engine: str,
    image: str | None,
    dbname: str,
    keep: bool,
    ledger: Path | None,
    json_output: bool,
    targets: list[str | None],
) -> None:
    if sandbox != "docker":
        raise ConfigError("--logical-dump restores into --sandbox docker")
    if engine not in ("postgres", "mariadb"):
        raise ConfigError(
            f"--logical-dump: --engine {engine} dumps do not restore into docker yet "
            "(postgres or mariadb)"
        )
    if any(targets):
        raise ConfigError("--logical-dump restores to dump time only: no --target-* options")
    from restoredrill.ledger import Ledger
    from restoredrill.report.terminal import RichProgress, render_restore

    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    with Ledger(ledger) as history:
        if engine == "mariadb":
            from restoredrill.engines.mysql.restore_logical import restore_logical_mariadb

            mariadb_db = "" if dbname == "postgres" else dbname
            result = restore_logical_mariadb(dump, image, mariadb_db, keep, progress, history)
        else:
            from restoredrill.engines.postgres.restore_logical import restore_logical

            result = restore_logical(dump, image, dbname, keep, progress, history)
    if json_output:
        emit_json(result)
    else:
        render_restore(out, result)
