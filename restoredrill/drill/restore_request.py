"""What a restore is asked for and what it yields, shared by the use case (drill/restore.py)
and every restore backend (sandboxes/registry.py names them)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from restoredrill.errors import PreflightFailed
from restoredrill.models import RecoveryTarget, RestorePlan, RestoreResult
from restoredrill.sandboxes.registry import default_backend_options
from restoredrill.shared_work import SharedWork
from restoredrill.sources.base import SelfPlanning, Source, open_source
from restoredrill.timing import PhaseClock, ProgressListener


class BackendOptions(Protocol):
    """One backend's own options; ``backend`` names it in sandboxes/registry.py."""

    @property
    def backend(self) -> str: ...


class RestoredSandbox(Protocol):
    """What the use cases need of a restored instance: where to connect."""

    def dsn(self, dbname: str = ...) -> str: ...


@dataclass(frozen=True)
class RestoreRequest:
    base_backups: Path | str  # a directory or an s3:// URL (ignored when ``source`` is given)
    wal_archive: Path | str  # the log archive (WAL, binlogs) beside it
    target: RecoveryTarget
    keep: bool = False
    os_user: str | None = None  # the server's OS user in a local sandbox (None: the engine's)
    dbname: str | None = None  # the database the result's DSN names (None: the sandbox's)
    timeout: float = 3600.0
    source: Source | SelfPlanning | None = None  # e.g. pgBackRest, RDS; used once, then closed
    # which backend restores (and its own options): PostgreSQL locally by default
    backend: BackendOptions = field(default_factory=default_backend_options)
    # work shared with other restores of the same backup running beside this one (recover)
    shared: SharedWork | None = None

    def open_source(self) -> Source | SelfPlanning:
        return self.source or open_source(self.base_backups, self.wal_archive)


@dataclass
class Restored:
    """A running restored sandbox (inside ``restored()``) and what we measured."""

    result: RestoreResult
    sandbox: RestoredSandbox
    clock: PhaseClock = field(repr=False, default_factory=PhaseClock)

    def dsn(self, dbname: str | None = None) -> str:
        return self.sandbox.dsn(dbname) if dbname else self.sandbox.dsn()


def check_plan(plan: RestorePlan) -> None:
    failure = plan.first_failure()
    if failure is not None:
        raise PreflightFailed(f"preflight failed ({failure.name}): {failure.detail}")


def base_backup_details(request: RestoreRequest, result: RestoreResult) -> dict[str, Any]:
    """What the ledger records of a restore from our own base backups."""
    backup = result.plan.base_backup
    return {"base_backup": backup.path if backup else None}


def no_check(request: RestoreRequest) -> None:
    """Nothing to refuse before the attempt is recorded."""


@dataclass(frozen=True)
class LocalRestore:
    """An engine's local restore as the use cases see it, without naming the engine."""

    options: Callable[[str | None], BackendOptions]  # from the server binaries' directory
    incident_id: Literal["xid", "gtid"]  # the transaction id an incident is named by
    default_dbname: str  # the database a restored copy is connected to when none is named
    # why a manifest cannot mark its snapshot with a named restore point (None: it can)
    no_restore_points: str | None = None


@dataclass(frozen=True)
class RestoreBackend:
    """One way to restore: run it (yielding the running copy, torn down on exit unless
    kept), refuse a request before anything is recorded, and say what the ledger keeps."""

    restored: Callable[[RestoreRequest, ProgressListener | None], AbstractContextManager[Restored]]
    check: Callable[[RestoreRequest], None] = no_check
    details: Callable[[RestoreRequest, RestoreResult], dict[str, Any]] = base_backup_details
    # the dry run of a request (None: this backend has none of its own, e.g. RDS)
    plan: Callable[[RestoreRequest], RestorePlan] | None = None
