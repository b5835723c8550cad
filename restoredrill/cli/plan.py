"""`restoredrill plan`: the dry run of a restore. Provisions nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from restoredrill.cli.choices import Engine, SandboxKind
from restoredrill.cli.options import EngineOpt, JsonOpt, OsUserOpt, PgBinOpt
from restoredrill.cli.sandbox_options import SandboxOpt
from restoredrill.cli.source_options import (
    BarmanOpt,
    BaseBackupsOpt,
    BinlogArchiveOpt,
    EndpointOpt,
    PgbrConfigOpt,
    RdsInstanceOpt,
    RdsSnapshotOpt,
    RegionOpt,
    SnapshotOpt,
    StanzaOpt,
    WalArchiveOpt,
)
from restoredrill.cli.sources import AwsOptions, BackupOptions
from restoredrill.cli.target_options import (
    ExclusiveOpt,
    TargetGtidOpt,
    TargetLsnOpt,
    TargetNameOpt,
    TargetOpt,
    TargetOptions,
    TargetPositionOpt,
    TargetTimeOpt,
    TargetXidOpt,
    TimelineOpt,
)
from restoredrill.errors import ConfigError
from restoredrill.sources.base import close_source

if TYPE_CHECKING:
    from restoredrill.models import RestorePlan


def plan_command(
    engine: EngineOpt = Engine.postgres,
    base_backups: BaseBackupsOpt = None,
    wal_archive: WalArchiveOpt = None,
    target_time: TargetTimeOpt = None,
    target: TargetOpt = None,
    exclusive: ExclusiveOpt = False,
    pgbackrest_stanza: StanzaOpt = None,
    pgbackrest_config: PgbrConfigOpt = None,
    barman: BarmanOpt = None,
    target_lsn: TargetLsnOpt = None,
    target_xid: TargetXidOpt = None,
    target_name: TargetNameOpt = None,
    timeline: TimelineOpt = None,
    pg_bin: PgBinOpt = None,
    snapshot: SnapshotOpt = None,
    binlog_archive: BinlogArchiveOpt = None,
    target_position: TargetPositionOpt = None,
    target_gtid: TargetGtidOpt = None,
    sandbox: SandboxOpt = SandboxKind.local,
    os_user: OsUserOpt = "postgres",
    rds_instance: RdsInstanceOpt = None,
    rds_snapshot: RdsSnapshotOpt = None,
    aws_region: RegionOpt = None,
    aws_endpoint_url: EndpointOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Dry run: choose the backup and log range, run the preflight checks.

    PostgreSQL reads a base backup and its WAL, MariaDB and MySQL a snapshot and its binlogs.
    Nothing is provisioned. Exit 0 when the restore can reach the target, 1 when not."""
    aws = AwsOptions(aws_region, aws_endpoint_url)
    backup = BackupOptions(
        engine=engine, base_backups=base_backups, wal_archive=wal_archive,
        pgbackrest_stanza=pgbackrest_stanza, pgbackrest_config=pgbackrest_config, barman=barman,
        rds_instance=rds_instance, rds_snapshot=rds_snapshot,
        snapshot=snapshot, binlog_archive=binlog_archive, aws=aws,
    )  # fmt: skip
    targets = TargetOptions(
        time=target_time, target=target, exclusive=exclusive, lsn=target_lsn, xid=target_xid,
        name=target_name, timeline=timeline, position=target_position, gtid=target_gtid,
    )  # fmt: skip
    plan = _plan(backup, targets, sandbox, pg_bin, os_user)
    from restoredrill.cli.console import out
    from restoredrill.cli.documents import emit_json
    from restoredrill.report.terminal import render_plan

    if json_output:
        emit_json(plan)
    else:
        render_plan(out, plan)
    if not plan.ok:
        raise typer.Exit(1)


def _plan(
    backup: BackupOptions, targets: TargetOptions, sandbox: str, pg_bin: str | None, os_user: str
) -> RestorePlan:
    recovery_target = targets.parse(backup.engine)
    if backup.is_mysql():
        if targets.timeline is not None:
            raise ConfigError("--timeline is a PostgreSQL option")
        from restoredrill.engines.mysql.plan import plan_mysql
        from restoredrill.engines.mysql.source import open_mysql_source

        snapshot, binlogs = backup.mysql_sources()
        mysql_source = open_mysql_source(snapshot, binlogs, backup.aws.config())
        try:
            return plan_mysql(snapshot, binlogs, recovery_target, mysql_source).plan
        finally:
            mysql_source.close()
    from restoredrill.engines.postgres.plan import plan_restore
    from restoredrill.engines.postgres.tools import find_pg_tools

    recovery_target = recovery_target.model_copy(update={"timeline": targets.timeline})
    source = backup.open(sandbox, os_user)
    try:
        return plan_restore(source, recovery_target, find_pg_tools(pg_bin)).plan
    finally:
        close_source(source)
