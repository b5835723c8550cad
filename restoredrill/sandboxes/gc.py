"""Removing leftover sandboxes (`sandbox gc`, `sandbox rm ID`), inside one sandbox root.

A leftover's server is stopped only when the process still matches the identity recorded
when the sandbox started it (pid, start time, data directory). Anything else behind a
recorded or pid-file pid (a reused pid, a production server after a reboot) is left
running; the sandbox counts as dead and its directory is removed all the same.
"""

from __future__ import annotations

import signal
from pathlib import Path

from restoredrill.errors import ConfigError
from restoredrill.sandboxes import labels
from restoredrill.sandboxes.labels import SandboxState


def leftovers(include_kept: bool = False, root: Path | None = None) -> list[SandboxState]:
    """Sandboxes whose owning restoredrill process is gone (kept ones only if asked)."""
    return [
        state
        for state in labels.list_sandboxes(root)
        if not state.owner_alive and (include_kept or not state.label.keep)
    ]


def remove(state: SandboxState) -> SandboxState:
    """Stop the sandbox's server (identity re-checked right now) and delete its directory;
    returns the state as found at that moment (server_note says what was left alone)."""
    path = Path(state.path)
    label = labels.read_label(path) or state.label
    pid, note = labels.server_status(path, label)
    if pid is not None:
        mysql = label.engine in ("mariadb", "mysql")
        labels.stop_server(pid, signal.SIGKILL if mysql else signal.SIGQUIT)
    labels.remove_sandbox_dir(path)
    return state.model_copy(update={"server_pid": pid, "server_note": note})


def collect_garbage(
    include_kept: bool = False, root: Path | None = None, dry_run: bool = False
) -> list[SandboxState]:
    """Stop and delete sandboxes whose owner is gone; return them (with ``dry_run``, only
    say which, and which server pids would be stopped, changing nothing)."""
    found = leftovers(include_kept, root)
    if not dry_run:
        labels.remove_abandoned(root or labels.sandbox_root())
    return found if dry_run else [remove(state) for state in found]


def find(ident: str, root: Path | None = None) -> SandboxState:
    root = root or labels.sandbox_root()
    for state in labels.list_sandboxes(root):
        if state.label.id == ident:
            return state
    raise ConfigError(f"no sandbox {ident!r} in {root} (see `restoredrill sandbox list`)")


def remove_one(
    ident: str, root: Path | None = None, force: bool = False, dry_run: bool = False
) -> SandboxState:
    """Remove exactly the sandbox ``ident``; one whose restoredrill process still runs only
    with ``force`` (it would be pulled from under a running restore)."""
    state = find(ident, root)
    if state.owner_alive and not force:
        raise ConfigError(
            f"sandbox {ident!r} belongs to restoredrill process {state.label.owner_pid}, which "
            f"is still running; stop it first, or pass --force"
        )
    return state if dry_run else remove(state)
