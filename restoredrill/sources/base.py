"""What a source of backups is, and picking one from the options.

A :class:`Source` lists base backups and WAL segments (``catalogue()``) and copies what a
restore needs next to the sandbox. The plan and the restore only ever talk to this protocol,
so a directory, an S3 bucket and a pgBackRest repository go through the same preflight
checks and the same timed phases. Some sources also take over a step (``Targeted``: the
base restore needs the target, as ``pgbackrest restore`` does; ``CustomFetch``: PostgreSQL
fetches WAL with the source's own command) or plan by themselves (``SelfPlanning``: RDS,
where AWS keeps the backups and the WAL out of reach).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from restoredrill.engines.postgres.source import Catalogue
from restoredrill.engines.postgres.source_local import FileSource
from restoredrill.errors import ConfigError
from restoredrill.models import BaseBackup, RecoveryTarget, RestorePlan, WalSegment
from restoredrill.osuser import RunAs

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig


@runtime_checkable
class Source(Protocol):
    kind: str

    def describe(self) -> str: ...

    def catalogue(self) -> Catalogue: ...

    def extract_base(self, backup: BaseBackup, datadir: Path, run_as: RunAs) -> int: ...

    def stage_segments(self, segments: list[WalSegment], dest: Path, run_as: RunAs) -> int: ...

    def stage_histories(self, dest: Path, run_as: RunAs) -> None: ...


@runtime_checkable
class Targeted(Protocol):
    """A source whose base restore itself needs the recovery target (pgBackRest)."""

    def extract_for_target(
        self,
        backup: BaseBackup,
        datadir: Path,
        run_as: RunAs,
        target: RecoveryTarget,
        target_timeline: int | None,
    ) -> int: ...


@runtime_checkable
class CustomFetch(Protocol):
    """A source PostgreSQL fetches WAL from with a command of the source's own."""

    def restore_command(self, sandbox_root: Path, datadir: Path, run_as: RunAs) -> str: ...


@runtime_checkable
class SelfPlanning(Protocol):
    """A source that works out its plan itself (RDS: the provider holds backups and WAL)."""

    kind: str

    def describe(self) -> str: ...

    def plan(self, target: RecoveryTarget) -> RestorePlan: ...


def base_manifest(source: object, backup: BaseBackup) -> Path | None:
    """A local copy of the backup's backup_manifest, if the source has one."""
    finder = getattr(source, "base_manifest", None)
    if callable(finder):
        found = finder(backup)
        return found if isinstance(found, Path) else None
    candidate = Path(backup.path) / "backup_manifest"
    return candidate if candidate.is_file() else None


def retry_note(source: object) -> str | None:
    """'N retries (...)' for a phase detail, if the source talks to a flaky API."""
    log = getattr(source, "retries", None)
    summary = getattr(log, "summary", None)
    if callable(summary):
        text = summary()
        return text if isinstance(text, str) else None
    return None


def is_url(value: str | Path) -> bool:
    return str(value).startswith("s3://")


def open_source(
    base_backups: str | Path, wal_archive: str | Path, aws: AwsConfig | None = None
) -> Source:
    """A directory source, or an S3 source when both options are s3:// URLs."""
    base, wal = str(base_backups), str(wal_archive)
    if is_url(base) or is_url(wal):
        if not (is_url(base) and is_url(wal)):
            raise ConfigError(
                "--base-backups and --wal-archive must both be s3:// URLs or both directories"
            )
        from restoredrill.aws import AwsConfig
        from restoredrill.engines.postgres.source_s3 import S3Source
        from restoredrill.storage.s3 import S3Url

        return S3Source(S3Url.parse(base), S3Url.parse(wal), aws or AwsConfig.from_env())
    return FileSource(Path(base), Path(wal))


def close_source(source: object) -> None:
    """Release what a source holds (a remote one: its client and its local cache); sources
    that hold nothing have no ``close``."""
    close = getattr(source, "close", None)
    if callable(close):
        close()
