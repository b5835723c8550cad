"""Core objects shared by the library, the CLI and the reports (DESIGN.md, "Core objects")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from restoredrill.lsn import Lsn


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: object) -> object:
        """Computed fields are written out (readers of the JSON want them) and recomputed on
        reading: accept them back, so every document restoredrill writes, it can read."""
        if not isinstance(data, dict):
            return data
        drop = set(cls.model_computed_fields)
        # The CLI names every document it prints ({"format": "restoredrill-plan/1", ...}),
        # also those whose model has no format field of its own.
        name = data.get("format")
        if "format" not in cls.model_fields and str(name).startswith("restoredrill-"):
            drop.add("format")
        if drop & data.keys():
            return {k: v for k, v in data.items() if k not in drop}
        return data


TargetKind = Literal["time", "lsn", "xid", "name", "latest", "immediate", "position", "gtid"]


class RecoveryTarget(Frozen):
    """Where recovery stops. Built and validated by ``restoredrill.targets.parse_target``."""

    kind: TargetKind
    time: AwareDatetime | None = None
    lsn: Lsn | None = None
    xid: int | None = None
    name: str | None = None
    position: str | None = None  # MariaDB/MySQL binlog FILE:POS
    gtid: str | None = None  # MariaDB domain-server-seq or MySQL uuid:N
    inclusive: bool = True
    # PostgreSQL: follow this timeline (--timeline) instead of the newest reachable one.
    timeline: int | None = None

    @model_serializer(mode="wrap")
    def _without_unused_mysql_fields(self, handler: SerializerFunctionWrapHandler) -> object:
        """position/gtid/timeline only appear when set (documents stay as they were)."""
        data = handler(self)
        if isinstance(data, dict):
            for key in ("position", "gtid", "timeline"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data

    def describe(self) -> str:
        from restoredrill.lsn import format_lsn

        value: str
        if self.kind == "time" and self.time is not None:
            value = self.time.isoformat()
        elif self.kind == "lsn" and self.lsn is not None:
            value = format_lsn(self.lsn)
        elif self.kind == "xid":
            value = str(self.xid)
        elif self.kind == "name":
            value = repr(self.name)
        elif self.kind in ("position", "gtid"):
            value = str(self.position if self.kind == "position" else self.gtid)
        else:
            return self.kind
        suffix = "" if self.inclusive else " (exclusive)"
        return f"{self.kind} {value}{suffix}"


class BaseBackup(Frozen):
    """One base backup as catalogued from its backup_label / backup_manifest."""

    path: str
    format: Literal["tar", "plain", "pgbackrest"]
    compression: Literal["none", "gzip", "lz4", "zstd"]
    label: str
    timeline: int
    start_lsn: Lsn
    end_lsn: Lsn
    start_time: AwareDatetime
    stop_time: AwareDatetime | None
    stop_time_source: Literal["backup-history", "manifest-mtime", "unknown"]
    pg_version: str | None
    size_bytes: int


class WalSegment(Frozen):
    name: str
    timeline: int
    segno: int
    path: str
    compression: Literal["none", "gzip", "lz4", "zstd"]
    size_bytes: int


class CheckStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    WARNING = "warning"


class PreflightCheck(Frozen):
    name: str
    status: CheckStatus
    detail: str


class WalRange(Frozen):
    """Segments replay needs: per timeline, the first and last segment names."""

    first: str
    last: str
    segments: int
    bytes: int
    timelines: list[int]


class MysqlSnapshot(Frozen):
    """A MariaDB/MySQL snapshot: a logical dump (mariadb-dump/mysqldump with --master-data /
    --source-data) or a physical mariabackup, and the binlog coordinates it was taken at."""

    path: str
    kind: Literal["dump", "mariabackup"]
    compression: Literal["none", "gzip", "lz4", "zstd"]
    binlog_file: str | None
    binlog_pos: int | None
    gtid: str | None
    size_bytes: int
    server_version: str | None = None
    time: AwareDatetime | None = None  # last transaction before the coordinates (binlog time)


class BinlogRange(Frozen):
    """The binlog replay a MariaDB/MySQL restore needs, from the snapshot's coordinates."""

    first: str
    last: str
    files: int
    bytes: int
    start_position: int
    stop_position: int | None  # in ``last``; None = to its end
    stop_datetime: AwareDatetime | None = None  # passed to mariadb-binlog (UTC, TZ=UTC)
    transactions: int
    last_gtid: str | None = None


