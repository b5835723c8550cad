"""`restoredrill sandbox list|gc|rm`: find and remove leftovers of killed runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.console import out
from restoredrill.cli.documents import emit_list
from restoredrill.cli.lazy import QuietCommand, sub_app
from restoredrill.cli.options import JsonOpt
from restoredrill.errors import ConfigError
from restoredrill.report.terminal import render_sandboxes
from restoredrill.sandboxes import gc
from restoredrill.sandboxes.labels import SandboxState, list_sandboxes, sandbox_root

app = sub_app("Throwaway instances: list them, remove leftovers.")

RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        help="Sandbox root to look in (default: $RESTOREDRILL_SANDBOX_DIR or the temp dir's "
        "restoredrill-sandboxes). Nothing outside it is touched.",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be removed and stopped; change nothing.")
]


def _root(root: Path | None) -> Path:
    if root is None:
        return sandbox_root()
    if not root.is_dir():
        raise ConfigError(f"--root {root}: not a directory")
    return root


@app.command("list", cls=QuietCommand)
def list_command(root: RootOpt = None, json_output: JsonOpt = False) -> None:
    """Local sandboxes on this machine, with whether their owner still runs."""
    states = list_sandboxes(_root(root))
    if json_output:
        _dump(states)
    else:
        render_sandboxes(out, states, "Sandboxes")
        _notes(states, dry_run=True, leaving=False)


@app.command("gc", cls=QuietCommand)
def gc_command(
    include_kept: Annotated[
        bool, typer.Option("--all", help="Also remove sandboxes kept with --keep.")
    ] = False,
    root: RootOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Stop and delete sandboxes whose restoredrill process is gone.

    A server is stopped only if it is still the process the sandbox started (pid, start
    time, data directory)."""
    from restoredrill.sandboxes.docker import collect_containers

    where = _root(root)
    verb = "would remove" if dry_run else "removed"
    # containers first: they hold the directories
    for container in collect_containers(include_kept, where, dry_run):
        typer.echo(f"{verb} container {container['container']}", err=True)
    removed = gc.collect_garbage(include_kept=include_kept, root=where, dry_run=dry_run)
    _report(removed, dry_run, json_output)


@app.command("rm", cls=QuietCommand)
def rm_command(
    sandbox_id: Annotated[str, typer.Argument(metavar="ID", help="A sandbox id (see list).")],
    force: Annotated[
        bool, typer.Option("--force", help="Even if its restoredrill process still runs.")
    ] = False,
    root: RootOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Remove one sandbox: stop its server, delete its directory and container.

    The server is stopped only if it is still the process the sandbox started."""
    from restoredrill.sandboxes.docker import collect_containers

    where = _root(root)
    state = gc.find(sandbox_id, where)
    if state.label.backend == "docker" and (force or not state.owner_alive):
        verb = "would remove" if dry_run else "removed"
        for container in collect_containers(True, where, dry_run, only=sandbox_id):
            typer.echo(f"{verb} container {container['container']}", err=True)
    removed = gc.remove_one(sandbox_id, where, force=force, dry_run=dry_run)
    _report([removed], dry_run, json_output)


def _report(states: list[SandboxState], dry_run: bool, json_output: bool) -> None:
    if json_output:
        _dump(states)
    else:
        render_sandboxes(out, states, "Would remove" if dry_run else "Removed")
    _notes(states, dry_run, leaving=True)


def _notes(states: list[SandboxState], dry_run: bool, leaving: bool) -> None:
    """One line per server stopped, and per process left alone because it is not ours."""
    for s in states:
        if leaving and s.server_pid is not None:
            verb = "would stop" if dry_run else "stopped"
            typer.echo(f"{verb} server pid {s.server_pid} of sandbox {s.label.id}", err=True)
        if s.server_note:
            tail = ""
            if leaving and dry_run:
                tail = ", would be left running; directory would be removed"
            elif leaving:
                tail = ", left running; directory removed"
            typer.echo(f"sandbox {s.label.id}: {s.server_note}: not its server{tail}", err=True)


def _dump(states: list[SandboxState]) -> None:
    emit_list("restoredrill-sandboxes/1", "sandboxes", states)
