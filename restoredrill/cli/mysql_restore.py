"""`restoredrill plan|restore --engine mariadb`: a snapshot (dump or mariabackup) plus a binlog
archive; the options here are added to the plan and restore commands (cli/restore.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from restoredrill.cli.common import emit_json, err, interactive, out
from restoredrill.errors import ConfigError

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig
    from restoredrill.models import RecoveryTarget
    from restoredrill.timing import ProgressListener


def aws_config(region: str | None, endpoint_url: str | None) -> AwsConfig:
    """--aws-region / --aws-endpoint-url for s3:// snapshots and binlogs (boto3 is not
    imported here)."""
    from restoredrill.aws import AwsConfig

    return AwsConfig.from_env(region, endpoint_url)


EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="postgres, mariadb or mysql (MariaDB and MySQL: binlogs)."),
]
SnapshotOpt = Annotated[
    str | None,
    typer.Option(
        "--snapshot",
        help="MariaDB/MySQL: a dump (.sql, .sql.gz) made with --master-data, a mariabackup "
        "directory, or a directory of them; or s3://bucket/prefix (dumps).",
    ),
]
BinlogArchiveOpt = Annotated[
    str | None,
    typer.Option(
        "--binlog-archive",
        help="MariaDB/MySQL: directory of binlog files (+ index), or s3://bucket/prefix.",
    ),
]
TargetPositionOpt = Annotated[
    str | None,
    typer.Option("--target-position", metavar="FILE:POS", help="MariaDB/MySQL binlog position."),
]
TargetGtidOpt = Annotated[
    str | None, typer.Option("--target-gtid", help="MariaDB/MySQL GTID (0-1-42, uuid:N).")
]


def wants_mysql(
    engine: str,
    snapshot: str | None,
    binlog_archive: str | None,
    position: str | None,
    gtid: str | None,
) -> bool:
    """Whether the command goes the MariaDB/MySQL way (or must refuse a mix)."""
    from restoredrill.engines.base import engine_family  # psycopg: not for --help

    engine_family(engine)  # an unknown --engine is a usage error
    return engine != "postgres" or any(v is not None for v in (snapshot, binlog_archive))


def sources(
    engine: str,
    snapshot: str | None,
    binlog_archive: str | None,
    postgres_options: Mapping[str, object],
) -> tuple[str, str]:
    """--snapshot and --binlog-archive, refusing PostgreSQL sources or a missing engine."""
    if engine == "postgres":
        raise ConfigError(
            "--snapshot and --binlog-archive are MariaDB/MySQL sources: add --engine mariadb"
        )
    used = [name for name, value in postgres_options.items() if value]
    if used:
        raise ConfigError(
            f"{used[0]} is a PostgreSQL source option; --engine {engine} restores from "
            "--snapshot and --binlog-archive"
        )
    if snapshot is None or binlog_archive is None:
        raise ConfigError(
            f"--engine {engine} needs --snapshot FILE_OR_DIR and --binlog-archive DIR"
        )
    return snapshot, binlog_archive


def plan(
    snapshot: str,
    binlog_archive: str,
    target: RecoveryTarget,
    json_output: bool,
    aws: AwsConfig | None = None,
) -> None:
    from restoredrill.engines.mysql.plan import plan_mysql
    from restoredrill.engines.mysql.source import open_mysql_source
    from restoredrill.report.terminal import render_plan

    source = open_mysql_source(snapshot, binlog_archive, aws)
    try:
        outcome = plan_mysql(snapshot, binlog_archive, target, source)
    finally:
        source.close()
    if json_output:
        emit_json(outcome.plan)
    else:
        render_plan(out, outcome.plan)
    if not outcome.plan.ok:
        raise typer.Exit(1)


def run_restore(
    engine: str,
    snapshot: str,
    binlog_archive: str,
    target: RecoveryTarget,
    keep: bool,
    os_user: str,
    dbname: str,
    ledger: Path | None,
    json_output: bool,
    aws: AwsConfig | None = None,
) -> None:
    from restoredrill.drill.restore import RestoreRequest, restore
    from restoredrill.engines.mysql.restore_options import MySqlOptions
    from restoredrill.ledger import Ledger
    from restoredrill.report.terminal import RichProgress, render_restore

    request = RestoreRequest(
        base_backups=snapshot,
        wal_archive=binlog_archive,
        target=target,
        keep=keep,
        os_user="mysql" if os_user == "postgres" else os_user,
        dbname="" if dbname == "postgres" else dbname,
        backend=MySqlOptions(aws=aws),
    )
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    with Ledger(ledger) as history:
        result = restore(request, progress, history)
    if json_output:
        emit_json(result)
    else:
        render_restore(out, result)
