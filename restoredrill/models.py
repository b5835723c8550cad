"""Core objects shared by the library, the CLI and the reports (DESIGN.md, "Core objects")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from restoredrill.lsn import Lsn


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


TargetKind = Literal["time", "lsn", "xid", "name", "latest", "immediate"]


class RecoveryTarget(Frozen):
    """Where recovery stops. Built and validated by ``restoredrill.targets.parse_target``."""

    kind: TargetKind
    time: AwareDatetime | None = None
    lsn: Lsn | None = None
    xid: int | None = None
    name: str | None = None
    inclusive: bool = True

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
        else:
            return self.kind
        suffix = "" if self.inclusive else " (exclusive)"
        return f"{self.kind} {value}{suffix}"


class BaseBackup(Frozen):
    """One base backup as catalogued from its backup_label / backup_manifest."""

    path: str
    format: Literal["tar", "plain"]
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


class Manifest(Frozen):
    """Counts and checksums of every table in one snapshot (``restoredrill manifest``)."""

    format: Literal["restoredrill-manifest/1"] = "restoredrill-manifest/1"
    database: str
    engine: str
    created_at: AwareDatetime
    snapshot_lsn: Lsn | None
    restore_point: str | None
    restore_point_lsn: Lsn | None
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
