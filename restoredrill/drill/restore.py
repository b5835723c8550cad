"""Point-in-time restore into a throwaway sandbox, every phase timed.

The request's ``backend`` options name the restore backend (sandboxes/registry.py): a local
or docker PostgreSQL sandbox, MariaDB/MySQL, RDS. This use case runs it and records it."""

from __future__ import annotations

from contextlib import AbstractContextManager

from restoredrill.drill.recording import recorded_restore
from restoredrill.drill.restore_request import (
    BackendOptions,
    RestoreBackend,
    Restored,
    RestoreRequest,
    check_plan,
)
from restoredrill.ledger import Ledger
from restoredrill.models import RestoreResult
from restoredrill.sandboxes.registry import restore_backend
from restoredrill.timing import ProgressListener


def backend_of(request: RestoreRequest) -> RestoreBackend:
    return restore_backend(request.backend.backend)


def restored(
    request: RestoreRequest, progress: ProgressListener | None = None
) -> AbstractContextManager[Restored]:
    """Restore and yield the running sandbox; it is torn down on exit unless kept."""
    return backend_of(request).restored(request, progress)


def restore(
    request: RestoreRequest,
    progress: ProgressListener | None = None,
    ledger: Ledger | None = None,
) -> RestoreResult:
    """Restore, record the outcome in the ledger, and tear down (unless kept)."""
    backend = backend_of(request)
    backend.check(request)  # a refused request is not an attempt: nothing is recorded
    source = request.source.describe() if request.source else f"file:{request.base_backups}"
    if request.source is None and str(request.base_backups).startswith("s3://"):
        source = f"{request.base_backups} (WAL {request.wal_archive})"

    def attempt() -> RestoreResult:
        with backend.restored(request, progress) as done:
            return done.result

    return recorded_restore(
        ledger,
        source,
        request.target.describe(),
        attempt,
        lambda result: backend.details(request, result),
    )


__all__ = [
    "BackendOptions",
    "RestoreRequest",
    "Restored",
    "check_plan",
    "restore",
    "restored",
]
