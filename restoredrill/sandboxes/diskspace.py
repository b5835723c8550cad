"""Disk space in the sandbox directory: a warning in the plan when it looks too small, and a
full disk during a restore reported as what it is (an infrastructure error naming the
directory, what was needed and what was free), never as a corrupt backup."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import humanize

from restoredrill.errors import Interrupted, RestoreDrillError, SandboxDiskFull
from restoredrill.models import CheckStatus, PreflightCheck

NO_SPACE = "No space left on device"


def _size(num_bytes: int) -> str:
    return str(humanize.naturalsize(num_bytes, binary=True))


def planned_root() -> Path:
    """The sandbox root (RESTOREDRILL_SANDBOX_DIR or the default), or its nearest existing
    parent: the plan provisions nothing, not even that directory."""
    configured = os.environ.get("RESTOREDRILL_SANDBOX_DIR")
    root = (
        Path(configured) if configured else Path(tempfile.gettempdir()) / "restoredrill-sandboxes"
    )
    while not root.exists() and root != root.parent:
        root = root.parent
    return root


def free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def space_checks(base_bytes: int, wal_bytes: int) -> list[PreflightCheck]:
    """A warning (not a failure: sizes are estimates) when the sandbox root has less free
    space than the base backup plus the WAL range."""
    root = planned_root()
    free = free_bytes(root)
    needed = base_bytes + wal_bytes
    if free is None or free >= needed:
        return []
    return [
        PreflightCheck(
            name="disk space",
            status=CheckStatus.WARNING,
            detail=f"sandbox directory {root} has {_size(free)} free; the restore needs about "
            f"{_size(needed)} (base backup {_size(base_bytes)} + WAL {_size(wal_bytes)})",
        )
    ]


def is_no_space(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if NO_SPACE in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def disk_full(directory: Path, needed: int | None, during: str) -> SandboxDiskFull:
    free = free_bytes(directory)
    need = f"needed about {_size(needed)}" if needed else "needed more space"
    have = f"{_size(free)} free" if free is not None else "free space unknown"
    return SandboxDiskFull(
        f"sandbox directory {directory} is full ({NO_SPACE} during {during}): {need}, {have}"
    )


@contextlib.contextmanager
def disk_full_as_infrastructure(
    directory: Path, needed: int | None, during: str, log: Callable[[], str] | None = None
) -> Iterator[None]:
    """Turn any failure caused by a full disk (tar, copies, the server's own writes, a
    restore_command that could not write a segment) into SandboxDiskFull (exit 3) that
    names the directory, what was needed and what was free."""
    try:
        yield
    except Interrupted:
        raise
    except (RestoreDrillError, OSError) as exc:
        if str(exc).startswith("sandbox directory "):
            raise  # already said in full by an inner phase
        if is_no_space(exc) or (log is not None and NO_SPACE in log()):
            raise disk_full(directory, needed, during) from exc
        raise
