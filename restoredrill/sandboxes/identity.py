"""What identifies a sandbox's own server process, so nothing else is ever signalled.

A pid alone is not an identity: after a reboot or pid reuse the number in a stale pid file
or label can belong to anyone, a production server included. When a sandbox starts its
server it records the pid, the process's start time (psutil ``create_time``) and its data
directory; a process is the sandbox's server only when all three still hold.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from restoredrill.models import Frozen

# create_time is boot time + start ticks; the kernel's boot time can wobble by a second
# between reads. A reused pid within that second would still have to name our data directory.
START_TOLERANCE = 1.0


class ServerIdentity(Frozen):
    pid: int
    create_time: float
    datadir: str


def identify(pid: int, datadir: Path) -> ServerIdentity | None:
    """The identity of the process ``pid`` just started on ``datadir`` (None: already gone)."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return None
    return ServerIdentity(pid=pid, create_time=started, datadir=str(datadir))


def mismatch(identity: ServerIdentity, datadir: Path) -> str | None:
    """None when ``identity.pid`` is still the server of ``datadir``; otherwise why not, as a
    phrase ("pid 123 no longer exists", "pid 123 started at another time", ...)."""
    pid = identity.pid
    if _real(identity.datadir) != _real(str(datadir)):
        return f"the recorded data directory {identity.datadir} is not this sandbox's"
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return f"pid {pid} no longer exists"
        if abs(proc.create_time() - identity.create_time) > START_TOLERANCE:
            return f"pid {pid} is a different process (it started at another time)"
        if not _uses_datadir(proc, _real(str(datadir))):
            return f"pid {pid} is not running on {datadir}"
    except psutil.NoSuchProcess:
        return f"pid {pid} no longer exists"
    except psutil.Error as exc:  # access denied: unknown is not a match
        return f"pid {pid} cannot be inspected ({type(exc).__name__})"
    return None


def _uses_datadir(proc: psutil.Process, datadir: str) -> bool:
    """The process names ``datadir`` on its command line (postgres -D, mariadbd --datadir=),
    runs in it (postgres chdirs there), or holds a file below it open."""
    for arg in proc.cmdline():
        value = arg.split("=", 1)[1] if arg.startswith("--datadir=") else arg
        if value and _real(value) == datadir:
            return True
    try:
        if _real(proc.cwd()) == datadir:
            return True
        return any(_real(f.path).startswith(datadir + os.sep) for f in proc.open_files())
    except psutil.AccessDenied:
        return False


def _real(path: str) -> str:
    return os.path.realpath(path)
