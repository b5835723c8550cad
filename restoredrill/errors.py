"""One exception tree. Each class carries the process exit code it maps to.

Exit codes (DESIGN.md): 0 pass · 1 the drill found a problem (verification failed,
differences, a backup that cannot reach the target) · 2 usage or configuration error ·
3 infrastructure error (database, server binaries, Docker, S3) · 4 internal error ·
130 interrupted. The CLI maps exceptions to codes in exactly one place (cli/app.py).
"""

from __future__ import annotations


class RestoreDrillError(Exception):
    """Base of every error restoredrill raises on purpose."""

    exit_code = 4


# --- 1: the drill ran and found the backups or the data wrong -----------------


class DrillFailed(RestoreDrillError):
    exit_code = 1


class PreflightFailed(DrillFailed):
    """The plan's preflight checks show the backups cannot reach the target."""


class BackupCorrupt(DrillFailed):
    """A base backup or log segment is unreadable, truncated or not what it claims."""


class RecoveryIncomplete(DrillFailed):
    """The server ended recovery before reaching the target."""


class VerificationFailed(DrillFailed):
    """Restored data differs from the reference."""


class ReapplyDataProblem(DrillFailed):
    """Rows reapply writes break production's constraints (a foreign key's parent row is
    missing): a data problem for a person, not an infrastructure error."""


# --- 2: usage and configuration ------------------------------------------------


class UsageError(RestoreDrillError):
    exit_code = 2


class InvalidTarget(UsageError):
    """A recovery target that cannot be parsed or is ambiguous (e.g. naive time)."""


class ConfigError(UsageError):
    """Bad paths, missing OS users, unknown tables and similar set-up mistakes."""


class ReapplyRefused(UsageError):
    """Reapply will not write: wrong target server, no key, over the ceiling, stale checkpoint."""


class SameServerRefused(UsageError):
    """verify / diff given production itself as the "restored" side: nothing would be tested."""


# --- 3: infrastructure ------------------------------------------------------------


class InfrastructureError(RestoreDrillError):
    exit_code = 3


class DatabaseUnavailable(InfrastructureError):
    """A DSN that does not connect or a query that fails for server reasons."""


class ProductionTimeout(DatabaseUnavailable):
    """A production session hit its lock or statement timeout (verify, diff): never a hang."""


class SandboxError(InfrastructureError):
    """A throwaway instance that could not be created, started or stopped."""


class SandboxDiskFull(SandboxError):
    """The sandbox directory ran out of space: the machine's problem, not the backup's."""


class ToolMissing(InfrastructureError):
    """A server binary or helper tool (pg_waldump, lz4, ...) is not installed."""


class CloudError(InfrastructureError):
    """An AWS API (S3, RDS) refused or failed a call; the message is one line, no secrets."""


class CloudAccessDenied(CloudError):
    """AccessDenied, bad or missing credentials: retrying will not help."""


class CloudNotFound(CloudError):
    """No such bucket, instance or snapshot."""


class CloudWrongRegion(CloudError):
    """The resource lives in another region than the one the client was configured for."""


# --- 130 ---------------------------------------------------------------------------


class Interrupted(RestoreDrillError):
    """Ctrl-C or SIGTERM; raised so context managers tear sandboxes down."""

    exit_code = 130


class InterruptSignal(KeyboardInterrupt):
    """What the CLI's SIGINT and SIGTERM handlers raise. A KeyboardInterrupt on purpose, not a
    RestoreDrillError: database drivers cancel the running statement on it (psycopg does), so
    a transaction cut mid-statement still rolls back cleanly, and ``except Exception`` blocks
    do not swallow it. cli/app.py turns it into exit 130 and one line."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


def interrupt_name(signame: str | None) -> str:
    """How an interrupted run begins its one line: ``terminated (SIGTERM)``."""
    if signame is None:
        return "interrupted"
    return f"terminated ({signame})" if signame == "SIGTERM" else f"interrupted ({signame})"
