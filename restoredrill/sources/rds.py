"""An RDS instance's automated backups (or one of its snapshots) as a source.

AWS keeps the base backups and the WAL to itself, so this source plans by itself
(``plan()``): it reads the restore window — ``RestoreWindow`` of the instance's automated
backups, else (older APIs, moto) the instance's creation time, up to its
``LatestRestorableTime`` — and fails the plan for a target outside it. An RDS source
restores only into an RDS sandbox (``sandboxes/rds.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from restoredrill.aws import AwsConfig, RetryLog, aws_errors, make_client
from restoredrill.errors import ConfigError, InvalidTarget
from restoredrill.models import CheckStatus, PreflightCheck, RecoveryTarget, RestorePlan


class RdsSource:
    kind = "rds"

    def __init__(
        self,
        instance: str | None = None,
        snapshot: str | None = None,
        aws: AwsConfig | None = None,
    ) -> None:
        if bool(instance) == bool(snapshot):
            raise ConfigError("give exactly one of --rds-instance and --rds-snapshot")
        self.instance = instance
        self.snapshot = snapshot
        self.aws = aws or AwsConfig.from_env()
        self.retries = RetryLog()
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            with aws_errors("creating the RDS client", self.aws.region):
                self._client = make_client("rds", self.aws, self.retries)
        return self._client

    def describe(self) -> str:
        return f"rds:{self.instance}" if self.instance else f"rds-snapshot:{self.snapshot}"

    def close(self) -> None:
        self._client = None

    # --- facts ---------------------------------------------------------------------------

    def source_instance(self) -> dict[str, Any]:
        assert self.instance is not None
        with aws_errors(f"describing RDS instance {self.instance}", self.aws.region):
            found = self.client.describe_db_instances(DBInstanceIdentifier=self.instance)
        return dict(found["DBInstances"][0])

    def source_snapshot(self) -> dict[str, Any]:
        assert self.snapshot is not None
        with aws_errors(f"describing RDS snapshot {self.snapshot}", self.aws.region):
            found = self.client.describe_db_snapshots(DBSnapshotIdentifier=self.snapshot)
        return dict(found["DBSnapshots"][0])

    def restore_window(self) -> tuple[datetime | None, datetime | None, str]:
        """(earliest, latest, where the earliest came from)."""
        instance = self.source_instance()
        latest = _aware(instance.get("LatestRestorableTime"))
        earliest: datetime | None = None
        origin = "automated backups"
        with aws_errors(f"reading automated backups of {self.instance}", self.aws.region):
            backups = self.client.describe_db_instance_automated_backups(
                DBInstanceIdentifier=self.instance
            ).get("DBInstanceAutomatedBackups", [])
        for backup in backups:
            window = backup.get("RestoreWindow") or {}
            earliest = _aware(window.get("EarliestTime")) or earliest
            latest = _aware(window.get("LatestTime")) or latest
        if earliest is None and int(instance.get("BackupRetentionPeriod") or 0) > 0:
            earliest, origin = _aware(instance.get("InstanceCreateTime")), "instance creation"
        return earliest, latest, origin

    # --- plan ----------------------------------------------------------------------------

    def plan(self, target: RecoveryTarget) -> RestorePlan:
        checks: list[PreflightCheck] = []
        head: datetime | None = None
        if self.snapshot is not None:
            if target.kind not in ("latest", "immediate"):
                raise InvalidTarget(
                    "an RDS snapshot restores as it was taken: use --target immediate (or latest)"
                )
            snapshot = self.source_snapshot()
            status = str(snapshot.get("Status"))
            head = _aware(snapshot.get("SnapshotCreateTime"))
            checks.append(_check("snapshot", status == "available", f"{self.snapshot}: {status}"))
        else:
            if target.kind not in ("time", "latest"):
                raise InvalidTarget(
                    "RDS restores to a time (--target-time) or --target latest; LSN, xid and "
                    "restore-point targets need the WAL, which RDS does not expose"
                )
            instance = self.source_instance()
            retention = int(instance.get("BackupRetentionPeriod") or 0)
            checks.append(
                _check(
                    "automated backups",
                    retention > 0,
                    f"retention {retention} day(s)" if retention else "off (retention 0)",
                )
            )
            earliest, head, origin = self.restore_window()
            window = f"[{_fmt(earliest)}, {_fmt(head)}]"
            if target.kind == "time" and target.time is not None:
                inside = (
                    earliest is not None and head is not None and earliest <= target.time <= head
                )
                checks.append(
                    _check(
                        "restore window",
                        inside,
                        f"target {target.time.isoformat()} inside {window}"
                        if inside
                        else f"target {target.time.isoformat()} is outside the restore window "
                        f"{window} (earliest from {origin})",
                    )
                )
            else:
                checks.append(_check("restore window", head is not None, f"latest {_fmt(head)}"))
        return RestorePlan(
            engine="postgres",
            source=self.describe(),
            target=target,
            base_backup=None,
            wal_range=None,
            target_timeline=None,
            archive_head_lsn=None,
            archive_head_time=head,
            checks=checks,
        )


def _check(name: str, ok: bool, detail: str) -> PreflightCheck:
    return PreflightCheck(
        name=name, status=CheckStatus.OK if ok else CheckStatus.FAILED, detail=detail
    )


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _fmt(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else "unknown"
