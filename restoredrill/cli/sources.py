"""Options that pick a backup source and a sandbox, shared by `plan` and `restore`.

--base-backups/--wal-archive (directories or s3:// URLs) · --pgbackrest-stanza · --barman (a
barman-cloud store) · --rds-instance or --rds-snapshot (with --sandbox rds). Cloud SDKs are
imported only when one is chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from restoredrill.errors import ConfigError

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig
    from restoredrill.sandboxes.rds import RdsOptions
    from restoredrill.sources.base import SelfPlanning, Source

SourceBaseOpt = Annotated[
    str | None,
    typer.Option(
        "--base-backups",
        help="Directory of pg_basebackup output (one per subdir), or s3://bucket/prefix.",
    ),
]
SourceWalOpt = Annotated[
    str | None,
    typer.Option(
        "--wal-archive", help="Directory a cp-style archive_command writes, or s3://bucket/prefix."
    ),
]
StanzaOpt = Annotated[
    str | None, typer.Option("--pgbackrest-stanza", help="Restore from this pgBackRest stanza.")
]
PgbrConfigOpt = Annotated[
    Path | None, typer.Option("--pgbackrest-config", help="pgbackrest.conf to use.")
]
BarmanOpt = Annotated[
    str | None,
    typer.Option(
        "--barman",
        help="A barman-cloud store: the server's folder, s3://bucket/prefix/SERVER or a directory.",
    ),
]
RdsInstanceOpt = Annotated[
    str | None,
    typer.Option("--rds-instance", help="RDS instance to restore point-in-time from."),
]
RdsSnapshotOpt = Annotated[
    str | None, typer.Option("--rds-snapshot", help="RDS snapshot to restore from instead.")
]
SandboxOpt = Annotated[
    str, typer.Option("--sandbox", help="Where to restore: 'local' (default), 'docker' or 'rds'.")
]
RdsSubnetOpt = Annotated[
    str | None, typer.Option("--rds-subnet-group", help="DB subnet group of the restored instance.")
]
RdsSecurityOpt = Annotated[
    list[str] | None,
    typer.Option("--rds-security-group", help="VPC security group id (repeatable)."),
]
RdsParamsOpt = Annotated[
    str | None, typer.Option("--rds-parameter-group", help="DB parameter group to attach.")
]
RdsClassOpt = Annotated[
    str | None, typer.Option("--rds-instance-class", help="Instance class (default: source's).")
]
RegionOpt = Annotated[
    str | None, typer.Option("--aws-region", envvar="AWS_REGION", help="AWS region.")
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--aws-endpoint-url", envvar="AWS_ENDPOINT_URL", help="S3/RDS endpoint (tests, MinIO)."
    ),
]
WalDeliveryOpt = Annotated[
    str,
    typer.Option(
        "--wal-delivery",
        help="'stage' the WAL next to the sandbox first, or 'stream' it during replay "
        "with restoredrill wal-fetch as restore_command (S3 only).",
    ),
]
PrefetchOpt = Annotated[
    int, typer.Option("--prefetch", help="Segments wal-fetch fetches ahead, in parallel.")
]


@dataclass
class SourceOptions:
    base_backups: str | None = None
    wal_archive: str | None = None
    pgbackrest_stanza: str | None = None
    pgbackrest_config: Path | None = None
    rds_instance: str | None = None
    rds_snapshot: str | None = None
    sandbox: str = "local"
    rds_subnet_group: str | None = None
    rds_security_groups: list[str] = field(default_factory=list)
    rds_parameter_group: str | None = None
    rds_instance_class: str | None = None
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    os_user: str = "postgres"
    barman: str | None = None

    def open(self) -> Source | SelfPlanning:
        """The source these options name (exactly one kind)."""
        kinds = [
            name
            for name, given in (
                ("--base-backups/--wal-archive", self.base_backups or self.wal_archive),
                ("--pgbackrest-stanza", self.pgbackrest_stanza),
                ("--barman", self.barman),
                ("--rds-instance/--rds-snapshot", self.rds_instance or self.rds_snapshot),
            )
            if given
        ]
        if len(kinds) != 1:
            raise ConfigError(
                "choose one source: --base-backups with --wal-archive, --pgbackrest-stanza, "
                "--barman, or --rds-instance / --rds-snapshot"
                + (f" (not {' and '.join(kinds)})" if kinds else "")
            )
        if self.sandbox not in ("local", "docker", "rds"):
            raise ConfigError(f"--sandbox {self.sandbox!r}: expected 'local', 'docker' or 'rds'")
        rds_source = bool(self.rds_instance or self.rds_snapshot)
        if rds_source != (self.sandbox == "rds"):
            raise ConfigError(
                "an RDS source restores only into --sandbox rds, and --sandbox rds only from "
                "--rds-instance or --rds-snapshot"
            )
        if self.pgbackrest_stanza:
            from restoredrill.engines.postgres.pgbackrest import PgBackRestSource

            return PgBackRestSource(
                self.pgbackrest_stanza, self.pgbackrest_config, os_user=self.os_user
            )
        if self.barman:
            from restoredrill.engines.postgres.barman import open_barman

            return open_barman(self.barman, self.aws_config())
        if rds_source:
            from restoredrill.sources.rds import RdsSource

            return RdsSource(
                instance=self.rds_instance, snapshot=self.rds_snapshot, aws=self.aws_config()
            )
        if not (self.base_backups and self.wal_archive):
            raise ConfigError("--base-backups and --wal-archive go together")
        from restoredrill.sources.base import open_source

        return open_source(self.base_backups, self.wal_archive, self.aws_config())

    def aws_config(self) -> AwsConfig:
        from restoredrill.aws import AwsConfig

        return AwsConfig.from_env(self.aws_region, self.aws_endpoint_url)

    def rds_options(self) -> RdsOptions | None:
        if self.sandbox != "rds":
            return None
        from restoredrill.aws import AwsConfig
        from restoredrill.sandboxes.rds import RdsOptions

        return RdsOptions(
            subnet_group=self.rds_subnet_group,
            security_groups=tuple(self.rds_security_groups),
            parameter_group=self.rds_parameter_group,
            instance_class=self.rds_instance_class,
            aws=AwsConfig.from_env(self.aws_region, self.aws_endpoint_url),
        )


def wal_delivery(value: str) -> Literal["stage", "stream"]:
    if value not in ("stage", "stream"):
        raise ConfigError(f"--wal-delivery {value!r}: expected 'stage' or 'stream'")
    return "stage" if value == "stage" else "stream"


def close(source: object) -> None:
    closer = getattr(source, "close", None)
    if callable(closer):
        closer()
