"""On-disk labels of local sandboxes, so `restoredrill sandbox list|gc` finds leftovers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import AwareDatetime

from restoredrill.models import Frozen

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


class SandboxState(Frozen):
    label: SandboxLabel
    path: str
    owner_alive: bool
    server_pid: int | None

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
    )


def write_label(directory: Path, label: SandboxLabel) -> None:
    tmp = directory / (LABEL_FILE + ".tmp")
    tmp.write_text(label.model_dump_json(indent=2))
    tmp.replace(directory / LABEL_FILE)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def postmaster_pid(datadir: Path) -> int | None:
    """PID from postmaster.pid, only if that process is still a postgres server."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"postgres" in cmdline or b"postmaster" in cmdline else None


def mysqld_pid(sandbox_dir: Path) -> int | None:
    """PID from a MariaDB/MySQL sandbox's pid file, only if that process is still its server."""
    try:
        pid = int((sandbox_dir / "socket" / "mysqld.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if b"mariadbd" in cmdline or b"mysqld" in cmdline else None


def server_pid(sandbox_dir: Path, engine: str) -> int | None:
    if engine in ("mariadb", "mysql"):
        return mysqld_pid(sandbox_dir)
    return postmaster_pid(sandbox_dir / "data")


def list_sandboxes(root: Path | None = None) -> list[SandboxState]:
    root = root or sandbox_root()
    states: list[SandboxState] = []
    for entry in sorted(root.iterdir()):
        label_path = entry / LABEL_FILE
        if not label_path.is_file():
            continue
        try:
            label = SandboxLabel.model_validate(json.loads(label_path.read_text()))
        except (ValueError, OSError):
            continue
        same_host = label.owner_host == socket.gethostname()
        states.append(
            SandboxState(
                label=label,
                path=str(entry),
                owner_alive=same_host and _pid_alive(label.owner_pid),
                # a container's server pid lives in another pid namespace: never signal it
                server_pid=None if label.backend == "docker" else server_pid(entry, label.engine),
            )
        )
    return states


def stop_server(pid: int, sig: int = signal.SIGQUIT, timeout: float = 30.0) -> None:
    """Immediate shutdown (SIGQUIT for postgres, SIGKILL for mariadbd): the instance is
    throwaway, nothing needs flushing."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid) or _is_zombie(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def remove_sandbox_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def collect_garbage(include_kept: bool = False, root: Path | None = None) -> list[SandboxState]:
    """Stop and delete sandboxes whose owning process is gone; return what was removed."""
    removed: list[SandboxState] = []
    for state in list_sandboxes(root):
        if state.owner_alive or (state.label.keep and not include_kept):
            continue
        if state.server_pid is not None:
            mysql = state.label.engine in ("mariadb", "mysql")
            stop_server(state.server_pid, signal.SIGKILL if mysql else signal.SIGQUIT)
        remove_sandbox_dir(Path(state.path))
        removed.append(state)
    return removed
