"""The options that name a backup (plan, restore), grouped by the help panel they show in.

PostgreSQL: --base-backups with --wal-archive (directories or s3:// URLs), or
--pgbackrest-stanza, or an RDS instance or snapshot. MariaDB/MySQL: --snapshot with
--binlog-archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.options import AWS, MARIADB, POSTGRES, RDS, SOURCE

BaseBackupsOpt = Annotated[
    str | None,
    typer.Option(
        "--base-backups",
        metavar="DIR|S3_URL",
        help="pg_basebackup output, one backup per subdirectory, or s3://bucket/prefix.",
        rich_help_panel=SOURCE,
    ),
]
WalArchiveOpt = Annotated[
    str | None,
    typer.Option(
        "--wal-archive",
        metavar="DIR|S3_URL",
        help="Where a cp-style archive_command writes, or s3://bucket/prefix.",
        rich_help_panel=SOURCE,
    ),
]
StanzaOpt = Annotated[
    str | None,
    typer.Option(
        "--pgbackrest-stanza",
        metavar="STANZA",
        help="Restore from this pgBackRest stanza instead.",
        rich_help_panel=POSTGRES,
    ),
]
BarmanOpt = Annotated[
    str | None,
    typer.Option(
        "--barman",
        metavar="DIR|S3_URL",
        help="Restore from a barman-cloud store instead: the server's folder, "
        "s3://bucket/prefix/SERVER or a directory.",
        rich_help_panel=SOURCE,
    ),
]
PgbrConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--pgbackrest-config",
        metavar="FILE",
        help="The pgbackrest.conf to use.",
        rich_help_panel=POSTGRES,
    ),
]
SnapshotOpt = Annotated[
    str | None,
    typer.Option(
        "--snapshot",
        metavar="PATH|S3_URL",
        help="A dump (.sql, .sql.gz) made with --master-data, a mariabackup directory, a "
        "directory of them, or s3://bucket/prefix holding dumps.",
        rich_help_panel=MARIADB,
    ),
]
BinlogArchiveOpt = Annotated[
    str | None,
    typer.Option(
        "--binlog-archive",
        metavar="DIR|S3_URL",
        help="Binlog files (with their index), or s3://bucket/prefix.",
        rich_help_panel=MARIADB,
    ),
]
RdsInstanceOpt = Annotated[
    str | None,
    typer.Option(
        "--rds-instance",
        metavar="ID",
        help="Restore this RDS instance to a point in time (with --sandbox rds).",
        rich_help_panel=RDS,
    ),
]
RdsSnapshotOpt = Annotated[
    str | None,
    typer.Option(
        "--rds-snapshot",
        metavar="ID",
        help="Restore this RDS snapshot instead.",
        rich_help_panel=RDS,
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--aws-region",
        metavar="REGION",
        envvar="AWS_REGION",
        help="AWS region.",
        rich_help_panel=AWS,
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--aws-endpoint-url",
        metavar="URL",
        envvar="AWS_ENDPOINT_URL",
        help="S3 and RDS endpoint (tests, MinIO).",
        rich_help_panel=AWS,
    ),
]
