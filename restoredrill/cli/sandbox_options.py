"""The options that shape the sandbox a restore runs in (and its RDS instance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from restoredrill.cli.choices import SandboxKind, WalDelivery
from restoredrill.cli.options import POSTGRES, RDS, SANDBOX
from restoredrill.cli.sources import AwsOptions

if TYPE_CHECKING:
    from restoredrill.sandboxes.rds import RdsOptions

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


@dataclass(frozen=True)
class RdsSandboxOptions:
    subnet_group: str | None = None
    security_groups: list[str] = field(default_factory=list)
    parameter_group: str | None = None
    instance_class: str | None = None

    def options(self, aws: AwsOptions) -> RdsOptions:
        from restoredrill.sandboxes.rds import RdsOptions

        return RdsOptions(
            subnet_group=self.subnet_group,
            security_groups=tuple(self.security_groups),
            parameter_group=self.parameter_group,
            instance_class=self.instance_class,
            aws=aws.config(),
        )


@dataclass(frozen=True)
class SandboxOptions:
    kind: str
    image: str | None
    keep: bool
    dbname: str
    pg_bin: str | None
    os_user: str
    wal_delivery: str
    prefetch: int
    rds: RdsSandboxOptions
