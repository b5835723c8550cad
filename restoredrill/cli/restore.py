"""`restoredrill restore`: restore to a point in time in a throwaway sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import Engine, SandboxKind, WalDelivery
from restoredrill.cli.options import SOURCE, EngineOpt, JsonOpt, LedgerOpt, OsUserOpt, PgBinOpt
from restoredrill.cli.restore_run import restore
from restoredrill.cli.sandbox_options import (
    DbnameOpt,
    ImageOpt,
    KeepOpt,
    PrefetchOpt,
    RdsClassOpt,
    RdsParamsOpt,
    RdsSandboxOptions,
    RdsSecurityOpt,
    RdsSubnetOpt,
    SandboxOpt,
    SandboxOptions,
    WalDeliveryOpt,
)
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

LogicalDumpOpt = Annotated[
    Path | None,
    typer.Option(
        "--logical-dump",
        metavar="FILE",
        help="Instead: a pg_dump file, or with --engine mariadb a mariadb-dump .sql(.gz), "
        "restored into --sandbox docker as of dump time.",
        rich_help_panel=SOURCE,
    ),
]


def restore_command(
    engine: EngineOpt = Engine.postgres,
    base_backups: BaseBackupsOpt = None,
    wal_archive: WalArchiveOpt = None,
    logical_dump: LogicalDumpOpt = None,
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
    wal_delivery: WalDeliveryOpt = WalDelivery.stage,
    prefetch: PrefetchOpt = 8,
    snapshot: SnapshotOpt = None,
    binlog_archive: BinlogArchiveOpt = None,
    target_position: TargetPositionOpt = None,
    target_gtid: TargetGtidOpt = None,
    sandbox: SandboxOpt = SandboxKind.local,
    image: ImageOpt = None,
    keep: KeepOpt = False,
    dbname: DbnameOpt = "postgres",
    os_user: OsUserOpt = "postgres",
    rds_instance: RdsInstanceOpt = None,
    rds_snapshot: RdsSnapshotOpt = None,
    rds_subnet_group: RdsSubnetOpt = None,
    rds_security_group: RdsSecurityOpt = None,
    rds_parameter_group: RdsParamsOpt = None,
    rds_instance_class: RdsClassOpt = None,
    aws_region: RegionOpt = None,
    aws_endpoint_url: EndpointOpt = None,
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Restore to a point in time in a throwaway sandbox, timing every phase.

    The sandbox is torn down afterwards (also on errors and Ctrl-C) unless --keep. The
    restore is recorded in the ledger."""
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
    rds = RdsSandboxOptions(
        subnet_group=rds_subnet_group, security_groups=list(rds_security_group or []),
        parameter_group=rds_parameter_group, instance_class=rds_instance_class,
    )  # fmt: skip
    where = SandboxOptions(
        kind=sandbox, image=image, keep=keep, dbname=dbname, pg_bin=pg_bin, os_user=os_user,
        wal_delivery=wal_delivery, prefetch=prefetch, rds=rds,
    )  # fmt: skip
    result = restore(backup, targets, where, logical_dump, ledger, json_output)
    from restoredrill.cli.console import out
    from restoredrill.cli.documents import emit_json
    from restoredrill.report.terminal import render_restore

    if json_output:
        emit_json(result)
    else:
        render_restore(out, result)
