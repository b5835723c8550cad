"""The options that shape the sandbox a restore runs in (and its RDS instance)."""

from __future__ import annotations

from typing import Annotated

import typer

from restoredrill.cli.choices import SandboxKind, WalDelivery
from restoredrill.cli.options import POSTGRES, RDS, SANDBOX

SandboxOpt = Annotated[
    SandboxKind,
    typer.Option(
        "--sandbox",
        help="Where to restore: a local server, a Docker container, or an RDS instance.",
        rich_help_panel=SANDBOX,
    ),
]
ImageOpt = Annotated[
    str | None,
    typer.Option(
        "--image",
        metavar="IMAGE",
        help="The server image for --sandbox docker (default: the backup's version).",
        rich_help_panel=SANDBOX,
    ),
]
KeepOpt = Annotated[
    bool,
    typer.Option(
        "--keep", help="Leave the sandbox running and print its DSN.", rich_help_panel=SANDBOX
    ),
]
DbnameOpt = Annotated[
    str,
    typer.Option(
        "--dbname",
        metavar="NAME",
        help="Database named in the printed DSN.",
        rich_help_panel=SANDBOX,
    ),
]
WalDeliveryOpt = Annotated[
    WalDelivery,
    typer.Option(
        "--wal-delivery",
        help="Copy the WAL next to the sandbox first, or stream it during replay (S3 only).",
        rich_help_panel=POSTGRES,
    ),
]
PrefetchOpt = Annotated[
    int,
    typer.Option(
        "--prefetch",
        metavar="N",
        help="Segments wal-fetch fetches ahead, in parallel.",
        rich_help_panel=POSTGRES,
    ),
]
RdsSubnetOpt = Annotated[
    str | None,
    typer.Option(
        "--rds-subnet-group",
        metavar="NAME",
        help="DB subnet group of the restored instance.",
        rich_help_panel=RDS,
    ),
]
RdsSecurityOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rds-security-group",
        metavar="ID",
        help="VPC security group id (repeatable).",
        rich_help_panel=RDS,
    ),
]
RdsParamsOpt = Annotated[
    str | None,
    typer.Option(
        "--rds-parameter-group",
        metavar="NAME",
        help="DB parameter group to attach.",
        rich_help_panel=RDS,
    ),
]
RdsClassOpt = Annotated[
    str | None,
    typer.Option(
        "--rds-instance-class",
        metavar="CLASS",
        help="Instance class (default: the source's).",
        rich_help_panel=RDS,
    ),
]
