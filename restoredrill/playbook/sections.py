"""The sections of a playbook: source, sandbox, target, databases (verify, assertions),
objectives, checks, game day, recover, outputs. Each is a strict model (unknown keys rejected).

Sources are a discriminated union on ``kind``: ``file`` (PostgreSQL base backups and WAL in
directories), ``barman`` (a barman-cloud store: the server's folder, s3:// or local) and
``mysql`` (a MariaDB/MySQL snapshot and binlog archive, local paths or s3:// URLs, for
``engine: mariadb``); further kinds join the union.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from restoredrill.errors import RestoreDrillError
from restoredrill.models import RecoveryTarget
from restoredrill.playbook.fields import (
    Duration,
    FilePath,
    Location,
    Strict,
    TimeSpec,
    resolve_time,
)
from restoredrill.targets import parse_target


class FileSourceSpec(Strict):
    """Base backups (pg_basebackup output) and a cp-style WAL archive in directories."""

    kind: Literal["file"]
    base_backups: FilePath
    wal_archive: FilePath
    # a base without backup_manifest may still PASS (the warning stays)
    allow_unverified_base: bool = False

    def opened(self) -> object:
        """None: the restore opens the source from ``locations()`` itself."""
        return None

    def describe(self) -> str:
        return f"file:{self.base_backups}"

    def locations(self) -> tuple[Path, Path]:
        """The backups and the log archive a restore reads."""
        return self.base_backups, self.wal_archive


class BarmanSourceSpec(Strict):
    """A barman-cloud store (barman-cloud-backup + barman-cloud-wal-archive, CloudNativePG):
    the server's folder, ``s3://bucket/prefix/<server>`` or a local directory."""

    kind: Literal["barman"]
    location: Location
    allow_unverified_base: bool = False  # barman-cloud writes no backup_manifest

    def describe(self) -> str:
        return f"barman:{self.location}"

    def locations(self) -> tuple[str, str]:
        """The store holds both the backups and the WAL."""
        return self.location, self.location

    def opened(self) -> object:
        """The store opened as a source (the request cannot open it from two locations)."""
        from restoredrill.engines.postgres.barman import open_barman

        return open_barman(self.location)


class MysqlSourceSpec(Strict):
    """A MariaDB/MySQL snapshot (a dump made with --master-data, a mariabackup directory, or
    a directory of them) and its binlog archive: local paths or s3:// URLs (dumps only)."""

    kind: Literal["mysql"]
    snapshot: Location
    binlog_archive: Location
    # binlogs written without checksums (events not verifiable) may still PASS
    allow_unverified_base: bool = False

    def locations(self) -> tuple[str, str]:
        """The backups and the log archive a restore reads."""
        return self.snapshot, self.binlog_archive

    def opened(self) -> object:
        """None: the restore opens the source from ``locations()`` itself."""
        return None

    def describe(self) -> str:
        if self.snapshot.startswith("s3://"):
            return f"{self.snapshot} (binlogs {self.binlog_archive})"
        return f"file:{self.snapshot}"


# Add further kinds (s3, pgbackrest, ...) to this union; "kind" picks the member.
SourceSpec = Annotated[
    Union[FileSourceSpec, BarmanSourceSpec, MysqlSourceSpec],  # noqa: UP007
    Field(discriminator="kind"),
]
SOURCE_KINDS = {"postgres": "file", "mariadb": "mysql", "mysql": "mysql"}  # engine -> kind
OTHER_KINDS = {"postgres": {"barman"}}  # engine -> further kinds it restores from


class SandboxSpec(Strict):
    backend: Literal["local"] = "local"
    os_user: str = "postgres"
    pg_bin: str | None = None
    timeout: Duration = 3600.0


TARGET_KINDS = ("time", "restore_point", "lsn", "xid", "position", "gtid", "latest", "immediate")
POSTGRES_TARGETS = ("restore_point", "lsn", "xid")
MYSQL_TARGETS = ("position", "gtid")


class TargetSpec(Strict):
    """Exactly one of: time (ISO 8601 with a zone, or '15 minutes ago'), restore_point, lsn,
    xid (PostgreSQL), position FILE:POS, gtid (MariaDB/MySQL), latest, immediate.
    ``target: latest`` is short for ``target: {latest: true}``."""

    time: TimeSpec | None = None
    restore_point: str | None = None
    lsn: str | None = None
    xid: int | None = None
    position: str | None = None
    gtid: str | None = None
    latest: bool = False
    immediate: bool = False
    exclusive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str) and data in ("latest", "immediate"):
            return {data: True}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetSpec:
        given = [k for k in TARGET_KINDS if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(TARGET_KINDS)} (got {given or 0})")
        if self.time is None:
            mysql = given[0] in MYSQL_TARGETS
            try:
                self.recovery_target(
                    datetime.now().astimezone(), "mariadb" if mysql else "postgres"
                )
            except RestoreDrillError as exc:
                raise ValueError(str(exc).replace("--target-", "")) from None
        return self

    def recovery_target(self, now: datetime, engine: str = "postgres") -> RecoveryTarget:
        if self.time is not None:
            moment = resolve_time(self.time, now)
            return RecoveryTarget(kind="time", time=moment, inclusive=not self.exclusive)
        special = "latest" if self.latest else "immediate" if self.immediate else None
        return parse_target(
            lsn=self.lsn,
            xid=str(self.xid) if self.xid is not None else None,
            name=self.restore_point,
            target=special,
            exclusive=self.exclusive,
            position=self.position,
            gtid=self.gtid,
            engine=engine,
        )


