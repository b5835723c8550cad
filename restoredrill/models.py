"""Core objects shared by the library, the CLI and the reports (DESIGN.md, "Core objects")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from restoredrill.lsn import Lsn
from restoredrill.models_base import Frozen as Frozen

# Diff and reapply models live in models_diff; this module stays the one place to import.
from restoredrill.models_diff import (
    ChangedRow as ChangedRow,
)
from restoredrill.models_diff import (
    DiffColumn as DiffColumn,
)
from restoredrill.models_diff import (
    DiffCounts as DiffCounts,
)
from restoredrill.models_diff import (
    DiffDocument as DiffDocument,
)
from restoredrill.models_diff import (
    DiffMode as DiffMode,
)
from restoredrill.models_diff import (
    DiffStats as DiffStats,
)
from restoredrill.models_diff import (
    ReapplyConflict as ReapplyConflict,
)
from restoredrill.models_diff import (
    ReapplyOnly as ReapplyOnly,
)
from restoredrill.models_diff import (
    ReapplyPlan as ReapplyPlan,
)
from restoredrill.models_diff import (
    ReapplyReport as ReapplyReport,
)
from restoredrill.models_diff import (
    RowDiff as RowDiff,
)
from restoredrill.models_diff import (
    RowDiffSummary as RowDiffSummary,
)
from restoredrill.models_diff import (
    RowOutcome as RowOutcome,
)
from restoredrill.models_diff import (
    RowValues as RowValues,
)
from restoredrill.models_diff import (
    ServerIdentity as ServerIdentity,
)

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
    kind: Literal["restore", "verify", "drill", "reapply", "recover"]
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
