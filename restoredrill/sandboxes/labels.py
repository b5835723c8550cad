"""On-disk labels of local sandboxes, so `restoredrill sandbox list|gc|rm` finds leftovers.

A label records who owns the sandbox (pid and start time of the restoredrill process) and,
once its server runs, what identifies that server (identity.ServerIdentity). Only a process
matching that identity is ever signalled; a pid file alone is never trusted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from pydantic import AwareDatetime

from restoredrill.levers import lever_off
from restoredrill.models import Frozen
from restoredrill.sandboxes.identity import START_TOLERANCE, ServerIdentity, mismatch

LABEL_FILE = "restoredrill-sandbox.json"


class SandboxLabel(Frozen):
    id: str
    engine: str
    backend: str
    purpose: str
    created_at: AwareDatetime
    owner_pid: int
    owner_host: str
    port: int | None = None
    keep: bool = False
    owner_started: float | None = None  # create_time of owner_pid: a reused pid is not the owner
    server: ServerIdentity | None = None  # recorded when the server process starts


class SandboxState(Frozen):
    label: SandboxLabel
    path: str
    owner_alive: bool
    server_pid: int | None  # only a process matching the label's recorded server identity
    server_note: str | None = None  # a live pid that is NOT this sandbox's server, and why

    @property
    def orphaned(self) -> bool:
        return not self.owner_alive and not self.label.keep


def sandbox_root() -> Path:
    """Directory holding every local sandbox (RESTOREDRILL_SANDBOX_DIR overrides)."""
    configured = os.environ.get("RESTOREDRILL_SANDBOX_DIR")
    root = (
        Path(configured) if configured else Path(tempfile.gettempdir()) / "restoredrill-sandboxes"
    )
    root.mkdir(parents=True, exist_ok=True)
    # Server users must be able to traverse into their own sandbox below this directory.
    if root.stat().st_uid == os.geteuid():
        root.chmod(0o711)
    return root


def new_label(engine: str, backend: str, purpose: str, port: int | None) -> SandboxLabel:
    stamp = datetime.now(UTC)
    ident = f"{engine}-{stamp:%Y%m%d%H%M%S}-{os.getpid()}-{os.urandom(3).hex()}"
    return SandboxLabel(
        id=ident,
        engine=engine,
        backend=backend,
        purpose=purpose,
        created_at=stamp,
        owner_pid=os.getpid(),
        owner_host=socket.gethostname(),
        port=port,
        owner_started=_create_time(os.getpid()),
    )


def write_label(directory: Path, label: SandboxLabel) -> None:
    tmp = directory / (LABEL_FILE + ".tmp")
    tmp.write_text(label.model_dump_json(indent=2))
    tmp.replace(directory / LABEL_FILE)


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def _gone(pid: int) -> bool:
    return not _pid_alive(pid) or _is_zombie(pid)


def owner_alive(label: SandboxLabel) -> bool:
    if label.owner_host != socket.gethostname() or not _pid_alive(label.owner_pid):
        return False
    if label.owner_started is None:  # labels written before owners were identified
        return True
    started = _create_time(label.owner_pid)
    return started is None or abs(started - label.owner_started) <= START_TOLERANCE


def _pid_file(sandbox_dir: Path, engine: str) -> Path:
    if engine in ("mariadb", "mysql"):
        return sandbox_dir / "socket" / "mysqld.pid"
    return sandbox_dir / "data" / "postmaster.pid"


def _pid_from_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def server_status(sandbox_dir: Path, label: SandboxLabel) -> tuple[int | None, str | None]:
    """(pid of the sandbox's running server, or None; a note when a live process was found
    that must not be signalled). Docker servers live in another pid namespace: never."""
    if label.backend == "docker":
        return None, None
    if label.server is None:
        pid = _pid_from_file(_pid_file(sandbox_dir, label.engine))
        if pid is not None and not _gone(pid):
            return None, f"pid {pid} in its pid file was never recorded as its server"
        return None, None
    if _gone(label.server.pid):
        return None, None
    why = mismatch(label.server, sandbox_dir / "data")
    return (label.server.pid, None) if why is None else (None, why)


def identified_pid(sandbox_dir: Path) -> int | None:
    """The running server of the sandbox in ``sandbox_dir``, if its identity still holds."""
    label = read_label(sandbox_dir)
    return None if label is None else server_status(sandbox_dir, label)[0]


def postmaster_pid(datadir: Path) -> int | None:
    """The sandbox server of ``datadir`` (a sandbox's data/), identity checked."""
    return identified_pid(datadir.parent)


def mysqld_pid(sandbox_dir: Path) -> int | None:
    """The MariaDB/MySQL server of ``sandbox_dir``, identity checked."""
    return identified_pid(sandbox_dir)


def read_label(sandbox_dir: Path) -> SandboxLabel | None:
    try:
        return SandboxLabel.model_validate(json.loads((sandbox_dir / LABEL_FILE).read_text()))
    except (ValueError, OSError):
        return None


def list_sandboxes(root: Path | None = None) -> list[SandboxState]:
    """Labelled sandbox directories directly inside ``root`` (never through a symlink)."""
    root = root or sandbox_root()
    states: list[SandboxState] = []
    for entry in sorted(root.iterdir()):
        if entry.is_symlink() or not entry.is_dir():
            continue
        label = read_label(entry)
        if label is None:
            continue
        pid, note = server_status(entry, label)
        states.append(
            SandboxState(
                label=label,
                path=str(entry),
                owner_alive=owner_alive(label),
                server_pid=pid,
                server_note=note,
            )
        )
    return states


def stop_server(pid: int, sig: int = signal.SIGQUIT, timeout: float = 30.0) -> None:
    """Immediate shutdown (SIGQUIT for postgres, SIGKILL for mariadbd): the instance is
    throwaway, nothing needs flushing. Callers pass only an identity-checked pid; psutil
    refuses to signal the pid again if it has since been reused."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                return
            time.sleep(0.05)
        proc.kill()
    except psutil.Error:  # gone (or reused) meanwhile: nothing of ours left to stop
        return


REMOVING = ".removing-"


def remove_sandbox_dir(path: Path, detach: bool = False) -> None:
    """Delete a sandbox directory. With ``detach`` it is renamed away at once (its name is
    free, `sandbox list` no longer shows it) and deleted by a detached ``rm``, so a restore
    does not wait for a data directory's worth of unlinks before it exits (a second or two
    per GB); `sandbox gc` finishes what an interrupted ``rm`` left."""
    if not detach or lever_off("detach"):
        shutil.rmtree(path, ignore_errors=True)
        return
    trash = path.with_name(REMOVING + path.name)
    try:
        path.rename(trash)
        (trash / LABEL_FILE).unlink(missing_ok=True)
        subprocess.Popen(
            ["rm", "-rf", "--one-file-system", "--", str(trash)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives us, and a Ctrl-C meant for us is not its
        )
    except OSError:
        shutil.rmtree(trash if trash.exists() else path, ignore_errors=True)


def remove_abandoned(root: Path) -> list[Path]:
    """Directories a detached removal left behind in ``root`` (its ``rm`` was killed)."""
    found = [p for p in root.glob(REMOVING + "*") if p.is_dir() and not p.is_symlink()]
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found
