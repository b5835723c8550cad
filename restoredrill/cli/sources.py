"""The backup a plan or restore reads, as named by the options: exactly one kind of source.

Cloud SDKs (boto3) are imported only when a cloud source or sandbox is chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from restoredrill.errors import ConfigError

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig
    from restoredrill.sources.base import SelfPlanning, Source


@dataclass(frozen=True)
class AwsOptions:
    region: str | None = None
    endpoint_url: str | None = None

    def config(self) -> AwsConfig:
        from restoredrill.aws import AwsConfig

        return AwsConfig.from_env(self.region, self.endpoint_url)


@dataclass(frozen=True)
class BackupOptions:
    engine: str = "postgres"
    base_backups: str | None = None
    wal_archive: str | None = None
    pgbackrest_stanza: str | None = None
    pgbackrest_config: Path | None = None
    barman: str | None = None
    rds_instance: str | None = None
    rds_snapshot: str | None = None
    snapshot: str | None = None
    binlog_archive: str | None = None
    aws: AwsOptions = field(default_factory=AwsOptions)

    def is_mysql(self) -> bool:
        """Whether the command goes the MariaDB/MySQL way (or must refuse a mix)."""
        return self.engine != "postgres" or any(
            v is not None for v in (self.snapshot, self.binlog_archive)
        )

    def mysql_sources(self) -> tuple[str, str]:
        """--snapshot and --binlog-archive, refusing PostgreSQL sources or a missing engine."""
        if self.engine == "postgres":
            raise ConfigError(
                "--snapshot and --binlog-archive are MariaDB/MySQL sources: add --engine mariadb"
            )
        postgres = {"--base-backups": self.base_backups, "--wal-archive": self.wal_archive}
        used = [name for name, value in postgres.items() if value]
        if used:
            raise ConfigError(
                f"{used[0]} is a PostgreSQL source option; --engine {self.engine} restores "
                "from --snapshot and --binlog-archive"
            )
        if self.snapshot is None or self.binlog_archive is None:
            raise ConfigError(
                f"--engine {self.engine} needs --snapshot FILE_OR_DIR and --binlog-archive DIR"
            )
        return self.snapshot, self.binlog_archive

    def open(self, sandbox: str, os_user: str) -> Source | SelfPlanning:
        """The PostgreSQL source these options name (exactly one kind)."""
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
        rds_source = bool(self.rds_instance or self.rds_snapshot)
        if rds_source != (sandbox == "rds"):
            raise ConfigError(
                "an RDS source restores only into --sandbox rds, and --sandbox rds only from "
                "--rds-instance or --rds-snapshot"
            )
        if self.pgbackrest_stanza:
            from restoredrill.engines.postgres.pgbackrest import PgBackRestSource

            return PgBackRestSource(self.pgbackrest_stanza, self.pgbackrest_config, os_user=os_user)
        if self.barman:
            from restoredrill.engines.postgres.barman import open_barman

            return open_barman(self.barman, self.aws.config())
        if rds_source:
            from restoredrill.sources.rds import RdsSource

            return RdsSource(
                instance=self.rds_instance, snapshot=self.rds_snapshot, aws=self.aws.config()
            )
        if not (self.base_backups and self.wal_archive):
            raise ConfigError("--base-backups and --wal-archive go together")
        from restoredrill.sources.base import open_source

        return open_source(self.base_backups, self.wal_archive, self.aws.config())