class RestorePlan(Frozen):
    engine: str
    source: str
    target: RecoveryTarget
    base_backup: BaseBackup | None
    wal_range: WalRange | None
    target_timeline: int | None
    archive_head_lsn: Lsn | None
    archive_head_time: AwareDatetime | None
    expected_last_commit_time: AwareDatetime | None = None
    checks: list[PreflightCheck]
    snapshot: MysqlSnapshot | None = None
    binlog_range: BinlogRange | None = None
    archive_head_position: str | None = None  # MariaDB/MySQL: FILE:POS of the archive's end
    # Where replay must reach for the restore to be complete: the archive head for `latest`,
    # the end of the last commit at or before a time/xid/name target. Compared after replay.
    expected_end_lsn: Lsn | None = None
    # Every record of the needed log range was read once in the plan (WAL CRCs / binlog
    # event checksums); False means the plan could not read them all and said so in checks.
    logs_checked: bool = False

    @property
    def ok(self) -> bool:
        return all(check.status != CheckStatus.FAILED for check in self.checks)

    def first_failure(self) -> PreflightCheck | None:
        return next((c for c in self.checks if c.status == CheckStatus.FAILED), None)


class PhaseTiming(Frozen):
    name: str
    seconds: float
    bytes: int | None = None
    detail: str | None = None

    @property
    def rate_mib_s(self) -> float | None:
        if self.bytes is None or self.seconds <= 0:
            return None
        return self.bytes / 1024 / 1024 / self.seconds


class RestoreResult(Frozen):
    plan: RestorePlan
    phases: list[PhaseTiming]
    rto_seconds: float
    recovered_to_lsn: Lsn | None
    last_replayed_xact_time: AwareDatetime | None
    rpo_seconds: float | None
    dsn: str | None
    sandbox_id: str
    kept: bool
    recovered_to_position: str | None = None  # MariaDB/MySQL: binlog FILE:POS replayed to
    # How the base was checked: "manifest" (pg_verifybackup), "pgbackrest" (its own checksums),
    # "dump-footer", "none" (nothing to check it against: a drill must not call this PASS).
    base_check: Literal["manifest", "pgbackrest", "dump-footer", "mariabackup", "none"] = "none"
    warnings: list[str] = Field(default_factory=list)