class Tolerance(Strict):
    """How far row counts may differ before a table fails (live production moves on)."""

    rows: int | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)

    def allows(self, restored: int, reference: int) -> bool:
        difference = abs(restored - reference)
        if self.rows is not None and difference <= self.rows:
            return True
        if self.percent is not None and reference > 0:
            return difference * 100.0 / reference <= self.percent
        return False


class VerifySpec(Strict):
    """Verify against a manifest file or a live production DSN (opened read-only)."""

    manifest: FilePath | None = None
    production: str | None = None
    tables: list[str] | None = None
    as_of_columns: dict[str, str] = Field(default_factory=dict)
    as_of: TimeSpec | None = None
    tolerances: dict[str, Tolerance] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _reference(self) -> VerifySpec:
        if (self.manifest is None) == (self.production is None):
            raise ValueError("give exactly one of manifest or production")
        if self.manifest is not None and self.as_of_columns:
            raise ValueError("as_of_columns apply to a live production, not a manifest")
        if self.as_of is not None and not self.as_of_columns:
            raise ValueError("as_of only applies together with as_of_columns")
        return self

    @property
    def reference(self) -> str | Path:
        return self.manifest if self.manifest is not None else str(self.production)


class AssertionSpec(Strict):
    """An application check run read-only on the restored copy: SQL returning one row with
    one boolean column, true when the data holds (e.g. no orphaned rows)."""

    name: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    timeout: Duration = 300.0  # statement timeout


class DatabaseSpec(Strict):
    name: str = "postgres"  # the database inside the restored cluster
    label: str | None = None  # how reports and the ledger name it (default: playbook:name)
    verify: VerifySpec | None = None
    assertions: list[AssertionSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_assertions(self) -> DatabaseSpec:
        names = [a.name for a in self.assertions]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"assertion names must be unique: {', '.join(twice)} repeated")
        return self


class Objectives(Strict):
    rto: Duration | None = None  # restore time (provision → ready); game days: incident → verified
    rpo: Duration | None = None  # data-loss window: target (or drill start) - last recovered commit


class ChecksSpec(Strict):
    """Backup-configuration checks run before the restore (see ``restoredrill check``)."""

    live: str | None = None  # production DSN: settings and pg_stat_archiver
    postgresql_conf: FilePath | None = None
    pgbackrest_conf: FilePath | None = None
    archive: bool = True  # WAL continuity and base backup age of this playbook's source
    max_backup_age: Duration | None = None
    recovery_window: Duration | None = None  # how far back PITR must reach (retention)


GameDayIncident = Literal["delete-matching-nulls", "drop-table", "update-without-where"]


class GameDaySpec(Strict):
    """Inject a classic incident into the restored sandbox (never production) and time the
    recovery: incident → recovered rows → verified."""

    incident: GameDayIncident
    table: str
    column: str | None = None  # delete: the predicate column; update: the column overwritten
    value: str | None = None  # delete: rows with column < value (and NULLs); update: new value
    database: str | None = None  # default: the first database
    tables: list[str] | None = None  # diffed and verified after (default: every user table)
    max_rows: int = Field(default=50_000, ge=1)

    @model_validator(mode="after")
    def _needs(self) -> GameDaySpec:
        needs_column = self.incident != "drop-table"
        if needs_column and (self.column is None or self.value is None):
            raise ValueError(f"incident {self.incident} needs column and value")
        if not needs_column and (self.column is not None or self.value is not None):
            raise ValueError("incident drop-table takes no column or value")
        return self


class RecoverSpec(Strict):
    """Incident recovery: restores just before and just after, their diff, a reapply DRY RUN
    against ``to`` (a playbook never writes to production; use ``restoredrill reapply``)."""

    before: TimeSpec
    after: TimeSpec
    tables: list[str] = Field(min_length=1)
    to: str
    database: str | None = None
    max_rows: int = Field(default=50_000, ge=1)
    diff_out: FilePath | None = None


class OutputsSpec(Strict):
    json_file: FilePath | None = Field(default=None, alias="json")
    junit: FilePath | None = None
    markdown: FilePath | None = None
    html: FilePath | None = None
    prometheus: FilePath | None = None
    results_dir: FilePath | None = None