class VerifyStatus(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    INCONCLUSIVE = "INCONCLUSIVE"


class TableFingerprint(Frozen):
    """Row count and order-independent checksum of one table, computed in the server."""

    rows: int
    checksum: str


class TableCheck(Frozen):
    table: str
    status: VerifyStatus
    restored: TableFingerprint | None
    reference: TableFingerprint | None
    predicate: str | None = None
    detail: str | None = None


class VerifyReport(Frozen):
    status: VerifyStatus
    reference: str
    as_of: AwareDatetime | None
    tables: list[TableCheck]
    seconds: float


LEGACY_CHECKSUM_ALGORITHM = "md5-halves-sum/1"


class Manifest(Frozen):
    """Counts and checksums of every table in one snapshot (``restoredrill manifest``)."""

    format: Literal["restoredrill-manifest/1"] = "restoredrill-manifest/1"
    database: str
    engine: str
    created_at: AwareDatetime
    snapshot_lsn: Lsn | None
    snapshot_position: str | None = None  # MariaDB/MySQL: binlog FILE:POS (GTID) of the snapshot
    restore_point: str | None
    restore_point_lsn: Lsn | None
    # How the checksums were computed; files from before this field used md5 of the row text.
    checksum_algorithm: str = LEGACY_CHECKSUM_ALGORITHM
    tables: dict[str, TableFingerprint]


class LedgerEntry(Frozen):
    id: int
    kind: Literal["restore", "verify", "drill"]
    started_at: datetime
    database: str
    source: str
    target: str
    verdict: str
    rto_seconds: float | None
    rpo_seconds: float | None
    phases: list[PhaseTiming]


VERIFY_EXIT_CODES = {
    VerifyStatus.PASS: 0,
    VerifyStatus.FAIL: 1,
    VerifyStatus.INCONCLUSIVE: 1,  # not proven is not a pass (CI must not go green on it)
    VerifyStatus.ERROR: 3,
}


# --- diff and reapply (DESIGN.md "Diff" and "Reapply") ---------------------------------------


class ServerIdentity(Frozen):
    """Which server and database a connection reached, read from the server itself.

    A restored sandbox has the SAME ``system_identifier`` as the production it was restored
    from (a physical copy), so the identifier alone cannot tell them apart: the running
    instance is identified by its start time, its port and (where readable) its data
    directory, plus the database name. See ``restoredrill.drill.reapply.identity_problem``."""

    label: str  # redacted DSN, for messages
    database: str
    system_identifier: int | None
    postmaster_start_time: AwareDatetime | None
    port: int | None
    data_directory: str | None
    server_version: str | None = None


class DiffColumn(Frozen):
    name: str
    type: str  # format_type() in the restored database, e.g. "numeric(12,2)"
    key: bool = False
    compared: bool = True


# One row: column name -> the value's text form computed in the server (None = SQL NULL).
RowValues = dict[str, str | None]


class ChangedRow(Frozen):
    """A row whose key is on both sides with different values in compared columns.

    ``restored`` is what reapply writes back; ``production`` is the version the diff saw on
    the other side, which reapply uses as the guard (the row is only reverted while it still
    holds exactly these values)."""

    restored: RowValues
    production: RowValues
    columns: list[str]  # compared columns whose values differ


class DiffCounts(Frozen):
    lost: int = 0  # only in the restore
    new: int = 0  # only in production
    changed: int = 0

    @property
    def total(self) -> int:
        return self.lost + self.new + self.changed


class DiffStats(Frozen):
    """How the bisection went: work grows with the differences, not the table."""

    seconds: float
    levels: int
    round_trips: int
    buckets_checked: int
    rows_hashed_restored: int
    rows_hashed_production: int
    rows_fetched: int
    scan_seconds: float  # first level: every row hashed once on each side
    scan_rows_per_second: float | None
    rows_listed: int = 0  # dense ranges: rows listed as (key, row hash), both sides
    dense_ranges: int = 0


class RowDiff(Frozen):
    """The differences of one table, keyed; values are server text forms."""

    table: str  # display form schema.table
    schema_name: str
    table_name: str
    keyed: bool
    key: list[str]
    columns: list[DiffColumn]
    where: str | None
    rows_restored: int
    rows_production: int
    counts: DiffCounts
    lost: list[RowValues]
    new: list[RowValues]
    changed: list[ChangedRow]
    note: str | None = None
    stats: DiffStats | None = None
    # The table exists on the other side only: a difference of the whole table (not keyed,
    # no rows listed; rows_* count the side that has it).
    missing_in: Literal["restored", "production"] | None = None


DiffMode = Literal["production", "incident"]


class DiffDocument(Frozen):
    """The diff file (``restoredrill diff --out``, ``restoredrill recover --out``).

    mode "production": restored vs production now (the guard of a changed row is its
    production version). mode "incident": a restore just before the incident vs one just
    after it (``incident``); the guard is the after-incident version, and ``production`` is
    the database reapply is meant for."""

    format: Literal["restoredrill-diff/1"] = "restoredrill-diff/1"
    created_at: AwareDatetime
    mode: DiffMode
    restored: ServerIdentity
    production: ServerIdentity
    incident: ServerIdentity | None = None
    where: str | None = None
    tables: list[RowDiff]

    @property
    def counts(self) -> DiffCounts:
        return DiffCounts(
            lost=sum(t.counts.lost for t in self.tables),
            new=sum(t.counts.new for t in self.tables),
            changed=sum(t.counts.changed for t in self.tables),
        )


ReapplyOnly = Literal["lost", "changed", "all"]
RowOutcome = Literal["insert", "update", "already", "conflict"]


class ReapplyConflict(Frozen):
    table: str
    key: dict[str, str | None]
    kind: Literal["lost", "changed"]
    reason: str


class ReapplyPlan(Frozen):
    """One table's part of a reapply: what would be (or was) written."""

    table: str
    key: list[str]
    selected_lost: int
    selected_changed: int
    inserted: int = 0
    updated: int = 0
    already: int = 0  # production already holds the restored values
    conflicts: int = 0  # production holds something else: skipped, never clobbered
    archive_table: str | None = None
    sample: list[RowValues] = []
    triggers: list[str] = []  # the triggers that fire on the rows written
    notes: list[str] = []  # how triggers and foreign keys are handled (dry run and execution)


class ReapplyReport(Frozen):
    executed: bool
    diff_file: str
    target: ServerIdentity
    sql_file: str | None
    checkpoint_file: str | None
    resumed: bool
    only: ReapplyOnly
    where: str | None
    max_rows: int
    rows_selected: int
    over_ceiling: bool
    batches: int
    tables: list[ReapplyPlan]
    conflicts: list[ReapplyConflict]
    seconds: float

    @property
    def inserted(self) -> int:
        return sum(t.inserted for t in self.tables)

    @property
    def updated(self) -> int:
        return sum(t.updated for t in self.tables)

    @property
    def already(self) -> int:
        return sum(t.already for t in self.tables)

    @property
    def conflict_count(self) -> int:
        return sum(t.conflicts for t in self.tables)


class RowDiffSummary(Frozen):
    """One table's diff without all its rows (for reports): counts and a few of each."""

    table: str
    keyed: bool
    key: list[str]
    rows_restored: int
    rows_production: int
    counts: DiffCounts
    lost_sample: list[RowValues]
    new_sample: list[RowValues]
    changed_sample: list[ChangedRow]
    note: str | None = None
    stats: DiffStats | None = None

    @classmethod
    def of(cls, diff: RowDiff, sample: int = 5) -> RowDiffSummary:
        return cls(
            table=diff.table,
            keyed=diff.keyed,
            key=diff.key,
            rows_restored=diff.rows_restored,
            rows_production=diff.rows_production,
            counts=diff.counts,
            lost_sample=diff.lost[:sample],
            new_sample=diff.new[:sample],
            changed_sample=diff.changed[:sample],
            note=diff.note,
            stats=diff.stats,
        )
